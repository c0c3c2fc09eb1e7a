"""The generation service: the one entry point every generation goes through.

The JSON route, the SSE route and the CLI (and any future worker) call `generate`: it plans
the order, answers an Idempotency-Key replay, reserves the caller's tokens, leads or joins
the single flight on the key, calls the model (streaming to an event sink when given one),
checks and ranks the variants, stores the generation durably and settles the tokens spent.
"""

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.db import Database
from app.errors import AppError
from app.experiments.score_service import Scorers
from app.experiments.scoring import LinearScore, Subject
from app.generation import idempotency
from app.generation.harvest import Harvest, harvest
from app.generation.outcome import EventSink, Generated, Started, api_error
from app.generation.plan import Order, Plan, make_plan
from app.generation.store import GenerationStore
from app.knowledge.bundle import Knowledge
from app.knowledge.service import load_knowledge
from app.llm.registry import ModelRegistry
from app.models import Generation, Variant, utcnow
from app.prompting import PromptLibrary
from app.search import search_text


@dataclass(frozen=True)
class GenerationContext:
    """What a generation needs from the running service."""

    store: GenerationStore
    database: Database
    registry: ModelRegistry
    prompts: PromptLibrary
    settings: Settings
    scorers: Scorers


class TokenReservation(Protocol):
    """Tokens set aside for a generation before it runs."""

    async def settle(self, spent: int) -> None:
        """Record what the generation really spent (once; later calls do nothing)."""
        ...


class TokenBudget(Protocol):
    """The caller's token budget: sets tokens aside, or refuses with an AppError."""

    async def reserve(self, tokens: int) -> TokenReservation | None:
        """Set aside `tokens`; None when the caller is not limited."""
        ...


async def generate(
    context: GenerationContext,
    order: Order,
    *,
    tokens: TokenBudget | None = None,
    on_event: EventSink | None = None,
    cancelled: asyncio.Event | None = None,
) -> Generated:
    """Write `n` variants of a kind of copy and store the generation, even a failed one.

    Raises an AppError for what is refused before any model call (caps, model, budget,
    an Idempotency-Key used with another body). `on_event` receives `Started` once the
    generation that will answer is known, then the streamed `Delta`s."""
    knowledge = await _knowledge(context, order)
    plan = make_plan(
        order,
        registry=context.registry,
        prompts=context.prompts,
        settings=context.settings,
        knowledge=knowledge,
    )
    key = order.idempotency_key
    if key is None:
        return await _run(context, plan, tokens, on_event, cancelled)
    async with idempotency.single_flight(
        context.database, order.workspace_id, key, plan.request_hash
    ) as flight:
        if flight.replay is not None:
            # A replay spends nothing, so it is answered even when the budget is gone.
            if on_event is not None:
                await on_event(flight.replay.started())
            return flight.replay
        # Requests waiting on this key answer with this generation once it is durable.
        generated = await _run(context, plan, tokens, on_event, cancelled)
        flight.done(generated)
        return generated


# Generations of one per-audience request that run at once: each runs its own n calls
# concurrently, and more would fill the local model's queue (8 by default).
PER_AUDIENCE_AT_ONCE = 2


async def generate_per_audience(
    context: GenerationContext,
    order: Order,
    audience_ids: Sequence[str],
    *,
    tokens: TokenBudget | None = None,
    cancelled: asyncio.Event | None = None,
) -> list[Generated | AppError]:
    """One generation of `order`'s brief for each audience, in their order: each stored on
    its own, with its own prompt (the audience's needs, pains and words) and provenance.

    Every audience is checked first: an unknown or archived one refuses the whole request
    before any model runs. After that each generation answers alone, with its generation or
    the error it met (a failed model call, the token budget spent). With an Idempotency-Key,
    each audience's generation has a key of its own derived from it, so a replay answers
    the same generations."""
    async with context.database.read_sessions() as session:
        for audience_id in audience_ids:
            try:
                await load_knowledge(
                    session,
                    order.workspace_id,
                    brand_id=None,
                    product_id=None,
                    audience_id=audience_id,
                )
            except AppError as exc:
                exc.param = "audience_ids"
                raise
    at_once = asyncio.Semaphore(PER_AUDIENCE_AT_ONCE)

    async def one(audience_id: str) -> Generated | AppError:
        sub_order = replace(
            order,
            brief=order.brief.model_copy(update={"audience_id": audience_id}),
            idempotency_key=_audience_key(order.idempotency_key, audience_id),
        )
        async with at_once:
            try:
                return await generate(context, sub_order, tokens=tokens, cancelled=cancelled)
            except AppError as exc:
                return exc

    return list(await asyncio.gather(*(one(a) for a in audience_ids)))


def _audience_key(key: str | None, audience_id: str) -> str | None:
    """An audience's own Idempotency-Key, derived from the request's (and as short)."""
    if key is None:
        return None
    return "audience:" + hashlib.sha256(f"{key}\0{audience_id}".encode()).hexdigest()


async def _knowledge(context: GenerationContext, order: Order) -> Knowledge:
    """The brand kit, product and audience the brief names (no database read when none)."""
    brief = order.brief
    if brief.brand_id is None and brief.product_id is None and brief.audience_id is None:
        return Knowledge()
    async with context.database.read_sessions() as session:
        return await load_knowledge(
            session,
            order.workspace_id,
            brand_id=brief.brand_id,
            product_id=brief.product_id,
            audience_id=brief.audience_id,
        )


