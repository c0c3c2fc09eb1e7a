"""What a generation tells its caller: events while it runs, and what it ended in (the stored
row, the first model error, and the API error a failure answers with)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.errors import (
    AppError,
    ServiceUnavailable,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from app.llm.base import LLMError
from app.models import Generation

_API_ERRORS: dict[str, type[AppError]] = {
    "timeout": UpstreamTimeout,
    "rate_limited": UpstreamRateLimited,
    "busy": ServiceUnavailable,
}


def api_error(error: LLMError | None, generation: Generation | None) -> AppError:
    """The API error for a model failure, naming the stored generation if there is one."""
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
class Started:
    """The generation that will answer is known: a new one about to call the model, or a
    stored one (`replayed`) answering an Idempotency-Key again."""

    id: str
    kind: str
    model: str
    n: int
    replayed: bool = False


@dataclass(frozen=True)
class Delta:
    """A piece of streamed text of one attempt."""

    attempt: int
    text: str


Event = Started | Delta
# Receives a generation's events as they happen; given one, the model calls stream.
EventSink = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class Generated:
    """A generation and the first model error it met; `replayed` for an Idempotency-Key replay."""

    generation: Generation
    error: LLMError | None = None
    replayed: bool = False

    def failure(self) -> AppError | None:
        """The API error to answer with when no variant was written; None otherwise."""
        if self.generation.status != "failed":
            return None
        return api_error(self.error, self.generation)

    def started(self) -> Started:
        """The `Started` event of a stored generation (for a replay)."""
        generation = self.generation
        return Started(
            id=generation.id,
            kind=generation.kind,
            model=generation.model_alias,
            n=int(generation.options_json.get("n", 1)),
            replayed=self.replayed,
        )
