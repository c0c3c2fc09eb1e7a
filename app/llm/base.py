"""The protocol every LLM provider implements, and the types it speaks."""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
ErrorKind = Literal["timeout", "rate_limited", "connection", "upstream", "bad_request", "busy"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True)
class Constraints:
    """What the output must respect, for a provider that can enforce it while sampling.

    A provider that cannot ignores it: the checks and replacement attempts still apply."""

    # One line of at most `max_chars` characters (Unicode code points, as the checks count).
    one_line: bool = False
    max_chars: int | None = None
    # Terms that must never appear, in the copy's language.
    banned: tuple[str, ...] = ()
    # Tokens to write before the model may end (prose with a minimum length).
    min_tokens: int | None = None
    # Characters no token may start with: markup and placeholder brackets in prose.
    no_marks: str = ""
    # Structured copy: the answer is one JSON object of this schema (serialised, so the
    # constraints stay hashable and a compiled grammar can be cached by it).
    json_schema: str | None = None


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling options a provider must honour (None means the provider's default)."""

    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    constraints: Constraints = Constraints()


@dataclass(frozen=True)
class Completion:
    """A finished completion with its usage."""

    text: str
    finish_reason: str | None
    input_tokens: int
    output_tokens: int
    resolved_model: str | None
    raw: dict[str, Any] | None = None
    served_by: str | None = None  # the fallback alias, when not the alias that was asked


@dataclass(frozen=True)
class StreamDelta:
    """A piece of text as it arrives."""

    text: str


StreamEvent = StreamDelta | Completion


@dataclass
class LLMError(Exception):
    """A provider failed; `kind` decides the API status and whether a retry may help."""

    kind: ErrorKind
    message: str
    status_code: int | None = None
    retry_after_s: float | None = None
    attempts: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@runtime_checkable
class LLMClient(Protocol):
    """An async model: complete a prompt, or stream it delta by delta ending in a Completion."""

    alias: str
    provider: str

    async def complete(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> Completion: ...

    def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[StreamEvent]: ...

    def describe(self) -> dict[str, Any]:
        """Public facts for `GET /v1/models` (never secrets)."""
        ...

    async def aclose(self) -> None: ...
