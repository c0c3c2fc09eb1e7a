"""Product descriptions: product-page prose from features and specs, within a word range."""

from typing import Annotated

from pydantic import ConfigDict, Field

from app.checks import CheckResult, rules
from app.fields import Phrase, ShortText, WholeNumber
from app.kinds.base import (
    ContentKind,
    WordRangeBrief,
    fit_word_range,
    prose_constraints,
    words_budget,
)
from app.kinds.parsing import parse_prose


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


def _checks(text: str, brief: ProductDescriptionRequest) -> list[CheckResult]:
    return [
        *rules.common(text, brief.language, brief.keywords, loop_phrase=6),
        rules.not_an_echo(text),
        rules.word_range(text, brief.min_words, brief.max_words),
        rules.names(text, brief.product_name),
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
)
