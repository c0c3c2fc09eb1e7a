"""The generation service: brief -> prompt -> model calls -> checked variants -> stored row."""

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.content import idempotency
from app.content.harvest import DeltaSink, Harvest, attempt_budget, harvest, verdict
from app.content.kinds import ContentKind
from app.content.outcome import Generated, api_error
from app.content.schemas import GenerationOptionsIn
from app.content.store import GenerationStore
from app.db import Database
from app.errors import (
    ValidationFailed,
)
from app.ids import new_id
from app.llm.base import LLMClient, Message
from app.llm.registry import ModelRegistry
from app.models import DEFAULT_WORKSPACE, Generation, utcnow
from app.privacy import redact
from app.prompting import PromptLibrary, RenderedPrompt
from app.search import search_text


@dataclass(frozen=True)
class GenerationContext:
    """What a generation needs from the running service."""

    store: GenerationStore
    database: Database
    registry: ModelRegistry
    prompts: PromptLibrary
    settings: Settings


@dataclass(frozen=True)
class Plan:
    """A validated request turned into a model, a prompt and an id, before any model call."""

    id: str
    kind: ContentKind
    request: GenerationOptionsIn
    alias: str
    client: LLMClient
    completion_mode: bool
    brief: dict[str, object]
    prompt: RenderedPrompt
    messages: list[Message]
    workspace_id: str
    idempotency_key: str | None
    request_hash: str
    token_ceiling: int


class TokenReservation(Protocol):
    """Tokens set aside for a generation before it runs (by the caller's budget)."""

    async def settle(self, spent: int) -> None:
        """Record what the generation really spent."""
        ...


