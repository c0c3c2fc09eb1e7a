"""The generation service: brief -> prompt -> model calls -> checked variants -> stored row.

Small models ramble, so variants are written in rounds: each round asks for the variants
still missing (with fresh seeds), keeps the ones that pass the hard checks and differ from
those already kept, and stops at `n` usable variants or when the attempt budget is spent.
"""

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.checks import score
from app.config import Settings
from app.content.kinds import ContentKind
from app.content.schemas import GenerationOptionsIn
from app.errors import (
    AppError,
    ServiceUnavailable,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    ValidationFailed,
)
from app.llm.base import Completion, GenerationOptions, LLMClient, LLMError, Message
from app.llm.registry import ModelRegistry
from app.models import DEFAULT_WORKSPACE, Generation, Variant, utcnow
from app.prompting import PromptLibrary, RenderedPrompt

_NOT_WORDS = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class GenerationContext:
    """What a generation needs from the running service."""

    session: AsyncSession
    registry: ModelRegistry
    prompts: PromptLibrary
    settings: Settings


@dataclass
class Harvest:
    """Everything the model calls of one generation produced."""

    usable: list[Variant] = field(default_factory=list)
    rejected: list[Variant] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    errors: list[LLMError] = field(default_factory=list)
    attempts: int = 0
    cancelled: bool = False
    _seen: set[str] = field(default_factory=set)

    def add(self, variant: Variant, completion: Completion) -> None:
        """Keep a variant as usable, rejected, or drop it as a duplicate."""
        self.completions.append(completion)
        key = _NOT_WORDS.sub("", variant.text.casefold())
        if key in self._seen:
            return
        self._seen.add(key)
        (self.usable if is_usable(variant) else self.rejected).append(variant)


def _check_caps(request: GenerationOptionsIn, settings: Settings) -> None:
    if request.n > settings.max_n:
        raise ValidationFailed(f"n may be at most {settings.max_n}.", param="n")
    if request.max_tokens is not None and request.max_tokens > settings.max_tokens_cap:
        raise ValidationFailed(
            f"max_tokens may be at most {settings.max_tokens_cap}.", param="max_tokens"
        )


def call_options(
    kind: ContentKind, request: GenerationOptionsIn, attempt: int, *, completion_mode: bool
) -> GenerationOptions:
    """Sampling options for one attempt; a request seed makes every attempt reproducible."""
    return GenerationOptions(
        max_tokens=request.max_tokens or kind.default_max_tokens,
        temperature=request.temperature,
        seed=None if request.seed is None else request.seed + attempt,
        stop=kind.completion_stop if completion_mode else (),
    )


def messages_for(prompt: RenderedPrompt, *, completion_mode: bool) -> list[Message]:
    """Chat messages, or for a base model one text of instructions, worked examples and brief."""
    if completion_mode:
        parts = [prompt.system, prompt.examples, prompt.user]
        return [Message("user", "\n\n".join(p for p in parts if p))]
    return [Message("system", prompt.system), Message("user", prompt.user)]


def is_usable(variant: Variant) -> bool:
    """True when the variant passed every hard check."""
    return all(c["passed"] for c in variant.checks_json if c["hard"])


def build_variant(kind: ContentKind, request: GenerationOptionsIn, raw: str) -> Variant:
    """Parse raw model output into a checked variant."""
    # Model output is untrusted: NUL cannot be stored in PostgreSQL text and means nothing.
    text = kind.parse(raw).replace("\x00", "")
    checks = kind.check(text, request)
    return Variant(
        text=text, checks_json=[c.as_json() for c in checks], score=score(checks), ratings=[]
    )


async def _round(
    client: LLMClient,
    messages: Sequence[Message],
    options: Sequence[GenerationOptions],
    limit: asyncio.Semaphore,
    cancelled: asyncio.Event,
) -> tuple[list[Completion | LLMError], bool]:
    """Run calls concurrently until all finish or `cancelled` is set; return what finished."""

    async def call(option: GenerationOptions) -> Completion | LLMError:
        async with limit:
            try:
                return await client.complete(messages, option)
            except LLMError as error:
                return error

    tasks = [asyncio.create_task(call(o)) for o in options]
    stop = asyncio.create_task(cancelled.wait())
    try:
        pending: set[asyncio.Task[object]] = set(tasks)
        while pending and not cancelled.is_set():
            _, pending = await asyncio.wait(pending | {stop}, return_when=asyncio.FIRST_COMPLETED)
            pending.discard(stop)
    finally:
        stop.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finished = [t.result() for t in tasks if t.done() and not t.cancelled()]
    return finished, cancelled.is_set()


async def harvest(
    context: GenerationContext,
    client: LLMClient,
    messages: Sequence[Message],
    kind: ContentKind,
    request: GenerationOptionsIn,
    *,
    completion_mode: bool,
    cancelled: asyncio.Event,
) -> Harvest:
    """Call the model in rounds until `n` distinct usable variants or the budget is spent."""
    budget = request.n + context.settings.extra_attempts
    limit = asyncio.Semaphore(context.settings.max_parallel_calls)
    result = Harvest()
    while len(result.usable) < request.n and result.attempts < budget:
        wanted = min(request.n - len(result.usable), budget - result.attempts)
        attempts = range(result.attempts, result.attempts + wanted)
        result.attempts += wanted
        options = [
            call_options(kind, request, a, completion_mode=completion_mode) for a in attempts
        ]
        finished, result.cancelled = await _round(client, messages, options, limit, cancelled)
        for item in finished:
            if isinstance(item, LLMError):
                result.errors.append(item)
            else:
                result.add(build_variant(kind, request, item.text), item)
        if result.cancelled or not any(isinstance(i, Completion) for i in finished):
            # A client that left, or a model that only fails: more attempts won't help.
            break
    return result


