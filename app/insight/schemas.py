"""Request and response bodies of the review endpoints."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from app.config import Language
from app.fields import AS_INTEGER, TEXT_PATTERN, IsoDatetime, KnowledgeId, ShortText
from app.knowledge.schemas import Sku

# Longer than any shop lets a review be (Amazon: 20,000 characters, Taobao: 500); a 10 MB
# "review" is a paste accident or an attack and is refused alone.
MAX_REVIEW_CHARS = 20_000
MAX_BATCH = 1000
MAX_ERRORS = 1000

ReviewText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_REVIEW_CHARS, pattern=TEXT_PATTERN),
    AfterValidator(str.strip),
]
Source = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
ExternalId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[!-~]+$")]
Stars = Annotated[int, Field(ge=1, le=5), AS_INTEGER]


class ReviewIn(BaseModel):
    """One customer review, as a shop or a social platform exports it."""

    # Not strict: files carry every value as text ("5", "2026-11-20").
    model_config = ConfigDict(extra="forbid")

    product_id: KnowledgeId | None = Field(
        None, description="The product reviewed (or give its `sku`)."
    )
    sku: Sku | None = Field(None, description="The product's SKU, instead of `product_id`.")
    source: Source = Field("api", description="Where it came from: `tmall`, `amazon`, ....")
    external_id: ExternalId | None = Field(
        None, description="The review's id at its source: a second copy counts once."
    )
    stars: Stars | None = None
    title: ShortText | None = None
    text: ReviewText
    language: Language | None = Field(None, description="Detected from the text when absent.")
    reviewed_at: IsoDatetime | None = Field(
        None, description="When it was written (ISO 8601; UTC when no zone is given)."
    )
    author: ShortText | None = Field(
        None, description="Used only to tell reviewers apart: stored as a keyed hash."
    )


class ReviewBatch(BaseModel):
    """Reviews to add in one request."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "reviews": [
                        {
                            "sku": "AUR-TR-03",
                            "source": "tmall",
                            "external_id": "t-889102",
                            "stars": 5,
                            "text": "抓地力很强，下雨天跑山也不打滑，就是鞋带有点短。",
                            "reviewed_at": "2026-11-20T08:30:00Z",
                        },
                        {
                            "sku": "AUR-TR-03",
                            "source": "amazon",
                            "external_id": "R2X9QZ",
                            "stars": 2,
                            "text": "Great grip, but the battery of my patience ran out: "
                            "the sole came loose after three weeks.",
                        },
                    ]
                }
            ]
        },
    )

    # Items are validated one by one in the service, not here: a bad review is refused
    # alone (in the answer's `errors`) and never takes the good ones of its batch with it.
    reviews: Annotated[
        list[Any],
        Field(min_length=1, max_length=MAX_BATCH),
        WithJsonSchema(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH,
                "items": ReviewIn.model_json_schema(),
            }
        ),
    ]


class RowError(BaseModel):
    """Why one review was refused: its line in the file, or its index in the batch."""

    line: int = Field(description="Line of the file (1 is the first), or index in the batch.")
    external_id: str | None
    param: str | None = Field(description="The column (CSV) or field path (JSON).")
    message: str


class ImportRead(BaseModel):
    """A batch or file of reviews: what was read, kept, refused, and analysed so far."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    format: Literal["json", "csv", "jsonl"]
    status: Literal["analysing", "analysed", "failed"] = Field(
        description="`analysing` until every accepted review has its analysis."
    )
    rows: int = Field(description="Reviews read (blank lines not counted).")
    accepted: int = Field(description="New reviews stored.")
    duplicates: int = Field(description="Reviews already stored (same source and id, or text).")
    refused: int
    analysed: int = Field(description="Accepted reviews analysed so far.")
    errors: list[RowError] = Field(description=f"The first {MAX_ERRORS} problems.")
    errors_truncated: bool
    created_at: datetime
    updated_at: datetime


class Quote(BaseModel):
    """A review's words, as evidence."""

    review_id: str
    text: str
    stars: int | None = None


class SentimentBucket(BaseModel):
    """Reviews of one day or week, by label, and their mean score (-1 to 1)."""

    start: str = Field(description="ISO date the bucket starts on.")
    reviews: int
    positive: int
    neutral: int
    negative: int
    mean_score: float


class AspectSummary(BaseModel):
    """An aspect reviewers speak of, how often each way, with their words."""

    term: str
    mentions: int
    positive: int
    negative: int
    quotes: list[Quote]


class TopicRead(BaseModel):
    """A group of reviews that speak of the same things."""

    label: str = Field(description="Its top terms.")
    terms: list[str]
    reviews: int
    share: float
    sentiment: dict[str, int] = Field(description="Reviews by label.")
    quotes: list[Quote] = Field(description="The reviews nearest the topic's centre.")
    trend: list[dict[str, Any]] = Field(description="Reviews per bucket: {start, reviews}.")


class StarsAgainstText(BaseModel):
    """Star ratings against what the text says: a five-star review with a complaint."""

    matrix: dict[str, dict[str, int]] = Field(description="stars -> label -> reviews.")
    high_stars_negative_text: list[Quote]
    low_stars_positive_text: list[Quote]


class PeriodChange(BaseModel):
    """This period against the one of the same length before it."""

    previous_since: datetime
    previous_reviews: int
    reviews_change: int
    mean_score_change: float | None
    negative_share_change: float | None
    aspects_more_criticised: list[str]


class InsightsRead(BaseModel):
    """What the reviews of a product, category or brand say over a time range."""

    scope: dict[str, str | None]
    since: datetime | None
    until: datetime
    reviews: int
    analysed: int
    mean_stars: float | None
    sentiment: dict[str, int]
    sentiment_over_time: list[SentimentBucket]
    praised: list[AspectSummary]
    criticised: list[AspectSummary]
    topics: list[TopicRead]
    stars_against_text: StarsAgainstText
    change: PeriodChange | None = Field(description="Only when `since` is given.")
