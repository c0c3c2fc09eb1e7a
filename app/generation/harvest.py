"""Calling the model for variants, in rounds, until enough of them pass their hard checks.

Small models ramble, so each round asks for the variants still missing (with fresh seeds),
keeps the ones that pass the hard checks and differ from those already kept, and stops at
`n` usable variants, when the attempt budget is spent, or when the client has gone.
"""

import asyncio
import difflib
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from app import metrics
from app.checks import CheckResult, score
from app.checks.policy import Policy, policy_checks
from app.checks.text import tokens, word_count
from app.generation.outcome import Delta, EventSink
from app.generation.plan import Plan
from app.ids import new_id
from app.kinds.base import Brief, ContentKind
from app.kinds.parsing import strip_controls
from app.kinds.structured import content, read_values
from app.llm.base import (
    Completion,
    Constraints,
    ErrorKind,
    GenerationOptions,
    LLMClient,
    LLMError,
    Message,
    StreamDelta,
)
from app.models import GenerationStatus, Variant

_NOT_WORDS = re.compile(r"[\W_]+")
# Variants this alike (difflib's ratio of their words, Han characters one each) are one
# variant to a reader.
NEAR_DUPLICATE = 0.9
# Longer texts are compared exactly only: the ratio costs the product of the lengths.
_NEAR_MAX_WORDS = 120
logger = logging.getLogger("copyforge.harvest")
NO_POLICY = Policy()

# Why a generation is not `succeeded`: a model error, or one of the harvest's own reasons.
ErrorType = ErrorKind | Literal["client_disconnected", "empty_output", "checks_failed"]


@dataclass
class Harvest:
    """Everything the model calls of one generation produced."""

    usable: list[Variant] = field(default_factory=list)
    rejected: list[Variant] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)
    errors: list[LLMError] = field(default_factory=list)
    attempts: int = 0
    cancelled: bool = False
    # The time budget, when it stopped the attempts before their number did.
    out_of_time: float | None = None
    # Whether a later round told the model why an earlier variant failed.
    with_feedback: bool = False
    _seen: set[str] = field(default_factory=set)
    _words: list[list[str]] = field(default_factory=list)

    def add(self, variant: Variant, completion: Completion) -> None:
        """Keep a variant as usable, rejected, or drop it as empty or a duplicate."""
        self.completions.append(completion)
        key = _NOT_WORDS.sub("", variant.text.casefold())
        words = tokens(variant.text)
        if not key or key in self._seen or any(_near(words, seen) for seen in self._words):
            return
        self._seen.add(key)
        self._words.append(words)
        (self.usable if is_usable(variant) else self.rejected).append(variant)

    def ranked(self, n: int, *, by_prediction: bool = False) -> list[Variant]:
        """Up to n variants, usable ones first, each group best first: by check score, or by
        the learned score where the workspace's model ranks better than the check score."""

        def best(variant: Variant) -> float:
            value = variant.predicted_score if by_prediction else variant.score
            return -(value or 0)

        by_score = sorted(self.usable, key=best) + sorted(self.rejected, key=best)
        variants = by_score[:n]
        for index, variant in enumerate(variants):
            variant.index = index
        return variants

    def outcome(self, n: int) -> tuple[GenerationStatus, ErrorType | None, str | None]:
        """Status, error type and error message of the generation these calls make."""
        variants = len(self.usable) + len(self.rejected)
        if self.cancelled:
            status: GenerationStatus = "partial" if variants else "failed"
            return (
                status,
                "client_disconnected",
                "The client disconnected before the copy was done.",
            )
        if len(self.usable) >= n:
            return "succeeded", None, None
        if not self.completions:
            error = self.errors[0] if self.errors else LLMError("upstream", "No model answer.")
            return "failed", error.kind, error.message
        if not variants:
            return (
                "failed",
                "empty_output",
                f"The model answered {len(self.completions)} times without usable text.",
            )
        failed_checks = sorted(
            {
                c["name"]
                for v in self.rejected
                for c in v.checks_json
                if c["hard"] and not c["passed"]
            }
        )
        if self.errors and not failed_checks:
            error = self.errors[0]
            return "partial", error.kind, error.message
        message = (
            f"{len(self.usable)} of {n} variants passed the hard checks after "
            f"{self.attempts} attempts"
        )
        if failed_checks:
            message += f"; failed: {', '.join(failed_checks)}"
        if self.out_of_time is not None:
            message += f"; no further attempt fitted the {self.out_of_time:g} s time budget"
        return "partial", "checks_failed", message + "."


