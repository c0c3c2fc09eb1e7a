"""Ad sets in the shapes ad platforms take: a Google Ads responsive search ad (3-15
headlines, 2-4 descriptions, two display paths) or a Meta ad (primary text, headline,
description), each field counted as the platform counts it (`profiles.toml`)."""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from app.checks import CheckResult
from app.fields import AS_INTEGER, LongWording, Wording
from app.kinds.base import Brief, ContentKind, fill_blanks, only_bans
from app.kinds.campaign import code_point_bound, copy_checks, list_checks, needs_subject, profile
from app.kinds.structured import OutputField, Structure, Values
from app.knowledge.bundle import Knowledge
from app.platforms.profiles import field_checks

AdFormat = Literal["google_rsa", "meta"]
# The profile of each format in profiles.toml.
PROFILE = {"google_rsa": "google_ads", "meta": "meta_ads"}
# A path of the display URL: one word, no spaces or slashes.
PATH_PATTERN = r"^[A-Za-z0-9_\u00c0-\u024f\u4e00-\u9fff-]+$"
# Meta's fields have recommended lengths only; the grammar still bounds them, at twice that.
_META_BOUND = 2


class AdSetRequest(Brief):
    """Brief for an ad set in one platform's format."""

    format: AdFormat = Field(
        description="`google_rsa` (Google Ads responsive search ad) or `meta` (Facebook and "
        "Instagram ads)."
    )
    product: Wording | None = Field(None, description="What the ad sells (default: the product's).")
    topic: Wording | None = Field(
        None, validate_default=True, description="What it is about, when not (only) a product."
    )
    key_message: LongWording | None = Field(
        None, description="What it must get across (default: the product's approved claims)."
    )
    call_to_action: Wording | None = Field(None, description="What the reader should do.")
    headlines: Annotated[int, Field(ge=3, le=15), AS_INTEGER] = Field(
        10, description="google_rsa: how many headlines (Google takes 3 to 15)."
    )
    descriptions: Annotated[int, Field(ge=2, le=4), AS_INTEGER] = Field(
        4, description="google_rsa: how many descriptions (Google takes 2 to 4)."
    )

    _subject = field_validator("topic")(needs_subject)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "format": "google_rsa",
                    "product": "Aurora trail running shoes",
                    "key_message": "grip on wet rock, 210 g",
                    "keywords": ["trail running shoes"],
                    "headlines": 8,
                    "descriptions": 3,
                    "language": "en",
                }
            ]
        },
    )

    @model_validator(mode="after")
    def _counts_for_google(self) -> "AdSetRequest":
        counts = sorted({"headlines", "descriptions"} & self.model_fields_set)
        if self.format == "meta" and counts:
            raise ValueError(f"{', '.join(counts)}: a Meta ad has one of each; for google_rsa")
        return self


def _bound(brief: AdSetRequest, field: str, factor: int = 1) -> int:
    spec = profile(PROFILE[brief.format]).fields[field]
    limit = (spec.max or spec.recommended or 100) * factor
    return code_point_bound(limit, spec.counting, brief.language)


def _fields(brief: AdSetRequest) -> list[OutputField]:
    if brief.format == "meta":
        return [
            OutputField(name, f"The {name.replace('_', ' ')}", max_chars=_bound(brief, name, 2))
            for name in ("primary_text", "headline", "description")
        ]
    return [
        OutputField(
            "headlines",
            "Headlines, each different",
            max_chars=_bound(brief, "headline"),
            items=(brief.headlines, brief.headlines),
        ),
        OutputField(
            "descriptions",
            "Descriptions",
            max_chars=_bound(brief, "description"),
            items=(brief.descriptions, brief.descriptions),
        ),
        OutputField(
            "paths",
            "Display URL paths, a word each",
            items=(0, 2),
            required=False,
            pattern=PATH_PATTERN,
        ),
    ]


def _render(values: Values, brief: AdSetRequest) -> str:
    if brief.format == "meta":
        parts = [values.get(name, "") for name in ("primary_text", "headline", "description")]
        return "\n\n".join(p for p in parts if p)
    paths = "/".join(values.get("paths", []))
    lines = ["Headlines:", *values.get("headlines", []), "", "Descriptions:"]
    lines += values.get("descriptions", [])
    if paths:
        lines += ["", f"Path: /{paths}"]
    return "\n".join(lines)


def _field_checks(values: Values, brief: AdSetRequest) -> list[CheckResult]:
    platform = PROFILE[brief.format]
    if brief.format == "meta":
        results = []
        for name in ("primary_text", "headline", "description"):
            if values.get(name):
                results += field_checks(platform, name, values[name])
        return results
    headlines = values.get("headlines", [])
    results = [
        *list_checks(platform, "headline", "headline", headlines),
        *list_checks(platform, "description", "description", values.get("descriptions", [])),
        *list_checks(platform, "path", "path", values.get("paths", [])),
    ]
    seen: dict[str, str] = {}
    twins = []
    for headline in headlines:
        key = " ".join(headline.casefold().split())
        if key in seen:
            twins.append(headline)
        seen.setdefault(key, headline)
    results.append(
        CheckResult(
            "google_ads.headline.unique",
            not twins,
            hard=True,
            detail=f"written twice: {', '.join(repr(t) for t in twins)}" if twins else None,
            span=twins[0] if twins else None,
        )
    )
    return results


def _checks(text: str, brief: AdSetRequest) -> list[CheckResult]:
    # Headlines repeat the product and keywords by design: a loop is a phrase in most of them.
    return copy_checks(text, brief, loop_phrase=8)


def _fill(brief: AdSetRequest, knowledge: Knowledge) -> AdSetRequest:
    return fill_blanks(
        brief,
        product=knowledge.product_name(brief.language),
        key_message=knowledge.key_message(brief.language),
        audience=knowledge.reader(),
    )


def _token_budget(brief: AdSetRequest) -> int:
    per_char = 1.6 if brief.language == "zh" else 0.4
    chars = sum((f.max_chars or 15) * (f.items[1] if f.items else 1) for f in _fields(brief))
    return int(chars * per_char) + 32 * (brief.headlines + brief.descriptions) // 4 + 64


AD_SET = ContentKind(
    name="ad_set",
    path="/v1/ad-sets",
    title="Write ad sets",
    description="Ads in the exact shapes ad platforms take. `google_rsa`: a responsive "
    "search ad of `headlines` headlines (at most 30 each), `descriptions` descriptions (at "
    "most 90) and up to two display paths (at most 15), no headline twice, counted as "
    "Google counts (double-width characters 2). `meta`: primary text, headline and "
    "description within Meta's recommended 125, 40 and 25 (soft limits). The fields are in "
    "`fields`; each check names the field and the limit.",
    brief_model=AdSetRequest,
    parse=str,
    check=_checks,
    token_budget=_token_budget,
    constraints=only_bans,
    fill=_fill,
    structure=Structure(fields=_fields, render=_render, check=_field_checks),
    template_variants=("google_rsa", "meta"),
    template_variant=lambda brief: brief.format,
)
