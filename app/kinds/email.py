"""Marketing emails: subject, preheader, a Markdown body (and its plain text), a call to
action with its link, and the footer an unsubscribe line and a postal address go in."""

import difflib
import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from app.checks import CheckResult, rules
from app.checks.spam import spam_wording
from app.fields import AS_INTEGER, LongWording, WebUrl, WholeNumber, Wording
from app.kinds.base import ContentKind, WordRangeBrief, fill_blanks, only_bans
from app.kinds.campaign import copy_checks, needs_subject
from app.kinds.structured import OutputField, Structure, Values
from app.knowledge.bundle import Knowledge

Purpose = Literal["launch", "promotion", "newsletter", "welcome", "abandoned_cart", "re_engagement"]
# Merge tags the sending tool fills in: the link of the call to action when the brief gives
# none, the unsubscribe link and the sender's postal address (CAN-SPAM asks for both:
# https://www.ftc.gov/tips-advice/business-center/guidance/can-spam-act-compliance-guide-business).
CTA_URL_TAG = "{{cta_url}}"
UNSUBSCRIBE_TAG = "{{unsubscribe_url}}"
ADDRESS_TAG = "{{postal_address}}"
# Preview text the inbox shows beside the subject: shorter leaves the body's first words
# there, longer is cut (guides range from 40-70 to 85-100; Gmail shows about 97).
PREHEADER_CHARS = (40, 100)
# A preheader this alike to the subject (difflib's ratio) spends the preview on a repeat.
PREHEADER_REPEATS = 0.75


class EmailRequest(WordRangeBrief):
    """Brief for a marketing email."""

    purpose: Purpose = Field(
        description="launch, promotion, newsletter, welcome, abandoned_cart or re_engagement."
    )
    product: Wording | None = Field(
        None, description="What the email sells (default: the product's name)."
    )
    topic: Wording | None = Field(
        None, validate_default=True, description="What it is about, when not (only) a product."
    )
    key_message: LongWording | None = Field(
        None, description="What it must get across (default: the product's approved claims)."
    )
    offer: Wording | None = Field(None, description="The offer, e.g. '20% off until Sunday'.")
    call_to_action: Wording | None = Field(None, description="What the reader should do.")
    cta_url: WebUrl | None = Field(
        None, description=f"The button's link (http or https; default: `{CTA_URL_TAG}`)."
    )
    subject_max_chars: Annotated[int, Field(ge=20, le=150), AS_INTEGER] = Field(
        50,
        description="Longest subject, characters. 50 by default: long subjects are cut in "
        "the inbox, and shorter ones tend to be opened more.",
    )
    require_footer: bool = Field(
        True,
        description="The unsubscribe link and postal address placeholders must be in the "
        "email (a hard check); turn off for transactional mail.",
    )
    min_words: WholeNumber = Field(60, ge=20, le=1000, description="Shortest body, words.")
    max_words: WholeNumber = Field(200, ge=20, le=1000, description="Longest body, words.")
    _subject = field_validator("topic")(needs_subject)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "purpose": "launch",
                    "product": "Aurora trail running shoes",
                    "key_message": "grip on wet rock, 210 g",
                    "offer": "free returns for 60 days",
                    "call_to_action": "See the shoe",
                    "cta_url": "https://example.com/aurora",
                    "language": "en",
                }
            ]
        },
    )


def _body_chars(brief: EmailRequest) -> tuple[int, int]:
    # The body's bounds in characters, for the grammar, such that text inside them has a word
    # count (word_range) inside the brief's: an English word with its space runs five to
    # seven characters; Chinese counts each Han character as a word, and punctuation adds
    # characters that are not words.
    if brief.language == "zh":
        low, high = int(brief.min_words * 1.2), brief.max_words
    else:
        low, high = brief.min_words * 7, brief.max_words * 5
    return min(low, high * 4 // 5), high


def _fields(brief: EmailRequest) -> list[OutputField]:
    body_min, body_max = _body_chars(brief)
    return [
        OutputField("subject", "The subject line", max_chars=brief.subject_max_chars),
        OutputField(
            "preheader",
            "The preview text shown after the subject",
            min_chars=PREHEADER_CHARS[0] // (2 if brief.language == "zh" else 1),
            max_chars=PREHEADER_CHARS[1],
        ),
        OutputField(
            "body",
            "The email body, Markdown paragraphs",
            min_chars=body_min,
            max_chars=body_max,
        ),
        OutputField("cta", "The button's text", max_chars=25),
    ]


_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(.+?)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.MULTILINE)