def call_options(plan: Plan, attempt: int) -> GenerationOptions:
    """Sampling options for one attempt; a brief's seed makes every attempt reproducible."""
    brief = plan.brief
    return GenerationOptions(
        max_tokens=plan.kind.max_tokens(brief),
        temperature=brief.temperature,
        seed=None if brief.seed is None else brief.seed + attempt,
        stop=plan.kind.completion_stop if plan.completion_mode else (),
        constraints=with_policy_bans(plan.kind.decode_constraints(brief), plan.policy),
    )


def _near(a: list[str], b: list[str]) -> bool:
    if max(len(a), len(b)) > _NEAR_MAX_WORDS:
        return False
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= NEAR_DUPLICATE and matcher.ratio() >= NEAR_DUPLICATE


def is_usable(variant: Variant) -> bool:
    """True when the variant passed every hard check."""
    return all(c["passed"] for c in variant.checks_json if c["hard"])


def with_policy_bans(constraints: Constraints, policy: Policy) -> Constraints:
    """The kind's decode-time bans plus the brand's banned terms, less the absolutes the
    product's approved claims make ("全球首款" with its proof)."""
    approved = " ".join(policy.approved).casefold()
    banned = [t for t in constraints.banned if t.casefold() not in approved]
    banned += [t for t in policy.banned if t not in banned]
    if tuple(banned) == constraints.banned:
        return constraints
    return replace(constraints, banned=tuple(banned))


def build_variant(
    kind: ContentKind[Any], brief: Brief, raw: str, policy: Policy = NO_POLICY
) -> Variant:
    """Parse raw model output into a checked variant (an empty one when nothing in it is
    copy: the harvest drops those)."""
    if kind.structure is not None:
        return _structured_variant(kind, brief, raw, policy)
    parsed = kind.parse(strip_controls(raw))
    text = kind.fit(parsed, brief)
    checks = kind.check(text, brief) + policy_checks(text, policy)
    # Scored before the trim is recorded: a record of what was done is no check passed.
    quality = score(checks)
    if text != parsed:
        cut = f"cut from {len(parsed)} to {len(text)} characters ({word_count(text)} words)"
        checks.append(CheckResult("trimmed", True, hard=False, detail=cut))
    return _variant(text, None, checks, quality)


def _structured_variant(kind: ContentKind[Any], brief: Brief, raw: str, policy: Policy) -> Variant:
    assert kind.structure is not None
    values, checks = read_values(strip_controls(raw), kind.structure.fields(brief))
    if values is None:
        return _variant("", None, [], None)
    text = kind.structure.render(values, brief)
    # The whole-copy rules read the fields' texts, not the layout (labels, placeholders)
    # the pasted text adds.
    words = content(values)
    checks += kind.structure.check(values, brief) + kind.check(words, brief)
    checks += policy_checks(words, policy)
    return _variant(text, kind.structure.finish(values, brief), checks, score(checks))


def _variant(
    text: str, fields: dict[str, Any] | None, checks: list[CheckResult], quality: float | None
) -> Variant:
    return Variant(
        id=new_id(),
        text=text,
        fields_json=fields,
        checks_json=[c.as_json() for c in checks],
        score=quality,
        predicted_score=None,
        ratings=[],
    )


async def _call(
    client: LLMClient,
    messages: Sequence[Message],
    options: GenerationOptions,
    attempt: int,
    on_event: EventSink | None,
) -> Completion | LLMError:
    parts: list[str] = []
    alias = client.alias
    try:
        if on_event is None:
            return _counted(alias, await client.complete(messages, options))
        async for event in client.stream(messages, options):
            if isinstance(event, StreamDelta):
                parts.append(event.text)
                # The stream shows no control characters, as the stored text has none.
                if shown := strip_controls(event.text):
                    await on_event(Delta(attempt, shown))
            else:
                return _counted(alias, event)
        return _counted(
            alias, LLMError("upstream", "The model's stream ended without a final answer.")
        )
    except LLMError as error:
        return _counted(alias, error)
    except Exception as exc:  # a provider bug must not lose the generation
        logger.exception("model call failed unexpectedly")
        return _counted(alias, LLMError("upstream", f"The model call failed: {type(exc).__name__}"))
    except asyncio.CancelledError:
        # Cut short (the client left): keep what was streamed so far as an unfinished answer
        # (nothing, for a plain call; _round drops empty cuts).
        raise _Cut(Completion("".join(parts), "cancelled", 0, len(parts), None)) from None


