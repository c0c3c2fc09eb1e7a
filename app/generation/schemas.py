"""Read models: a generation, its variants, checks and ratings as the API shows them."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.models import GenerationStatus


class CheckRead(BaseModel):
    """One rule applied to a variant."""

    name: str
    passed: bool
    hard: bool = Field(description="A hard rule failing makes the variant unusable.")
    detail: str | None = None
    span: str | None = Field(None, description="The offending text, as written in the copy.")


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
    text: str = Field(description="The copy as it is pasted.")
    fields: dict[str, Any] | None = Field(
        None,
        description="Structured kinds (social posts, emails, ad sets): the copy's fields, "
        "e.g. `title`, `body`, `hashtags`; null for the others.",
    )
    checks: list[CheckRead]
    score: float | None = Field(description="Share of checks passed, 0..1.")
    predicted_score: float | None = Field(
        None,
        description="The rating (1..5) the workspace's score model, learned from its ratings, "
        "expects; null before a model was trained (POST /v1/score-models).",
    )
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


class KnowledgeRef(BaseModel):
    """The brand kit version, product and audience the copy was written from."""

    brand_id: str | None = None
    brand_version: int | None = Field(None, description="Read it: GET /v1/brands/{id}?version=")
    product_id: str | None = None
    audience_id: str | None = None


class GenerationRead(BaseModel):
    """A generation with its provenance and variants."""

    id: str
    kind: str
    language: str
    status: GenerationStatus
    model: str = Field(description="The alias requested.")
    provider: str
    resolved_model: str | None = Field(description="The model the provider says answered.")
    fallback_model: str | None = Field(
        description="The fallback alias that wrote some or all variants, if the model failed."
    )
    template: TemplateRef
    input: dict[str, Any] = Field(
        description="The brief as validated, with what the product and audience filled in, "
        "and the brand kit, product facts and reader the template saw."
    )
    knowledge: KnowledgeRef
    options: dict[str, Any]
    usage: UsageRead
    error: ErrorRead | None
    prompt: PromptRead | None = Field(description="Present on the single-generation view.")
    variants: list[VariantRead]
    created_at: datetime
    updated_at: datetime


class AudienceFailure(BaseModel):
    """Why one audience's generation wrote nothing (the error it would have answered with)."""

    type: str = Field(examples=["upstream_timeout"])
    message: str
    generation_id: str | None = Field(
        None, description="The failed generation, stored with its error, when the model ran."
    )


class AudienceGeneration(BaseModel):
    """One audience's generation, or why it failed."""

    audience_id: str
    generation: GenerationRead | None
    error: AudienceFailure | None


class PerAudienceRead(BaseModel):
    """One generation per audience, in the order the audiences were given."""

    results: list[AudienceGeneration]
