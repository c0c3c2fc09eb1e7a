"""Social posts: one platform's post (X, Weibo, Xiaohongshu, a WeChat article, LinkedIn,
Instagram, Facebook) with its fields (title, digest, body, hashtags) counted the way that
platform counts them."""

from typing import Annotated, Literal, get_args

from pydantic import ConfigDict, Field, field_validator, model_validator

from app.checks import CheckResult
from app.fields import AS_INTEGER, LongWording, WebUrl, Wording
from app.kinds.base import Brief, ContentKind, fill_blanks, only_bans
from app.kinds.campaign import code_point_bound, copy_checks, hashtag, needs_subject, profile
from app.kinds.structured import OutputField, Structure, Values
from app.knowledge.bundle import Knowledge
from app.platforms.counting import COUNTERS
from app.platforms.profiles import field_checks

SocialPlatform = Literal["x", "weibo", "xiaohongshu", "wechat", "linkedin", "instagram", "facebook"]
SOCIAL_PLATFORMS: tuple[str, ...] = get_args(SocialPlatform)
Goal = Literal["launch", "promotion", "engagement", "event"]

# How long a post runs unless the brief says (`max_chars`), in the platform's own count: a
# post, not the platform's ceiling (a 20,000-character article is not a small model's job).
DEFAULT_LENGTH = {
    "x": 240,
    "weibo": 300,
    "xiaohongshu": 600,
    "wechat": 1500,
    "linkedin": 1200,
    "instagram": 600,
    "facebook": 400,
}
# Hashtags written unless the brief says, within the platform's cap.
DEFAULT_HASHTAGS = 3
# Room a hashtag takes in the body's limit ("#" and a space included), in code points.
_TAG_ROOM = 12
_TITLE_FIELDS = ("title", "digest")
# A hashtag's text: letters, digits, Han characters (a maxLength bounds it; a pattern with a
# repetition would make the grammar far larger).
HASHTAG_PATTERN = r"^[A-Za-z0-9_\u00c0-\u024f\u4e00-\u9fff]+$"


class SocialPostRequest(Brief):
    """Brief for a social post on one platform."""

    platform: SocialPlatform = Field(
        description="Where it is posted; its limits and counting: `GET /v1/platforms`."
    )
    product: Wording | None = Field(
        None, description="What the post sells (default: the product's name)."
    )
    topic: Wording | None = Field(
        None,
        validate_default=True,
        description="What the post is about, when not (only) a product.",
    )
    key_message: LongWording | None = Field(
        None, description="What it must get across (default: the product's approved claims)."
    )
    goal: Goal = Field("promotion", description="launch, promotion, engagement or event.")
    call_to_action: Wording | None = Field(None, description="What the reader should do.")
    cta_url: WebUrl | None = Field(
        None, description="The link the post ends with (http or https); counted as X counts it."
    )
    hashtags: bool | None = Field(
        None,
        description="Write hashtags (default: where the platform has them). Weibo's are "
        "topics, `#话题#`.",
    )
    max_hashtags: Annotated[int, Field(ge=0, le=30), AS_INTEGER] | None = Field(
        None, description="Most hashtags (default 3; at most the platform's cap)."
    )
    max_chars: Annotated[int, Field(ge=20, le=20000), AS_INTEGER] | None = Field(
        None,
        description="Longest main text (body, hashtags and link), as the platform counts; at "
        "most the platform's limit (default: a typical post's length there).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "platform": "xiaohongshu",
                    "product": "极光越野跑鞋",
                    "key_message": "湿滑岩石上也抓得住，单只 210 克",
                    "goal": "launch",
                    "call_to_action": "点击主页链接了解",
                    "language": "zh",
                    "n": 2,
                }
            ]
        },
    )

    _subject = field_validator("topic")(needs_subject)

    @model_validator(mode="after")
    def _within_platform(self) -> "SocialPostRequest":
        spec = profile(self.platform)
        main = spec.fields[spec.main_field]
        if self.max_chars is not None and main.max is not None and self.max_chars > main.max:
            raise ValueError(f"max_chars: {spec.name} takes at most {main.max}")
        if spec.hashtag_form == "none" and (self.hashtags or self.max_hashtags):
            raise ValueError(f"hashtags: {spec.name} has no hashtags")
        cap = spec.max_hashtags
        if cap is not None and self.max_hashtags is not None and self.max_hashtags > cap:
            raise ValueError(f"max_hashtags: {spec.name} takes at most {cap}")
        return self

    def wants_hashtags(self) -> int:
        """How many hashtags to write: none where the platform has none or the brief says."""
        spec = profile(self.platform)
        if spec.hashtag_form == "none" or self.hashtags is False:
            return 0
        wanted = DEFAULT_HASHTAGS if self.max_hashtags is None else self.max_hashtags
        return min(wanted, spec.max_hashtags or wanted)

    def main_limit(self) -> int:
        """The main text's limit, in the platform's count."""
        spec = profile(self.platform)
        main = spec.fields[spec.main_field]
        length = self.max_chars or DEFAULT_LENGTH[self.platform]
        return min(length, main.max) if main.max is not None else length


