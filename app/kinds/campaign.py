"""What the campaign kinds (social posts, emails, ad sets) share: the subject a brief is
about, hashtags in a platform's form, the platform's per-field checks on structured copy."""

import re
from typing import Any

from pydantic import ValidationInfo

from app.checks import CheckResult, rules
from app.platforms.counting import COUNTERS
from app.platforms.profiles import PlatformProfile, field_checks, profiles


def needs_subject(value: Any, info: ValidationInfo) -> Any:
    """A field validator for `topic`, the last of `product` and `topic`: copy is about a
    product or a topic, so one of them, or a `product_id`, must be given."""
    if value is None and info.data.get("product") is None and info.data.get("product_id") is None:
        raise ValueError("give a topic, a product, or a product_id")
    return value


def copy_checks(text: str, brief: Any, *, loop_phrase: int) -> list[CheckResult]:
    """The checks every kind's copy runs and, when the brief names a product, that the copy
    names it too (a small model may copy a worked example's product instead)."""
    results = rules.common(text, brief.language, brief.keywords, loop_phrase=loop_phrase)
    if brief.product:
        results.append(rules.names(text, brief.product))
    return results


def profile(key: str) -> PlatformProfile:
    """A platform's profile (the briefs' Literal keys are tested to match profiles.toml)."""
    return profiles()[key]


_NOT_IN_TAG = re.compile(r"[#\s]+")


def hashtag(tag: str, form: str) -> str:
    """A tag written the platform's way: `#tag` (no spaces) or Weibo's `#话题#`."""
    bare = _NOT_IN_TAG.sub("", tag) if form == "#tag" else tag.strip().strip("#").strip()
    return f"#{bare}#" if form == "#topic#" else f"#{bare}"


def code_point_bound(limit: int, counting: str, language: str) -> int:
    """A platform limit as code points a grammar can bound: a field X weighs or counts in
    display width holds half as many Han characters."""
    halves = counting in ("x_weighted", "display_width") and language == "zh"
    return limit // 2 if halves else limit


def list_checks(platform: str, field: str, name: str, texts: list[str]) -> list[CheckResult]:
    """A list field (an ad's headlines) against its profile: how many, each one's length."""
    spec = profile(platform).fields[field]
    results = []
    fewest, most = spec.min_items or 0, spec.max_items
    count_ok = len(texts) >= fewest and (most is None or len(texts) <= most)
    results.append(
        CheckResult(
            f"{platform}.{field}.count",
            count_ok,
            hard=True,
            detail=f"{name}: {len(texts)}, {fewest} to {most} allowed",
        )
    )
    for index, text in enumerate(texts, 1):
        for result in field_checks(platform, field, text):
            if not result.passed:
                detail = f"{name} {index} ({text!r}): {result.detail}"
                results.append(
                    CheckResult(result.name, False, result.hard, detail=detail, span=text)
                )
    if all(r.passed for r in results[1:]) and texts:
        longest = max(COUNTERS[spec.counting](t) for t in texts)
        results.append(
            CheckResult(
                f"{platform}.{field}.max",
                True,
                hard=True,
                detail=f"{name}: the longest is {longest} of at most {spec.max}",
            )
        )
    return results
