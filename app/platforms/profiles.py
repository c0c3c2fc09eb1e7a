"""The platform profiles of `profiles.toml`, loaded once, and the length checks they imply."""

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from app.checks import CheckResult
from app.platforms.counting import COUNTERS, Counting

PROFILES_FILE = Path(__file__).with_name("profiles.toml")
_HASHTAG = {"#tag": re.compile(r"(?<![\w#])#[^\s#]+"), "#topic#": re.compile(r"#[^#\s]+#")}


class FieldProfile(BaseModel):
    """A field's limits and how they are counted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    counting: Counting
    max: int | None = None
    preview: int | None = None
    recommended: int | None = None
    # A list field (an ad's headlines): how many texts it takes.
    min_items: int | None = None
    max_items: int | None = None
    source: str


class PlatformProfile(BaseModel):
    """A platform: its fields, hashtag form and caps, with sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    use: Literal["social", "ads"]
    main_field: str
    hashtag_form: str
    max_hashtags: int | None = None
    hashtags_source: str | None = None
    fields: dict[str, FieldProfile]


@cache
def profiles() -> dict[str, PlatformProfile]:
    """Every platform profile, by key (`x`, `weibo`, ...)."""
    data = tomllib.loads(PROFILES_FILE.read_text(encoding="utf-8"))
    return {key: PlatformProfile.model_validate(value) for key, value in data.items()}


def field_checks(platform: str, field: str, text: str) -> list[CheckResult]:
    """The length checks of one field as the platform counts it, and its hashtag cap."""
    profile = profiles()[platform]
    spec = profile.fields[field]
    length = COUNTERS[spec.counting](text)
    unit = f"{spec.counting.replace('_', ' ')} ({profile.name})"
    where = f"{platform}.{field}"
    results = []
    if spec.max is not None:
        detail = f"{field}: {length} of at most {spec.max}, {unit}"
        results.append(CheckResult(f"{where}.max", length <= spec.max, hard=True, detail=detail))
    if spec.preview is not None:
        # The hook must be seen: the first paragraph should end inside the preview.
        hook = COUNTERS[spec.counting](text.split("\n", 1)[0])
        detail = f"{field}: the first line is {hook}; the feed shows {spec.preview}"
        results.append(
            CheckResult(f"{where}.preview", hook <= spec.preview, hard=False, detail=detail)
        )
    if spec.recommended is not None:
        detail = f"{field}: {length}; {spec.recommended} recommended before it is cut"
        results.append(
            CheckResult(
                f"{where}.recommended", length <= spec.recommended, hard=False, detail=detail
            )
        )
    pattern = _HASHTAG.get(profile.hashtag_form)
    if profile.max_hashtags is not None and pattern is not None:
        tags = len(pattern.findall(text))
        detail = f"{tags} hashtags of at most {profile.max_hashtags}"
        results.append(
            CheckResult(
                f"{platform}.hashtags", tags <= profile.max_hashtags, hard=True, detail=detail
            )
        )
    return results