def plain_text(markdown: str) -> str:
    """The Markdown of an email body as its plain-text part: links as "text (url)", no
    emphasis marks or heading hashes."""
    text = _LINK.sub(r"\1 (\2)", markdown)
    text = _EMPHASIS.sub(r"\2", text)
    return _HEADING.sub("", text).strip()


def _link(brief: EmailRequest) -> str:
    return brief.cta_url or CTA_URL_TAG


def _footer(language: str) -> str:
    if language == "zh":
        return f"退订：{UNSUBSCRIBE_TAG} · 地址：{ADDRESS_TAG}"
    return f"Unsubscribe: {UNSUBSCRIBE_TAG} · {ADDRESS_TAG}"


def _render(values: Values, brief: EmailRequest) -> str:
    """The email as a sending tool takes it: subject and preheader lines, the Markdown body,
    the button as a link, the footer."""
    return "\n\n".join(
        [
            f"Subject: {values.get('subject', '')}\nPreheader: {values.get('preheader', '')}",
            values.get("body", ""),
            f"[{values.get('cta', '')}]({_link(brief)})",
            f"---\n{_footer(brief.language)}",
        ]
    )


def _field_checks(values: Values, brief: EmailRequest) -> list[CheckResult]:
    subject, preheader = values.get("subject", ""), values.get("preheader", "")
    body = values.get("body", "")
    low, high = PREHEADER_CHARS
    if brief.language == "zh":
        low //= 2  # a Han character says about what two Latin letters do
    alike = difflib.SequenceMatcher(None, subject.casefold(), preheader.casefold()).ratio()
    repeats = alike >= PREHEADER_REPEATS or subject.casefold() in preheader.casefold()
    results = [
        CheckResult(
            "subject.max",
            len(subject) <= brief.subject_max_chars,
            hard=True,
            detail=f"subject: {len(subject)} of at most {brief.subject_max_chars} characters",
        ),
        CheckResult(
            "preheader.max",
            len(preheader) <= high,
            hard=True,
            detail=f"preheader: {len(preheader)} of at most {high} characters",
        ),
        CheckResult(
            "preheader.min",
            len(preheader) >= low,
            hard=False,
            detail=f"preheader: {len(preheader)}; under {low} the inbox fills it from the body",
        ),
        CheckResult(
            "preheader.repeats_subject",
            not repeats,
            hard=False,
            detail=f"the preheader is {alike:.0%} like the subject" if repeats else None,
        ),
        rules.word_range(body, brief.min_words, brief.max_words),
        spam_wording(f"{subject}\n{preheader}\n{body}", brief.language),
    ]
    return [*results, footer_check(_render(values, brief), brief.require_footer)]


def footer_check(text: str, required: bool) -> CheckResult:
    """The unsubscribe link and the postal address are in the email (as placeholders)."""
    missing = [tag for tag in (UNSUBSCRIBE_TAG, ADDRESS_TAG) if tag not in text]
    return CheckResult(
        "footer",
        not missing,
        hard=required,
        detail=f"missing {', '.join(missing)}" if missing else None,
    )


def _checks(text: str, brief: EmailRequest) -> list[CheckResult]:
    return copy_checks(text, brief, loop_phrase=6)


def _fill(brief: EmailRequest, knowledge: Knowledge) -> EmailRequest:
    return fill_blanks(
        brief,
        product=knowledge.product_name(brief.language),
        key_message=knowledge.key_message(brief.language),
        audience=knowledge.reader(),
        cta_url=knowledge.product.url if knowledge.product else None,
    )


def _token_budget(brief: EmailRequest) -> int:
    per_word = 1.3 if brief.language == "zh" else 1.5
    return int(brief.max_words * per_word) + brief.subject_max_chars + 120


def finish(values: Values, brief: EmailRequest) -> Values:
    """The fields the model does not write: the body's plain text and the button's link."""
    return {**values, "body_text": plain_text(values.get("body", "")), "cta_url": _link(brief)}


EMAIL = ContentKind(
    name="email",
    path="/v1/emails",
    title="Write marketing emails",
    description="A campaign email (launch, promotion, newsletter, welcome, abandoned cart, "
    "re-engagement): `subject` within `subject_max_chars`, a `preheader` of 40-100 "
    "characters that does not repeat it, a Markdown `body` with its plain text "
    "(`body_text`), a call to action (`cta`, `cta_url`), and the footer placeholders for "
    f"the unsubscribe link and postal address (`{UNSUBSCRIBE_TAG}`, `{ADDRESS_TAG}`). "
    "Spam-trigger wording is flagged (a soft check).",
    brief_model=EmailRequest,
    parse=str,
    check=_checks,
    token_budget=_token_budget,
    constraints=only_bans,
    fill=_fill,
    structure=Structure(fields=_fields, render=_render, check=_field_checks, finish=finish),
)
