"""Ad slogans: one line, one message, within `max_chars`."""

from pydantic import ConfigDict, Field, field_validator

from app.checks import CheckResult, rules
from app.checks.ad_law import banned_terms
from app.fields import LongText, ShortText, WholeNumber
from app.kinds.base import Brief, ContentKind, fill_blanks, unless_product
from app.kinds.parsing import end_at_boundary, parse_one_line, trim_to_chars
from app.knowledge.bundle import Knowledge
from app.llm.base import Constraints


class AdSloganRequest(Brief):
    """Brief for ad slogans."""

    product: ShortText | None = Field(
        None,
        validate_default=True,
        description="Product or brand the slogan sells (default: the product's name).",
    )
    brand: ShortText | None = Field(None, description="Brand name, if different.")
    key_message: LongText | None = Field(
        None,
        validate_default=True,
        description="What the slogan must stress (default: the product's approved claims, "
        "else its features).",
    )
    max_chars: WholeNumber = Field(
        60, ge=5, le=200, description="Longest acceptable slogan, characters."
    )

    # Strictness and forbidden extras come from Brief (pydantic merges configs).
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

    _filled_by_product = field_validator("product", "key_message")(unless_product)


def _fill(brief: AdSloganRequest, knowledge: Knowledge) -> AdSloganRequest:
    return fill_blanks(
        brief,
        product=knowledge.product_name(brief.language),
        key_message=knowledge.key_message(brief.language),
        audience=knowledge.reader(),
    )


def _checks(text: str, brief: AdSloganRequest) -> list[CheckResult]:
    return [
        *rules.common(text, brief.language, brief.keywords, loop_phrase=3),
        rules.single_line(text),
        rules.substance(text, brief.language),
        rules.max_chars(text, brief.max_chars),
        rules.names(text, brief.product or "", brief.brand),
    ]


# Labels small models put before a slogan ("Slogan: ...") are kept from being written.
_LABELS = {"en": ("Slogan", "Tagline", "Headline"), "zh": ("标语", "广告语", "口号")}


def _constraints(brief: AdSloganRequest) -> Constraints:
    banned = banned_terms(brief.language) + _LABELS.get(brief.language, ())
    return Constraints(one_line=True, max_chars=brief.max_chars, banned=banned)


def _fit(text: str, brief: AdSloganRequest) -> str:
    if len(text) > brief.max_chars:
        # A model that samples without the grammar ran over: keep its last whole clause.
        return trim_to_chars(text, brief.max_chars)
    stopped = len(text) == brief.max_chars and not text.endswith((".", "!", "?"))
    if stopped and brief.language == "en":
        # The grammar's bound stopped the line, most likely mid-word: end it cleanly. (A Han
        # line is whole at any character.)
        # (Room past the bound instead made the model run on: more lines failed max_chars.)
        return end_at_boundary(text)
    return text


def _token_budget(brief: AdSloganRequest) -> int:
    # English runs three or more characters a token; a Han character is one or two tokens.
    per_char = 2.0 if brief.language == "zh" else 0.5
    return int(brief.max_chars * per_char) + 8


AD_SLOGAN = ContentKind(
    name="ad_slogan",
    path="/v1/ad-slogans",
    title="Write ad slogans",
    description="Short, single-line slogans for a product, stressing one message, each within "
    "`max_chars` characters.",
    brief_model=AdSloganRequest,
    parse=parse_one_line,
    check=_checks,
    token_budget=_token_budget,
    constraints=_constraints,
    fit=_fit,
    fill=_fill,
    completion_stop=("\n\n", "<brief>"),
)
