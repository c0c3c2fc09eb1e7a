"""Product descriptions: product-page prose from features and specs, within a word range."""

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from app.checks import CheckResult, rules
from app.fields import PHRASE_KEYS, Phrase, ShortText, WholeNumber
from app.kinds.base import (
    ContentKind,
    WordRangeBrief,
    fill_blanks,
    fit_word_range,
    prose_constraints,
    unless_product,
    words_budget,
)
from app.kinds.parsing import parse_prose
from app.knowledge.bundle import Knowledge


class ProductDescriptionRequest(WordRangeBrief):
    """Brief for a product description."""

    product_name: ShortText | None = Field(
        None, validate_default=True, description="Name of the product (default: the product's)."
    )
    features: Annotated[list[ShortText], Field(max_length=20)] = Field(
        default_factory=list,
        validate_default=True,
        description="What it does or has (up to 20; default: the product's features).",
    )
    specs: Annotated[dict[Phrase, ShortText], Field(max_length=30)] = Field(
        default_factory=dict,
        description="Specifications, e.g. {'weight': '210 g'}.",
        json_schema_extra=PHRASE_KEYS,
    )
    target_customer: ShortText | None = Field(
        None, description="Who buys it and why (default: the audience, if one is named)."
    )
    min_words: WholeNumber = Field(50, ge=10, le=2000, description="Shortest acceptable length.")
    max_words: WholeNumber = Field(150, ge=10, le=2000, description="Longest acceptable length.")

    # Strictness and forbidden extras come from Brief (pydantic merges configs).
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

    _filled_by_product = field_validator("product_name", "features")(unless_product)


def _fill(brief: ProductDescriptionRequest, knowledge: Knowledge) -> ProductDescriptionRequest:
    # The brief's own specs win; the form caps them at 30.
    merged = {**knowledge.product.specs, **brief.specs} if knowledge.product else brief.specs
    specs = dict(list(merged.items())[:30])
    filled = fill_blanks(
        brief,
        product_name=knowledge.product_name(brief.language),
        features=knowledge.product_features(brief.language)[:20],
        target_customer=knowledge.reader(),
    )
    return filled.model_copy(update={"specs": specs}) if specs != brief.specs else filled


def _checks(text: str, brief: ProductDescriptionRequest) -> list[CheckResult]:
    return [
        *rules.common(text, brief.language, brief.keywords, loop_phrase=6),
        rules.not_an_echo(text),
        rules.word_range(text, brief.min_words, brief.max_words),
        rules.names(text, brief.product_name or ""),
    ]


PRODUCT_DESCRIPTION = ContentKind(
    name="product_description",
    path="/v1/product-descriptions",
    title="Write product descriptions",
    description="Product-page prose built from features and specs, for a target customer, "
    "within a word range (in Chinese a Han character counts as one word).",
    brief_model=ProductDescriptionRequest,
    parse=parse_prose,
    check=_checks,
    token_budget=words_budget,
    constraints=prose_constraints,
    fit=fit_word_range,
    fill=_fill,
)
