"""Request models per content kind, and the read models of generations and variants."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.config import Language
from app.fields import (
    Identifier,
    LongText,
    Phrase,
    PositiveWholeNumber,
    Seed,
    ShortText,
    WholeNumber,
)


class GenerationOptionsIn(BaseModel):
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


class AdSloganRequest(GenerationOptionsIn):
    """Brief for ad slogans."""

    product: ShortText = Field(description="Product or brand the slogan sells.")
    brand: ShortText | None = Field(None, description="Brand name, if different.")
    key_message: LongText = Field(description="What the slogan must stress.")
    max_chars: WholeNumber = Field(
        60, ge=5, le=200, description="Longest acceptable slogan, characters."
    )

    # Strictness and forbidden extras come from GenerationOptionsIn (pydantic merges configs).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product": "Aurora trail running shoes",
                    "key_message": "grip on wet rock, weighs 210 g",
                    "tone": "energetic",
                    "audience": "weekend trail runners",
                    "keywords": ["grip"],
                    "max_chars": 50,
                    "n": 3,
                    "language": "en",
                }
            ]
        },
    )


class WordRangeBrief(GenerationOptionsIn):
    """A brief with a word range; each kind sets its own bounds and defaults."""

    min_words: WholeNumber
    max_words: WholeNumber

    @model_validator(mode="after")
    def _word_range(self) -> "WordRangeBrief":
        if self.min_words > self.max_words:
            raise ValueError("min_words must not exceed max_words")
        return self


class ProductDescriptionRequest(WordRangeBrief):
    """Brief for a product description."""

    product_name: ShortText = Field(description="Name of the product.")
    features: Annotated[list[ShortText], Field(min_length=1, max_length=20)] = Field(
        description="What it does or has (1 to 20)."
    )
    specs: Annotated[dict[Phrase, ShortText], Field(max_length=30)] = Field(
        default_factory=dict, description="Specifications, e.g. {'weight': '210 g'}."
    )
    target_customer: ShortText = Field(description="Who buys it and why.")
    min_words: WholeNumber = Field(50, ge=10, le=2000, description="Shortest acceptable length.")
    max_words: WholeNumber = Field(150, ge=10, le=2000, description="Longest acceptable length.")

    # Strictness and forbidden extras come from GenerationOptionsIn (pydantic merges configs).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "product_name": "Kettle One",
                    "features": ["boils 1 L in 3 minutes", "keeps water warm for 2 hours"],
                    "specs": {"capacity": "1.7 L", "power": "2200 W"},
                    "target_customer": "tea drinkers in small flats",
                    "min_words": 50,
                    "max_words": 120,
                    "language": "en",
                }
            ]
        },
    )


class BlogPostRequest(WordRangeBrief):
    """Brief for a blog post (Markdown with a title); `keywords` are its target keywords."""

    topic: ShortText = Field(description="What the post is about.")
    outline: Annotated[list[ShortText], Field(max_length=20)] = Field(
        default_factory=list, description="Points or sections to cover, in order."
    )
    min_words: WholeNumber = Field(300, ge=50, le=5000, description="Shortest acceptable length.")
    max_words: WholeNumber = Field(800, ge=50, le=5000, description="Longest acceptable length.")

    # Strictness and forbidden extras come from GenerationOptionsIn (pydantic merges configs).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "topic": "How to choose a trail running shoe",
                    "outline": ["grip", "weight", "fit"],
                    "keywords": ["trail running shoes"],
                    "min_words": 300,
                    "max_words": 600,
                    "language": "en",
                }
            ]
        },
    )


class CheckRead(BaseModel):
    """One rule applied to a variant."""

    name: str
    passed: bool
    hard: bool = Field(description="A hard rule failing makes the variant unusable.")
    detail: str | None = None


class RatingRead(BaseModel):
    """A rating of a variant."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    variant_id: str
    rater: str
    score: int
    comment: str | None
    created_at: datetime
    updated_at: datetime


class VariantRead(BaseModel):
    """One candidate text with its checks and ratings."""

    id: str
    index: int
    text: str
    checks: list[CheckRead]
    score: float | None = Field(description="Share of checks passed, 0..1.")
    rating_count: int
    rating_mean: float | None
    ratings: list[RatingRead]


class UsageRead(BaseModel):
    """Tokens spent and time taken."""

    input_tokens: int
    output_tokens: int
    latency_ms: int


class TemplateRef(BaseModel):
    """Which template wrote the prompt."""

    name: str
    version: str


class PromptRead(BaseModel):
    """The prompt as the model received it."""

    system: str
    user: str


class ErrorRead(BaseModel):
    """Why a generation failed or was cut short."""

    type: str
    message: str


class GenerationRead(BaseModel):
    """A generation with its provenance and variants."""

    id: str
    kind: str
    language: str
    status: str = Field(description="succeeded | partial | failed")
    model: str = Field(description="The alias requested.")
    provider: str
    resolved_model: str | None = Field(description="The model the provider says answered.")
    fallback_model: str | None = Field(
        description="The fallback alias that wrote some or all variants, if the model failed."
    )
    template: TemplateRef
    input: dict[str, Any] = Field(description="The brief as validated.")
    options: dict[str, Any]
    usage: UsageRead
    error: ErrorRead | None
    prompt: PromptRead | None = Field(description="Present on the single-generation view.")
    variants: list[VariantRead]
    created_at: datetime
    updated_at: datetime