def _verdict(result: Harvest, n: int) -> tuple[str, str | None, str | None]:
    """Status, error type and error message of a harvest."""
    variants = len(result.usable) + len(result.rejected)
    if result.cancelled:
        status = "partial" if variants else "failed"
        return status, "client_disconnected", "The client disconnected before the copy was done."
    if len(result.usable) >= n:
        return "succeeded", None, None
    if not result.completions:
        error = result.errors[0]
        return "failed", error.kind, error.message
    failed_checks = sorted(
        {c["name"] for v in result.rejected for c in v.checks_json if c["hard"] and not c["passed"]}
    )
    if result.errors and not failed_checks:
        error = result.errors[0]
        return "partial", error.kind, error.message
    message = (
        f"{len(result.usable)} of {n} variants passed the hard checks after "
        f"{result.attempts} attempts"
    )
    if failed_checks:
        message += f"; failed: {', '.join(failed_checks)}"
    return "partial", "checks_failed", message + "."


async def generate(
    context: GenerationContext,
    *,
    kind: ContentKind,
    request: GenerationOptionsIn,
    workspace_id: str = DEFAULT_WORKSPACE,
    idempotency_key: str | None = None,
    cancelled: asyncio.Event | None = None,
) -> "Generated":
    """Write `request.n` variants of a kind of copy and store the generation, even a failed one."""
    settings, registry = context.settings, context.registry
    _check_caps(request, settings)
    alias = registry.resolve_alias(request.model, request.language)
    client = registry.client(alias)
    completion_mode = registry.prompt_mode(alias) == "completion"
    brief = kind.brief(request)
    prompt = context.prompts.render(kind.template_name(request.language), brief)
    messages = messages_for(prompt, completion_mode=completion_mode)

    started = time.monotonic()
    result = await harvest(
        context,
        client,
        messages,
        kind,
        request,
        completion_mode=completion_mode,
        cancelled=cancelled or asyncio.Event(),
    )
    latency_ms = int((time.monotonic() - started) * 1000)
    if not result.completions and result.errors and all(e.kind == "busy" for e in result.errors):
        # The model never ran (its queue was full): nothing to store, the client retries.
        raise _api_error(result.errors[0], None)

    result.usable.sort(key=lambda v: -(v.score or 0))
    result.rejected.sort(key=lambda v: -(v.score or 0))
    variants = (result.usable + result.rejected)[: request.n]
    for index, variant in enumerate(variants):
        variant.index = index
    status, error_type, error_message = _verdict(result, request.n)
    now = utcnow()
    generation = Generation(
        workspace_id=workspace_id,
        kind=kind.name,
        language=request.language,
        input_json=brief,
        template_name=prompt.template_name,
        template_version=prompt.template_version,
        system_prompt=messages[0].content if len(messages) > 1 else "",
        prompt=messages[-1].content,
        model_alias=alias,
        provider=client.provider,
        resolved_model=next(
            (c.resolved_model for c in result.completions if c.resolved_model), None
        ),
        fallback_alias=next((c.served_by for c in result.completions if c.served_by), None),
        options_json={
            **request.model_dump(mode="json", include={"n", "temperature", "max_tokens", "seed"}),
            "attempts": result.attempts,
            "prompt_mode": "completion" if completion_mode else "chat",
        },
        status=status,
        error_type=error_type,
        error_message=error_message,
        input_tokens=sum(c.input_tokens for c in result.completions),
        output_tokens=sum(c.output_tokens for c in result.completions),
        latency_ms=latency_ms,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
        variants=variants,
    )
    context.session.add(generation)
    await context.session.flush()
    return Generated(generation, result.errors[0] if result.errors else None)


_API_ERRORS: dict[str, type[AppError]] = {
    "timeout": UpstreamTimeout,
    "rate_limited": UpstreamRateLimited,
    "busy": ServiceUnavailable,
}


def _api_error(error: LLMError | None, generation: Generation | None) -> AppError:
    kind = generation.error_type if generation is not None else (error.kind if error else "")
    error_class = _API_ERRORS.get(kind or "", UpstreamError)
    headers = {}
    if error is not None and error.retry_after_s is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after_s)))
    message = (generation.error_message if generation else None) or (
        error.message if error else "The model failed."
    )
    extra = {"generation_id": generation.id} if generation is not None else {}
    return error_class(message, headers=headers, extra=extra)


@dataclass(frozen=True)
class Generated:
    """A stored generation and the first model error it met, if any."""

    generation: Generation
    error: LLMError | None

    def failure(self) -> AppError | None:
        """The API error to answer with when no variant was written, naming the stored row."""
        if self.generation.status != "failed":
            return None
        return _api_error(self.error, self.generation)
