"""Calling the model for variants, in rounds, until enough of them pass their hard checks.

Small models ramble, so each round asks for the variants still missing (with fresh seeds),
keeps the ones that pass the hard checks and differ from those already kept, and stops at
`n` usable variants, when the attempt budget is spent, or when the client has gone.
"""

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from app.checks import score
from app.content.kinds import ContentKind
from app.content.parsing import strip_controls
from app.content.schemas import GenerationOptionsIn
from app.ids import new_id
from app.llm.base import Completion, GenerationOptions, LLMClient, LLMError, Message, StreamDelta
from app.models import Variant

_NOT_WORDS = re.compile(r"[\W_]+")
logger = logging.getLogger("copyforge.harvest")

# Called with (attempt, text) for each piece of streamed text.
DeltaSink = Callable[[int, str], Awaitable[None]]


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
        """Keep a variant as usable, rejected, or drop it as empty or a duplicate."""
        self.completions.append(completion)
        key = _NOT_WORDS.sub("", variant.text.casefold())
        if not key or key in self._seen:
            return
        self._seen.add(key)
        (self.usable if is_usable(variant) else self.rejected).append(variant)

    def ranked(self, n: int) -> list[Variant]:
        """Up to n variants, usable ones first, each group best score first, indexed."""
        by_score = sorted(self.usable, key=lambda v: -(v.score or 0)) + sorted(
            self.rejected, key=lambda v: -(v.score or 0)
        )
        variants = by_score[:n]
        for index, variant in enumerate(variants):
            variant.index = index
        return variants


def call_options(
    kind: ContentKind, request: GenerationOptionsIn, attempt: int, *, completion_mode: bool
) -> GenerationOptions:
    """Sampling options for one attempt; a request seed makes every attempt reproducible."""
    return GenerationOptions(
        max_tokens=kind.max_tokens(request),
        temperature=request.temperature,
        seed=None if request.seed is None else request.seed + attempt,
        stop=kind.completion_stop if completion_mode else (),
    )


def attempt_budget(request: GenerationOptionsIn, extra_attempts: int) -> int:
    """The most model calls one generation may make: n, plus the replacements."""
    return request.n + extra_attempts


def is_usable(variant: Variant) -> bool:
    """True when the variant passed every hard check."""
    return all(c["passed"] for c in variant.checks_json if c["hard"])


def build_variant(kind: ContentKind, request: GenerationOptionsIn, raw: str) -> Variant:
    """Parse raw model output into a checked variant."""
    text = kind.parse(strip_controls(raw))
    checks = kind.check(text, request)
    return Variant(
        id=new_id(),
        text=text,
        checks_json=[c.as_json() for c in checks],
        score=score(checks),
        ratings=[],
    )


async def _call(
    client: LLMClient,
    messages: Sequence[Message],
    options: GenerationOptions,
    attempt: int,
    on_delta: DeltaSink | None,
) -> Completion | LLMError:
    parts: list[str] = []
    try:
        if on_delta is None:
            return await client.complete(messages, options)
        async for event in client.stream(messages, options):
            if isinstance(event, StreamDelta):
                parts.append(event.text)
                # The stream shows no control characters, as the stored text has none.
                if shown := strip_controls(event.text):
                    await on_delta(attempt, shown)
            else:
                return event
        return LLMError("upstream", "The model's stream ended without a final answer.")
    except LLMError as error:
        return error
    except Exception as exc:  # a provider bug must not lose the generation
        logger.exception("model call failed unexpectedly")
        return LLMError("upstream", f"The model call failed: {type(exc).__name__}")
    except asyncio.CancelledError:
        # Cut short (the client left): keep what was streamed so far as an unfinished answer
        # (nothing, for a plain call; _round drops empty cuts).
        raise _Cut(Completion("".join(parts), "cancelled", 0, len(parts), None)) from None


class _Cut(Exception):
    def __init__(self, completion: Completion) -> None:
        self.completion = completion


async def _round(
    client: LLMClient,
    messages: Sequence[Message],
    options: Sequence[tuple[int, GenerationOptions]],
    limit: asyncio.Semaphore,
    cancelled: asyncio.Event,
    on_delta: DeltaSink | None,
) -> list[Completion | LLMError]:
    """Run calls concurrently until all finish or `cancelled` is set; return what they gave."""

    async def bounded(attempt: int, option: GenerationOptions) -> Completion | LLMError:
        async with limit:
            return await _call(client, messages, option, attempt, on_delta)

    tasks = [asyncio.create_task(bounded(a, o)) for a, o in options]
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
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    results: list[Completion | LLMError] = []
    for outcome in outcomes:
        if isinstance(outcome, _Cut):
            if outcome.completion.text:
                results.append(outcome.completion)
        elif isinstance(outcome, Completion | LLMError):
            results.append(outcome)
    return results


async def harvest(
    client: LLMClient,
    messages: Sequence[Message],
    kind: ContentKind,
    request: GenerationOptionsIn,
    *,
    extra_attempts: int,
    max_parallel_calls: int,
    completion_mode: bool,
    cancelled: asyncio.Event,
    on_delta: DeltaSink | None = None,
) -> Harvest:
    """Call the model in rounds until `n` distinct usable variants or the budget is spent."""
    budget = attempt_budget(request, extra_attempts)
    limit = asyncio.Semaphore(max_parallel_calls)
    result = Harvest()
    while len(result.usable) < request.n and result.attempts < budget:
        wanted = min(request.n - len(result.usable), budget - result.attempts)
        attempts = range(result.attempts, result.attempts + wanted)
        result.attempts += wanted
        options = [
            (a, call_options(kind, request, a, completion_mode=completion_mode)) for a in attempts
        ]
        finished = await _round(client, messages, options, limit, cancelled, on_delta)
        result.cancelled = cancelled.is_set()
        for item in finished:
            if isinstance(item, LLMError):
                result.errors.append(item)
            else:
                result.add(build_variant(kind, request, item.text), item)
        if result.cancelled or not any(isinstance(i, Completion) for i in finished):
            # A client that left, or a model that only fails: more attempts won't help.
            break
    return result


def verdict(result: Harvest, n: int) -> tuple[str, str | None, str | None]:
    """Status, error type and error message of a harvest."""
    variants = len(result.usable) + len(result.rejected)
    if result.cancelled:
        status = "partial" if variants else "failed"
        return status, "client_disconnected", "The client disconnected before the copy was done."
    if len(result.usable) >= n:
        return "succeeded", None, None
    if not result.completions:
        error = result.errors[0] if result.errors else LLMError("upstream", "No model answer.")
        return "failed", error.kind, error.message
    if not variants:
        return (
            "failed",
            "empty_output",
            f"The model answered {len(result.completions)} times without usable text.",
        )
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
