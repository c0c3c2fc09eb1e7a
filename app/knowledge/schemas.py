"""Request and response bodies of the knowledge endpoints.

A brand kit, a product or an audience is data: every field reaches a prompt only as fenced
data, never as template source, and every list and text has a cap.
"""

import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from app.config import Language
from app.fields import PHRASE_KEYS, LongText, Phrase, ShortText, WebUrl

T = TypeVar("T")
_PRICE_TEXT = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"


def _price(value: object) -> object:
    # Text is read as written ("129.00"); "1e5" or "12,50" is not a price.
    if isinstance(value, str) and not re.match(_PRICE_TEXT, value):
        raise ValueError("a price is digits with up to two decimals, e.g. 129.00")
    return value


# Money as Decimal (JSON numbers or text), never float; what the schema says it takes.
Price = Annotated[
    Decimal,
    BeforeValidator(_price),
    Field(ge=0, le=Decimal("9999999999.99")),
    AfterValidator(lambda d: d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": 9999999999.99},
                {"type": "string", "pattern": _PRICE_TEXT},
            ]
        }
    ),
]
KindName = Literal[
    "ad_slogan", "product_description", "blog_post", "social_post", "email", "ad_set"
]
Sku = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/#+-]+$")]


class Strict(BaseModel):
    """Request bodies: no unknown fields, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Voice(Strict):
    """How the brand sounds."""

    description: LongText | None = Field(None, description="The voice in a few sentences.")
    adjectives: Annotated[list[Phrase], Field(max_length=10)] = Field(
        default_factory=list, description="A few words for it, e.g. 'warm', 'precise'."
    )


class Style(Strict):
    """Style rules: what the copy may and may not do. Absent means no rule."""

    person: Literal["first", "second", "third"] | None = Field(
        None, description="Whose voice: 'we' (first), 'you' (second) or the brand's name (third)."
    )
    formality: Literal["formal", "neutral", "casual"] | None = None
    emoji: Literal["never", "sparingly", "freely"] | None = None
    exclamation_marks: Literal["never", "sparingly", "freely"] | None = None
    contractions: bool | None = Field(None, description="English: 'we're' (true) or 'we are'.")
    zh_register: Literal["written", "spoken"] | None = Field(
        None, description="Chinese: 书面语 (written) or 口语 (spoken)."
    )


class PreferredTerm(Strict):
    """Write `use`, not any of `instead_of`."""

    use: Phrase
    instead_of: Annotated[list[Phrase], Field(min_length=1, max_length=10)]


class Terms(Strict):
    """Term rules, matched case-insensitively (Latin words whole, Chinese as written)."""

    banned: Annotated[list[Phrase], Field(max_length=200)] = Field(
        default_factory=list, description="Never written; the embedded models cannot write them."
    )
    preferred: Annotated[list[PreferredTerm], Field(max_length=200)] = Field(default_factory=list)
    trademarks: Annotated[list[Phrase], Field(max_length=100)] = Field(
        default_factory=list, description="Spellings that must be exact: 'iPhone', '小米'."
    )


class RequiredElement(Strict):
    """Text every variant of a kind must contain as written (a hashtag, a disclaimer)."""

    text: LongText
    what: Literal["disclaimer", "hashtag", "legal_line", "phrase"] = "phrase"
    kinds: Annotated[list[KindName], Field(max_length=10)] = Field(
        default_factory=list, description="The kinds it applies to; empty: every kind."
    )
    language: Language | None = Field(None, description="Only copy in this language.")


class VoiceExample(Strict):
    """A text in the brand's voice, shown to the model as a worked example."""

    text: LongText
    language: Language = "en"
    kind: KindName | None = None


class BrandKit(Strict):
    """A brand kit as written; each change makes a new version."""

    name: ShortText
    languages: Annotated[list[Language], Field(max_length=2)] = Field(default_factory=list)
    voice: Voice = Field(default_factory=Voice)
    style: Style = Field(default_factory=Style)
    terms: Terms = Field(default_factory=Terms)
    required: Annotated[list[RequiredElement], Field(max_length=20)] = Field(default_factory=list)
    examples: Annotated[list[VoiceExample], Field(max_length=10)] = Field(default_factory=list)
    reading_level: Literal["simple", "general", "expert"] | None = Field(
        None, description="How demanding the copy may be to read (guidance for the model)."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Aurora Outdoor",
                    "languages": ["en", "zh"],
                    "voice": {
                        "description": "Plain-spoken and encouraging, like a friend who runs.",
                        "adjectives": ["confident", "warm"],
                    },
                    "style": {"person": "second", "exclamation_marks": "never"},
                    "terms": {
                        "banned": ["cheap", "廉价"],
                        "preferred": [{"use": "trail", "instead_of": ["off-road"]}],
                        "trademarks": ["AuroraGrip"],
                    },
                    "examples": [
                        {"text": "Wet rock, steady feet.", "language": "en", "kind": "ad_slogan"}
                    ],
                }
            ]
        }
    )


