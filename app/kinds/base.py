"""What every kind of copy shares: the common brief fields and the `ContentKind` record.

A kind is one module in this package (its brief, its parser, its checks, its token budget)
registered in `app.kinds.KINDS`; the routes, the CLI subcommands and the OpenAPI document are
built from that list.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.checks import CheckResult
from app.config import Language
from app.fields import (
    Identifier,
    Phrase,
    PositiveWholeNumber,
    Seed,
    ShortText,
    WholeNumber,
)

# Fields that steer the call, not the copy; the rest of a brief is what the template sees.
OPTION_FIELDS = frozenset({"n", "model", "temperature", "max_tokens", "seed"})


class Brief(BaseModel):
    """Fields every kind of copy accepts."""

    # Strict: JSON `false` is not a seed and `3.5` is not a word count; unknown fields are errors.
    model_config = ConfigDict(extra="forbid", strict=True)

    language: Language = Field("en", description="Language of the copy: `en` or `zh`.")
    tone: ShortText | None = Field(None, description="Voice, e.g. 'playful', '专业可信'.")
    audience: ShortText | None = Field(None, description="Who reads it.")
    keywords: Annotated[list[Phrase], Field(max_length=10)] = Field(
        default_factory=list, description="Words the copy should contain (up to 10)."
    )
    n: WholeNumber = Field(
        1, ge=1, description="How many variants to write (capped by the server)."
    )
    model: Identifier | None = Field(
        None, description="Model alias from `GET /v1/models`; default: the server's default."
    )
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: PositiveWholeNumber | None = Field(
        None, description="Token budget per variant (capped by the server)."
    )
    seed: Seed | None = Field(None, description="Seed for reproducible sampling, if supported.")

    def template_input(self) -> dict[str, Any]:
        """The brief minus call options: what the template and the history see."""
        return self.model_dump(mode="json", exclude=set(OPTION_FIELDS))


class WordRangeBrief(Brief):
    """A brief with a word range; each kind sets its own bounds and defaults."""

    min_words: WholeNumber
    max_words: WholeNumber

    @model_validator(mode="after")
    def _word_range(self) -> "WordRangeBrief":
        if self.min_words > self.max_words:
            raise ValueError("min_words must not exceed max_words")
        return self


B = TypeVar("B", bound=Brief)


@dataclass(frozen=True)
class ContentKind(Generic[B]):
    """Everything that differs between kinds of copy."""

    name: str
    path: str
    title: str
    description: str
    brief_model: type[B]
    parse: Callable[[str], str]
    check: Callable[[str, B], list[CheckResult]]
    default_max_tokens: int
    # Where a base model (completion mode) should stop: it would go on writing examples.
    completion_stop: tuple[str, ...] = ("<brief>", "\n\n\n")

    @property
    def slug(self) -> str:
        """The kind as URLs and the CLI name it: `ad-slogans`."""
        return self.path.removeprefix("/v1/")

    def template_name(self, language: str) -> str:
        """The template that writes this kind in a language."""
        return f"{self.name}/{language}"

    def max_tokens(self, brief: Brief) -> int:
        """The token budget of one model call: the brief's, else this kind's default."""
        return brief.max_tokens or self.default_max_tokens