def _fields(brief: SocialPostRequest) -> list[OutputField]:
    spec = profile(brief.platform)
    fields = [
        OutputField(
            name,
            f"The {name}, within {limit.max} ({limit.counting.replace('_', ' ')})",
            max_chars=code_point_bound(limit.max or 200, limit.counting, brief.language),
        )
        for name, limit in spec.fields.items()
        if name in _TITLE_FIELDS
    ]
    main = spec.fields[spec.main_field]
    room = brief.wants_hashtags() * _TAG_ROOM + (24 if brief.cta_url else 0)
    body = code_point_bound(brief.main_limit(), main.counting, brief.language) - room
    body = max(body, 20)
    # A post says something: "..." or a bare name is no body.
    least = min(15 if brief.language == "zh" else 40, body // 2)
    fields.append(OutputField("body", "The post itself", max_chars=body, min_chars=least))
    if tags := brief.wants_hashtags():
        fields.append(
            OutputField(
                "hashtags",
                "Hashtags, without #",
                max_chars=24,
                items=(1, tags),
                pattern=HASHTAG_PATTERN,
            )
        )
    return fields


def _main_text(values: Values, brief: SocialPostRequest) -> str:
    """The body as posted: the link, then the hashtags in the platform's form."""
    form = profile(brief.platform).hashtag_form
    parts = [values.get("body", "")]
    if brief.cta_url and brief.cta_url not in parts[0]:
        parts.append(brief.cta_url)
    tags = [hashtag(t, form) for t in values.get("hashtags", [])]
    if tags:
        parts.append(" ".join(tags))
    return "\n\n".join(p for p in parts if p)


def _render(values: Values, brief: SocialPostRequest) -> str:
    heads = [values[name] for name in _TITLE_FIELDS if values.get(name)]
    return "\n\n".join([*heads, _main_text(values, brief)])


def _field_checks(values: Values, brief: SocialPostRequest) -> list[CheckResult]:
    spec = profile(brief.platform)
    results = []
    for name in _TITLE_FIELDS:
        if name in spec.fields and values.get(name):
            results += field_checks(brief.platform, name, values[name])
    main = _main_text(values, brief)
    results += field_checks(brief.platform, spec.main_field, main)
    if brief.max_chars is not None:
        results.append(_within_brief(brief, main))
    wanted = brief.wants_hashtags()
    written = len(values.get("hashtags", []))
    results.append(
        CheckResult(
            "hashtags",
            written <= wanted and (written > 0 or wanted == 0),
            hard=written > wanted,
            detail=f"{written} hashtags, {wanted} wanted",
        )
    )
    return results


def _within_brief(brief: SocialPostRequest, main: str) -> CheckResult:
    """The main text within the brief's own `max_chars`, as the platform counts."""
    spec = profile(brief.platform)
    length = COUNTERS[spec.fields[spec.main_field].counting](main)
    limit = brief.main_limit()
    return CheckResult(
        "max_chars",
        length <= limit,
        hard=True,
        detail=f"{spec.main_field}: {length} of at most {limit} asked",
    )


def _checks(text: str, brief: SocialPostRequest) -> list[CheckResult]:
    return copy_checks(text, brief, loop_phrase=6)


def _fill(brief: SocialPostRequest, knowledge: Knowledge) -> SocialPostRequest:
    filled = fill_blanks(
        brief,
        product=knowledge.product_name(brief.language),
        key_message=knowledge.key_message(brief.language),
        audience=knowledge.reader(),
    )
    # The platform's defaults written into the brief: the template states them, the checks
    # hold the copy to them, and the history shows what was asked.
    tags = filled.wants_hashtags()
    return fill_blanks(filled, max_chars=filled.main_limit(), max_hashtags=tags, hashtags=tags > 0)


def _token_budget(brief: SocialPostRequest) -> int:
    # The JSON's keys and quotes, then the text: a Han character one or two tokens, English
    # three or four characters a token.
    per_char = 1.6 if brief.language == "zh" else 0.4
    chars = sum(f.max_chars or 0 for f in _fields(brief)) + brief.wants_hashtags() * 12
    return int(chars * per_char) + 64


SOCIAL_POST = ContentKind(
    name="social_post",
    path="/v1/social-posts",
    title="Write social posts",
    description="A post for one platform (X, Weibo, Xiaohongshu, a WeChat Official Account "
    "article, LinkedIn, Instagram, Facebook): its fields (title, digest, body, hashtags) as "
    "`fields`, the post as pasted as `text`, each checked the way the platform counts it "
    "(X's weighted length, display width, characters), naming the field and the limit.",
    brief_model=SocialPostRequest,
    parse=str,
    check=_checks,
    token_budget=_token_budget,
    constraints=only_bans,
    fill=_fill,
    structure=Structure(fields=_fields, render=_render, check=_field_checks),
    template_variants=SOCIAL_PLATFORMS,
    template_variant=lambda brief: brief.platform,
)
