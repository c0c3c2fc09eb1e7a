"""Query and read models of the history endpoints."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.generation.schemas import GenerationRead
from app.models import GenerationStatus


class Sort(StrEnum):
    """Orders the list can come in; `updated_at` is for pollers."""

    newest = "-created_at"
    oldest = "created_at"
    updated = "updated_at"


class GenerationPage(BaseModel):
    """One page of generations and where the next one starts."""

    items: list[GenerationRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class GroupBy(StrEnum):
    """What stats can be grouped by."""

    kind = "kind"
    model = "model"
    template_version = "template_version"
    language = "language"
    brand = "brand"
    product = "product"
    audience = "audience"


class StatsRow(BaseModel):
    """Aggregates for one group."""

    key: str | None = Field(description="The group; null for generations without one (no brand).")
    count: int
    failed_count: int
    rated_count: int = Field(description="Generations with at least one rating.")
    rating_count: int
    mean_rating: float | None
    mean_latency_ms: float | None
    mean_input_tokens: float | None
    mean_output_tokens: float | None
    impressions: int = Field(0, description="Impression events of the group's variants.")
    clicks: int = 0
    conversions: int = 0
    click_rate: float | None = Field(None, description="Clicks per impression.")
    conversion_rate: float | None = Field(None, description="Conversions per impression.")


class StatsRead(BaseModel):
    """Stats grouped one way."""

    model_config = ConfigDict(use_enum_values=True)

    group_by: GroupBy
    groups: list[StatsRow]


class GenerationFilters(BaseModel):
    """Filters shared by the list and stats endpoints."""

    kind: str | None = None
    model: str | None = None
    template_version: str | None = None
    status: GenerationStatus | None = None
    language: str | None = None
    brand_id: str | None = None
    product_id: str | None = None
    audience_id: str | None = None
    min_rating: float | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_since: datetime | None = None
    q: str | None = None
