"""What every kind of copy shares: the common brief fields and the `ContentKind` record.

A kind is one module in this package (its brief, its parser, its checks, its token budget)
registered in `app.kinds.KINDS`; the routes, the CLI subcommands and the OpenAPI document are
built from that list.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from app.checks import CheckResult
from app.checks.ad_law import banned_terms
from app.config import Language
from app.fields import (
    Identifier,
    KnowledgeId,
    Phrase,
    PositiveWholeNumber,
    Seed,
    ShortText,
    WholeNumber,
)
from app.kinds.parsing import trim_to_words
from app.kinds.structured import Structure, json_schema
from app.knowledge.bundle import Knowledge
from app.llm.base import Constraints

# Fields that steer the call, not the copy; the rest of a brief is what the template sees.
OPTION_FIELDS = frozenset(
    {"n", "model", "temperature", "max_tokens", "seed", "brand_id", "product_id", "audience_id"}
)


# A brand kit's, product's or audience's id (from its create or list).
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
    brand_id: KnowledgeId | None = Field(
        None, description="Brand kit (from `POST /v1/brands`): voice, style and term rules."
    )
    product_id: KnowledgeId | None = Field(
        None,
        description="Product (from `POST /v1/products`): fills what the brief leaves out, and "
        "every figure in the copy must be one of its facts. Its brand applies when "
        "`brand_id` is not given.",
    )
    audience_id: KnowledgeId | None = Field(
        None, description="Audience (from `POST /v1/audiences`): who the copy is for."
    )

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


def words_budget(brief: WordRangeBrief) -> int:
    """Tokens for `max_words` words: about 1.5 a word with punctuation and Markdown in
    English, and at most about as many per Han character, plus room to finish."""
    return int(brief.max_words * 1.5) + 32


# Tags, template slots and placeholders ("<brief>", "{{", "[Brand]") never start a token.
PROSE_NO_MARKS = "<>{}[]"


def prose_constraints(brief: WordRangeBrief) -> Constraints:
    """No banned term, no markup, and no end before about `min_words` words (1.3 tokens a
    word)."""
    return Constraints(
        banned=banned_terms(brief.language),
        min_tokens=int(brief.min_words * 1.3),
        # Prose needs no tags or slots: a small model held past its end echoes `<brief>`.
        no_marks=PROSE_NO_MARKS,
    )


def fit_word_range(text: str, brief: WordRangeBrief) -> str:
    """Prose over `max_words` cut at the last sentence within it, when that still meets
    `min_words`."""
    return trim_to_words(text, brief.min_words, brief.max_words)


B = TypeVar("B", bound=Brief)


def only_bans(brief: Brief) -> Constraints:
    """The constraints of any copy: no banned term of its language."""
    return Constraints(banned=banned_terms(brief.language))


def fill_blanks(brief: B, **values: Any) -> B:
    """The brief with the fields it left empty (None, or an empty list) set from `values`
    (those that have one); what the caller wrote always wins."""
    update = {
        name: value
        for name, value in values.items()
        if value not in (None, [], {}) and getattr(brief, name) in (None, [], {})
    }
    return brief.model_copy(update=update) if update else brief


def fill_reader(brief: B, knowledge: Knowledge) -> B:
    """The audience fills the brief's reader, the part every kind shares."""
    return fill_blanks(brief, audience=knowledge.reader())


def unless_product(value: Any, info: ValidationInfo) -> Any:
    """A field validator for brief fields a named product fills instead (declare the field
    with `validate_default=True`): left out, it needs a `product_id`. `product_id` belongs to
    Brief, so it is validated before any field of a kind."""
    if value in (None, []) and info.data.get("product_id") is None:
        raise ValueError("required unless product_id is given")
    return value


def as_is(text: str, brief: Any) -> str:
    """Copy that needs no fitting to its limits."""
    return text


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
    # The most tokens one model call may write for a brief, from the brief's limits, so a
    # slogan never burns a blog post's budget.
    token_budget: Callable[[B], int]
    # What a provider that can enforce it while sampling should enforce.
    constraints: Callable[[B], Constraints] = only_bans
    # Copy over its limits brought within them where that keeps it whole (a text cut at a
    # sentence boundary), applied before the checks.
    fit: Callable[[str, B], str] = as_is
    # The brief with what the named product and audience fill in (fields left out only).
    fill: Callable[[B, Knowledge], B] = fill_reader
    # Where a base model (completion mode) should stop: it would go on writing examples.
    completion_stop: tuple[str, ...] = ("<brief>", "\n\n\n")
    # Copy with fields (title, body, hashtags): the model answers in JSON of their schema,
    # `parse` and `fit` are not used, and `check` sees the text as pasted.
    structure: "Structure[B] | None" = None
    # Kinds written differently per platform or format: each has its own templates
    # (`prompts/<kind>/<variant>.<language>.j2`), chosen by `template_variant`.
    template_variants: tuple[str, ...] = ()
    template_variant: Callable[[B], str] | None = None

    @property
    def slug(self) -> str:
        """The kind as URLs and the CLI name it: `ad-slogans`."""
        return self.path.removeprefix("/v1/")

    def template_name(self, brief: B) -> str:
        """The template that writes this brief."""
        if self.template_variant is None:
            return f"{self.name}/{brief.language}"
        return f"{self.name}/{self.template_variant(brief)}.{brief.language}"

    def template_names(self, languages: tuple[str, ...]) -> list[str]:
        """Every template this kind needs, in these languages."""
        variants = [f"{v}." for v in self.template_variants] or [""]
        return [f"{self.name}/{v}{language}" for v in variants for language in languages]

    def decode_constraints(self, brief: B) -> Constraints:
        """What a provider should enforce while sampling: the kind's constraints, and for
        structured copy the JSON schema of its fields."""
        constraints = self.constraints(brief)
        if self.structure is None:
            return constraints
        schema = json_schema(self.structure.fields(brief))
        return replace(constraints, json_schema=json.dumps(schema, ensure_ascii=False))

    def max_tokens(self, brief: Brief) -> int:
        """The token budget of one model call: the brief's, else what its limits need."""
        return brief.max_tokens or self.token_budget(brief)  # type: ignore[arg-type]