def estimated_tokens(text: str) -> int:
    """A generous token count for a prompt: one per three UTF-8 bytes.

    English runs about four characters a token and a Han character (three bytes) about one."""
    return -(-len(text.encode()) // 3)


def messages_for(prompt: RenderedPrompt, *, completion_mode: bool) -> list[Message]:
    """Chat messages, or for a base model one text of instructions, worked examples and brief."""
    if completion_mode:
        parts = [prompt.system, prompt.examples, prompt.user]
        return [Message("user", "\n\n".join(p for p in parts if p))]
    return [Message("system", prompt.system), Message("user", prompt.user)]


def request_hash(kind: ContentKind, request: GenerationOptionsIn) -> str:
    """A fingerprint of what was asked, so a replayed Idempotency-Key can be checked."""
    canonical = json.dumps(
        [kind.name, request.model_dump(mode="json")], sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def plan(
    context: GenerationContext,
    *,
    kind: ContentKind,
    request: GenerationOptionsIn,
    workspace_id: str = DEFAULT_WORKSPACE,
    idempotency_key: str | None = None,
) -> Plan:
    """Check caps, pick the model and render the prompt; raise before anything is spent."""
    settings, registry = context.settings, context.registry
    if request.n > settings.max_n:
        raise ValidationFailed(f"n may be at most {settings.max_n}.", param="n")
    if request.max_tokens is not None and request.max_tokens > settings.max_tokens_cap:
        raise ValidationFailed(
            f"max_tokens may be at most {settings.max_tokens_cap}.", param="max_tokens"
        )
    alias = registry.resolve_alias(request.model, request.language)
    completion_mode = registry.prompt_mode(alias) == "completion"
    brief = kind.brief(request)
    if registry.redacts(alias):
        # Personal data never leaves the machine, and what is stored is what was sent.
        brief = redact(brief)
    prompt = context.prompts.render(kind.template_name(request.language), brief)
    if len(prompt.system) + len(prompt.user) > settings.max_prompt_chars:
        raise ValidationFailed(
            f"The brief makes a prompt over {settings.max_prompt_chars} characters; shorten it.",
            param="body",
        )
    messages = messages_for(prompt, completion_mode=completion_mode)
    # The most a generation can spend: every call it may make (n, plus the extra attempts
    # that replace variants failing hard checks), each sending the prompt and writing up to
    # max_tokens.
    calls = attempt_budget(request, settings.extra_attempts)
    per_call = sum(estimated_tokens(m.content) for m in messages) + kind.max_tokens(request)
    return Plan(
        id=new_id(),
        kind=kind,
        request=request,
        alias=alias,
        client=registry.client(alias),
        completion_mode=completion_mode,
        brief=brief,
        prompt=prompt,
        messages=messages,
        workspace_id=workspace_id,
        idempotency_key=idempotency_key,
        request_hash=request_hash(kind, request),
        token_ceiling=calls * per_call,
    )


async def write(
    plan: Plan,
    settings: Settings,
    *,
    cancelled: asyncio.Event | None = None,
    on_delta: DeltaSink | None = None,
) -> Generated:
    """Call the model for the plan and build the generation row (not yet stored)."""
    started = time.monotonic()
    result = await harvest(
        plan.client,
        plan.messages,
        plan.kind,
        plan.request,
        extra_attempts=settings.extra_attempts,
        max_parallel_calls=settings.max_parallel_calls,
        completion_mode=plan.completion_mode,
        cancelled=cancelled or asyncio.Event(),
        on_delta=on_delta,
    )
    latency_ms = int((time.monotonic() - started) * 1000)
    if not result.completions and result.errors and all(e.kind == "busy" for e in result.errors):
        # The model never ran (its queue was full): nothing to store, the client retries.
        raise api_error(result.errors[0], None)
    return Generated(_record(plan, result, latency_ms), result.errors[0] if result.errors else None)


def _record(plan: Plan, result: Harvest, latency_ms: int) -> Generation:
    status, error_type, error_message = verdict(result, plan.request.n)
    request = plan.request
    now = utcnow()
    variants = result.ranked(request.n)
    for variant in variants:
        # Stored with Core INSERTs (app/content/store.py): every column is set here.
        variant.generation_id, variant.created_at = plan.id, now
    generation = Generation(
        id=plan.id,
        workspace_id=plan.workspace_id,
        kind=plan.kind.name,
        language=request.language,
        input_json=plan.brief,
        template_name=plan.prompt.template_name,
        template_version=plan.prompt.template_version,
        system_prompt=plan.messages[0].content if len(plan.messages) > 1 else "",
        prompt=plan.messages[-1].content,
        model_alias=plan.alias,
        provider=plan.client.provider,
        resolved_model=next(
            (c.resolved_model for c in result.completions if c.resolved_model), None
        ),
        fallback_alias=next((c.served_by for c in result.completions if c.served_by), None),
        options_json={
            **request.model_dump(mode="json", include={"n", "temperature", "max_tokens", "seed"}),
            "attempts": result.attempts,
            "prompt_mode": "completion" if plan.completion_mode else "chat",
        },
        status=status,
        error_type=error_type,
        error_message=error_message,
        input_tokens=sum(c.input_tokens for c in result.completions),
        output_tokens=sum(c.output_tokens for c in result.completions),
        latency_ms=latency_ms,
        idempotency_key=plan.idempotency_key,
        request_hash=plan.request_hash,
        search_text=search_text(plan.brief, (v.text for v in variants)),
        brand_id=None,
        created_at=now,
        updated_at=now,
        variants=variants,
    )
    return generation


async def store(context: GenerationContext, generated: Generated) -> Generated:
    """Store the generation durably; a concurrent twin with its key wins instead."""
    try:
        await context.store.save(generated.generation)
    except IntegrityError:
        # Another request (another process, perhaps) stored this Idempotency-Key first:
        # nothing of this one was written, and the stored generation is the answer.
        plan_key = generated.generation.idempotency_key
        existing = await idempotency.find(
            context.database, generated.generation.workspace_id, plan_key
        )
        if existing is None:
            raise
        return idempotency.replay(existing, generated.generation.request_hash or "")
    return generated


async def _write_and_store(
    context: GenerationContext,
    plan: Plan,
    reservation: TokenReservation | None,
    cancelled: asyncio.Event | None,
    on_delta: DeltaSink | None,
) -> Generated:
    generated = await write(plan, context.settings, cancelled=cancelled, on_delta=on_delta)
    if reservation is not None:
        # Charged even if a concurrent twin's row wins below: these model calls were made.
        await reservation.settle(
            generated.generation.input_tokens + generated.generation.output_tokens
        )
    return await store(context, generated)


async def generate(
    context: GenerationContext,
    plan: Plan,
    *,
    reservation: TokenReservation | None = None,
    cancelled: asyncio.Event | None = None,
    on_delta: DeltaSink | None = None,
) -> Generated:
    """Write `request.n` variants of a kind of copy and store the generation, even a failed one.

    With an Idempotency-Key, a replay returns the first generation and creates nothing. The
    reservation (tokens the caller set aside) is settled to what the model calls spent."""
    try:
        if plan.idempotency_key is None:
            return await _write_and_store(context, plan, reservation, cancelled, on_delta)
        async with idempotency.single_flight(
            context.database, plan.workspace_id, plan.idempotency_key, plan.request_hash
        ) as flight:
            if flight.replay is not None:
                return flight.replay
            # Requests waiting on this key answer with this generation once it is durable.
            generated = await _write_and_store(context, plan, reservation, cancelled, on_delta)
            flight.done(generated)
            return generated
    finally:
        if reservation is not None:
            # Nothing was spent if no model ran (a replay, a refusal, a full queue); a no-op
            # when the model ran, as a reservation settles once.
            await reservation.settle(0)