async def _run(
    context: GenerationContext,
    plan: Plan,
    tokens: TokenBudget | None,
    on_event: EventSink | None,
    cancelled: asyncio.Event | None,
) -> Generated:
    reservation = await tokens.reserve(plan.token_ceiling) if tokens is not None else None
    try:
        if on_event is not None:
            brief = plan.brief
            await on_event(Started(plan.id, plan.kind.name, plan.route.alias, brief.n))
        scorer = await context.scorers.get(plan.order.workspace_id)
        generated = await _write(plan, cancelled or asyncio.Event(), on_event, scorer)
        if reservation is not None:
            # Charged even if a concurrent twin's row wins below: these model calls were made.
            spent = generated.generation.input_tokens + generated.generation.output_tokens
            await reservation.settle(spent)
        return await _save(context, generated)
    finally:
        if reservation is not None:
            # Nothing was spent if no model ran (a full queue, a failure before the call);
            # a no-op when settled above, as a reservation settles once.
            await reservation.settle(0)


async def _write(
    plan: Plan,
    cancelled: asyncio.Event,
    on_event: EventSink | None,
    scorer: tuple[LinearScore, bool] | None,
) -> Generated:
    """Call the model for the plan and build the generation row (not yet stored)."""
    started = time.monotonic()
    result = await harvest(plan, cancelled=cancelled, on_event=on_event)
    latency_ms = int((time.monotonic() - started) * 1000)
    if not result.completions and result.errors and all(e.kind == "busy" for e in result.errors):
        # The model never ran (its queue was full): nothing to store, the client retries.
        raise api_error(result.errors[0], None)
    if scorer is not None:
        _predict(plan, result.usable + result.rejected, scorer[0])
    generation = _generation_row(plan, result, latency_ms, by_prediction=bool(scorer and scorer[1]))
    return Generated(generation, result.errors[0] if result.errors else None)


def _predict(plan: Plan, variants: list[Variant], score: LinearScore) -> None:
    """Each variant's predicted rating by the workspace's score model."""
    subjects = [
        Subject(
            kind=plan.kind.name,
            language=plan.brief.language,
            template_version=plan.prompt.template_version,
            model=plan.route.alias,
            brand_id=plan.knowledge.brand_id,
            audience_id=plan.knowledge.audience_id,
            text=variant.text,
            checks=variant.checks_json,
            check_score=variant.score,
            keywords=plan.brief.keywords,
        )
        for variant in variants
    ]
    for variant, predicted in zip(variants, score.predict(subjects), strict=True):
        variant.predicted_score = predicted


def _generation_row(
    plan: Plan, result: Harvest, latency_ms: int, *, by_prediction: bool
) -> Generation:
    brief, route = plan.brief, plan.route
    status, error_type, error_message = result.outcome(brief.n)
    now = utcnow()
    variants = result.ranked(brief.n, by_prediction=by_prediction)
    for variant in variants:
        # Stored with Core INSERTs (app/generation/store.py): every column is set here.
        variant.generation_id, variant.created_at = plan.id, now
    return Generation(
        id=plan.id,
        workspace_id=plan.order.workspace_id,
        kind=plan.kind.name,
        language=brief.language,
        input_json=plan.input,
        template_name=plan.prompt.template_name,
        template_version=plan.prompt.template_version,
        system_prompt=plan.messages[0].content if len(plan.messages) > 1 else "",
        prompt=plan.messages[-1].content,
        model_alias=route.alias,
        provider=route.client.provider,
        resolved_model=next(
            (c.resolved_model for c in result.completions if c.resolved_model), None
        ),
        fallback_alias=next((c.served_by for c in result.completions if c.served_by), None),
        options_json={
            **brief.model_dump(mode="json", include={"n", "temperature", "max_tokens", "seed"}),
            "attempts": result.attempts,
            "prompt_mode": route.prompt_mode,
            "feedback": result.with_feedback,
        },
        status=status,
        error_type=error_type,
        error_message=error_message,
        input_tokens=sum(c.input_tokens for c in result.completions),
        output_tokens=sum(c.output_tokens for c in result.completions),
        latency_ms=latency_ms,
        idempotency_key=plan.order.idempotency_key,
        request_hash=plan.request_hash,
        search_text=search_text(plan.input, (v.text for v in variants)),
        brand_id=plan.knowledge.brand_id,
        brand_version=plan.knowledge.brand_version,
        product_id=plan.knowledge.product_id,
        audience_id=plan.knowledge.audience_id,
        created_at=now,
        updated_at=now,
        variants=variants,
    )


async def _save(context: GenerationContext, generated: Generated) -> Generated:
    """Store the generation durably; a concurrent twin with its key wins instead."""
    try:
        await context.store.save(generated.generation)
    except IntegrityError:
        # Another process stored this Idempotency-Key first: nothing of this request was
        # written, and the stored generation is the answer.
        generation = generated.generation
        existing = await idempotency.find(
            context.database, generation.workspace_id, generation.idempotency_key
        )
        if existing is None:
            raise
        return idempotency.replay(existing, generation.request_hash or "")
    return generated
