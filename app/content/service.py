"""The generation service: brief -> prompt -> model call(s) -> checked variants -> stored row."""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Outcome:
    """What one model call gave: a completion or the error that stopped it."""

    completion: Completion | None = None
    error: LLMError | None = None


def _check_caps(request: GenerationOptionsIn, settings: Settings) -> None:
    if request.n > settings.max_n:
        raise ValidationFailed(f"n may be at most {settings.max_n}.", param="n")
    if request.max_tokens is not None and request.max_tokens > settings.max_tokens_cap:
        raise ValidationFailed(
            f"max_tokens may be at most {settings.max_tokens_cap}.", param="max_tokens"
        )


def call_options(kind: ContentKind, request: GenerationOptionsIn, index: int) -> GenerationOptions:
    """Sampling options for the variant at `index` (each variant gets its own seed)."""
    return GenerationOptions(
        max_tokens=request.max_tokens or kind.default_max_tokens,
        temperature=request.temperature,
        seed=None if request.seed is None else request.seed + index,
    )


def messages_for(prompt: RenderedPrompt) -> list[Message]:
    """The chat messages a rendered prompt becomes."""
    return [Message("system", prompt.system), Message("user", prompt.user)]


async def _call(
    client: LLMClient, messages: Sequence[Message], options: GenerationOptions
) -> Outcome:
    try:
        return Outcome(completion=await client.complete(messages, options))
    except LLMError as error:
        return Outcome(error=error)


def _clean(text: str) -> str:
    # Model output is untrusted: NUL cannot be stored in PostgreSQL text and means nothing.
    return text.replace("\x00", "")


def build_variants(
    kind: ContentKind, request: GenerationOptionsIn, completions: Sequence[Completion]
) -> list[Variant]:
    """Parse and check each completion, then rank: usable variants first, then by score."""
    variants = []
    for completion in completions:
        text = _clean(kind.parse(completion.text))
        checks = kind.check(text, request)
        variants.append(
            Variant(
                text=text,
                checks_json=[c.as_json() for c in checks],
                score=score(checks),
                ratings=[],
            )
        )
    variants.sort(key=lambda v: (not is_usable(v), -(v.score or 0)))
    for index, variant in enumerate(variants):
        variant.index = index
    return variants


def is_usable(variant: Variant) -> bool:
    """True when the variant passed every hard check."""
    return all(c["passed"] for c in variant.checks_json if c["hard"])


@dataclass(frozen=True)
class GenerationContext:
    """What a generation needs from the running service."""

    session: AsyncSession
    registry: ModelRegistry
    prompts: PromptLibrary
    settings: Settings


async def generate(
    context: GenerationContext,
    *,
    kind: ContentKind,
    request: GenerationOptionsIn,
    workspace_id: str = DEFAULT_WORKSPACE,
    idempotency_key: str | None = None,
) -> "Generated":
    """Write `request.n` variants of a kind of copy and store the generation, even a failed one."""
    settings, registry = context.settings, context.registry
    _check_caps(request, settings)
    alias = registry.resolve_alias(request.model, request.language)
    client = registry.client(alias)
    brief = kind.brief(request)
    prompt = context.prompts.render(kind.template_name(request.language), brief)
    messages = messages_for(prompt)

    started = time.monotonic()
    limit = asyncio.Semaphore(settings.max_parallel_calls)

    async def bounded(index: int) -> Outcome:
        async with limit:
            return await _call(client, messages, call_options(kind, request, index))

    outcomes = await asyncio.gather(*(bounded(i) for i in range(request.n)))
    latency_ms = int((time.monotonic() - started) * 1000)

    completions = [o.completion for o in outcomes if o.completion is not None]
    errors = [o.error for o in outcomes if o.error is not None]
    variants = build_variants(kind, request, completions)

    if not completions:
        status = "failed"
    elif errors or len(completions) < request.n:
        status = "partial"
    else:
        status = "succeeded"
    first_error = errors[0] if errors else None
    now = utcnow()
    generation = Generation(
        workspace_id=workspace_id,
        kind=kind.name,
        language=request.language,
        input_json=brief,
        template_name=prompt.template_name,
        template_version=prompt.template_version,
        system_prompt=prompt.system,
        prompt=prompt.user,
        model_alias=alias,
        provider=client.provider,
        resolved_model=next((c.resolved_model for c in completions if c.resolved_model), None),
        options_json=request.model_dump(
            mode="json", include={"n", "temperature", "max_tokens", "seed"}
        ),
        status=status,
        error_type=first_error.kind if first_error else None,
        error_message=first_error.message if first_error else None,
        input_tokens=sum(c.input_tokens for c in completions),
        output_tokens=sum(c.output_tokens for c in completions),
        latency_ms=latency_ms,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
        variants=variants,
    )
    context.session.add(generation)
    await context.session.flush()
    return Generated(generation, first_error)


_FAILURE_ERRORS: dict[str, type[AppError]] = {
    "timeout": UpstreamTimeout,
    "rate_limited": UpstreamRateLimited,
    "busy": ServiceUnavailable,
}


@dataclass(frozen=True)
class Generated:
    """A stored generation and the first model error it met, if any."""

    generation: Generation
    error: LLMError | None

    def failure(self) -> AppError | None:
        """The API error to answer with when no variant was written, naming the stored row."""
        if self.generation.status != "failed":
            return None
        error_class = _FAILURE_ERRORS.get(self.generation.error_type or "", UpstreamError)
        headers = {}
        if self.error is not None and self.error.retry_after_s is not None:
            headers["Retry-After"] = str(max(1, round(self.error.retry_after_s)))
        return error_class(
            self.generation.error_message or "The model failed.",
            headers=headers,
            extra={"generation_id": self.generation.id},
        )