def _counted(alias: str, outcome: Completion | LLMError) -> Completion | LLMError:
    """Count a model call's outcome (and its tokens) in the metrics."""
    if isinstance(outcome, LLMError):
        metrics.MODEL_CALLS.labels(alias, outcome.kind).inc()
    else:
        metrics.MODEL_CALLS.labels(alias, "ok").inc()
        metrics.MODEL_TOKENS.labels(alias, "input").inc(outcome.input_tokens)
        metrics.MODEL_TOKENS.labels(alias, "output").inc(outcome.output_tokens)
    return outcome


class _Cut(Exception):
    def __init__(self, completion: Completion) -> None:
        self.completion = completion


async def _round(
    client: LLMClient,
    messages: Sequence[Message],
    options: Sequence[tuple[int, GenerationOptions]],
    limit: asyncio.Semaphore,
    cancelled: asyncio.Event,
    on_event: EventSink | None,
) -> list[Completion | LLMError]:
    """Run calls concurrently until all finish or `cancelled` is set; return what they gave."""

    async def bounded(attempt: int, option: GenerationOptions) -> Completion | LLMError:
        async with limit:
            return await _call(client, messages, option, attempt, on_event)

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
    plan: Plan, *, cancelled: asyncio.Event, on_event: EventSink | None = None
) -> Harvest:
    """Call the model in rounds until `n` distinct usable variants or the budget is spent.

    A round after the first tells a chat model why the last variant failed. No round starts
    that the slowest round so far says would overrun the time budget."""
    n, budget = plan.brief.n, plan.budget
    limit = asyncio.Semaphore(budget.parallel)
    result = Harvest()
    started, slowest_round = time.monotonic(), 0.0
    messages = plan.messages
    while len(result.usable) < n and result.attempts < budget.calls:
        if result.attempts and time.monotonic() - started + slowest_round > budget.seconds:
            result.out_of_time = budget.seconds
            break
        wanted = min(n - len(result.usable), budget.calls - result.attempts)
        attempts = range(result.attempts, result.attempts + wanted)
        result.attempts += wanted
        options = [(a, call_options(plan, a)) for a in attempts]
        round_started = time.monotonic()
        finished = await _round(plan.route.client, messages, options, limit, cancelled, on_event)
        slowest_round = max(slowest_round, time.monotonic() - round_started)
        result.cancelled = cancelled.is_set()
        for item in finished:
            if isinstance(item, LLMError):
                result.errors.append(item)
            else:
                result.add(build_variant(plan.kind, plan.brief, item.text, plan.policy), item)
        if result.cancelled or not any(isinstance(i, Completion) for i in finished):
            # A client that left, or a model that only fails: more attempts won't help.
            break
        if result.rejected and not plan.completion_mode:
            messages = [*plan.messages, *feedback(result.rejected[-1], plan.brief.language)]
            result.with_feedback = True
    return result


def feedback(variant: Variant, language: str) -> list[Message]:
    """The failed variant as the model's answer, and what was wrong with it."""
    failed = [c for c in variant.checks_json if c["hard"] and not c["passed"]]
    reasons = "; ".join(f"{c['name']}: {c['detail']}" if c["detail"] else c["name"] for c in failed)
    structured = variant.fields_json is not None
    if language == "zh":
        only = "只回答 JSON" if structured else "只回答文案本身"
        ask = f"这条不合格（{reasons}）。请重写一条，改正这些问题，{only}。"
    else:
        only = "only the JSON" if structured else "only the copy"
        ask = f"That one fails ({reasons}). Write a new one that fixes this; {only}."
    # A structured answer goes back as the JSON the model wrote, not as the pasted text.
    answer = json.dumps(variant.fields_json, ensure_ascii=False) if structured else variant.text
    return [Message("assistant", answer), Message("user", ask)]