class Lifecycle(BaseModel):
    """When a record was made, changed and archived."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime


class BrandRead(Lifecycle):
    """A brand kit at one version (the newest unless a version was asked for)."""

    version: int
    kit: BrandKit


class BrandVersionSummary(BaseModel):
    """One version of a kit in its history."""

    version: int
    name: str
    created_at: datetime


class ApprovedClaim(Strict):
    """A claim copy may make, with what backs it."""

    claim: LongText
    evidence: LongText | None = Field(None, description="e.g. 'lab test 2026-03'.")


class ProductText(Strict):
    """A product's name and features in another language."""

    name: ShortText
    features: Annotated[list[LongText], Field(max_length=50)] = Field(default_factory=list)
    category: ShortText | None = None


class ProductIn(Strict):
    """A product: the facts copy about it may state."""

    name: ShortText
    sku: Sku | None = Field(None, description="Unique in the workspace; imports upsert by it.")
    brand_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    category: ShortText | None = None
    features: Annotated[list[LongText], Field(max_length=50)] = Field(default_factory=list)
    specs: Annotated[dict[Phrase, ShortText], Field(max_length=50)] = Field(
        default_factory=dict,
        description="Name to value with its unit: {'weight': '210 g'}.",
        json_schema_extra=PHRASE_KEYS,
    )
    price: Price | None = Field(None, description="In `currency`; rounded to cents.")
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="ISO 4217, e.g. 'CNY', 'USD'."
    )
    approved_claims: Annotated[list[ApprovedClaim], Field(max_length=50)] = Field(
        default_factory=list
    )
    forbidden_claims: Annotated[list[LongText], Field(max_length=50)] = Field(
        default_factory=list, description="Claims copy must never make about it."
    )
    url: WebUrl | None = None
    translations: Annotated[dict[Language, ProductText], Field(max_length=2)] = Field(
        default_factory=dict, description="Name, features and category per language."
    )

    model_config = ConfigDict(
        # Prices arrive as JSON numbers or strings ("129.00"); strict mode would take neither.
        strict=False,
        json_schema_extra={
            "examples": [
                {
                    "name": "Aurora trail running shoes",
                    "sku": "AUR-TR-01",
                    "category": "running shoes",
                    "features": ["grippy outsole for wet rock", "rock plate"],
                    "specs": {"weight": "210 g", "drop": "6 mm"},
                    "price": "129.00",
                    "currency": "USD",
                    "approved_claims": [
                        {"claim": "30% more grip on wet rock", "evidence": "lab test 2026-03"}
                    ],
                    "forbidden_claims": ["waterproof"],
                    "translations": {
                        "zh": {
                            "name": "极光越野跑鞋",
                            "features": ["湿滑岩石上抓地稳", "防石板"],
                        }
                    },
                }
            ]
        },
    )


class ProductRead(Lifecycle, ProductIn):
    """A stored product."""

    model_config = ConfigDict(from_attributes=True, strict=False, json_schema_extra={})

    revision: int


class AudienceIn(Strict):
    """A reader: who they are, what they need, what puts them off."""

    name: ShortText
    description: LongText | None = None
    language: Language | None = None
    needs: Annotated[list[ShortText], Field(max_length=20)] = Field(default_factory=list)
    pains: Annotated[list[ShortText], Field(max_length=20)] = Field(default_factory=list)
    objections: Annotated[list[ShortText], Field(max_length=20)] = Field(default_factory=list)
    words_they_use: Annotated[list[Phrase], Field(max_length=30)] = Field(default_factory=list)
    words_they_dislike: Annotated[list[Phrase], Field(max_length=30)] = Field(default_factory=list)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Weekend trail runners",
                    "description": "Office workers who run mountain trails on weekends.",
                    "needs": ["sure footing on wet rock"],
                    "pains": ["heavy shoes that tire them on climbs"],
                    "objections": ["trail shoes wear out fast"],
                    "words_they_use": ["grip", "technical terrain"],
                    "words_they_dislike": ["extreme"],
                }
            ]
        }
    )


class AudienceRead(Lifecycle, AudienceIn):
    """A stored audience."""

    model_config = ConfigDict(from_attributes=True, strict=False, json_schema_extra={})

    source: str = Field(description="`manual`, or `reviews` for a persona derived from them.")
    revision: int
    evidence: dict[str, Any] | None = Field(
        None,
        description="A persona's provenance: its share of the reviews, how many, the ids of "
        "up to 100 of them, example quotes, the scope and analyser version, when derived.",
    )


class Page(BaseModel, Generic[T]):
    """A page of a list, oldest first; `next_cursor` fetches the next."""

    items: list[T]
    next_cursor: str | None
