"""Platform profiles and counting: X's weighted length against X's own conformance cases,
display width, the profiles' limits, and `POST /v1/checks` with a platform."""

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from twitter_text import parse_tweet
from twitter_text.config import config

from app.platforms.counting import characters, display_width, x_weighted
from app.platforms.profiles import field_checks, profiles

CONFORMANCE = yaml.safe_load(
    (Path(__file__).parent / "data" / "twitter_text_validate.yml").read_text(encoding="utf-8")
)["tests"]
# The sections and the twitter-text configuration each was written for: the first predates
# emoji discounting (config v2); the others are X's current rules (v3, what copyforge counts).
SECTIONS = {
    "WeightedTweetsCounterTest": {**config["version2"], "emoji_parsing_enabled": False},
    "WeightedTweetsWithDiscountedEmojiCounterTest": config["version3"],
    "UnicodeDirectionalMarkerCounterTest": config["version3"],
}
CASES = [
    pytest.param(case, SECTIONS[section], id=f"{section}: {case['description']}")
    for section in SECTIONS
    for case in CONFORMANCE[section]
]


@pytest.mark.parametrize(("case", "options"), CASES)
def test_x_conformance(case: dict[str, Any], options: dict[str, Any]) -> None:
    result = parse_tweet(case["text"], options)
    expected = case["expected"]
    assert result.weightedLength == expected["weightedLength"]
    assert result.valid == expected["valid"]
    assert result.permillage == expected["permillage"]
    assert (result.validRangeStart, result.validRangeEnd) == (
        expected["validRangeStart"],
        expected["validRangeEnd"],
    )


def test_every_conformance_section_is_kept() -> None:
    assert sum(len(CONFORMANCE[s]) for s in SECTIONS) == 44


def test_copyforge_counts_x_by_the_current_rules() -> None:
    for case in CONFORMANCE["WeightedTweetsWithDiscountedEmojiCounterTest"]:
        assert x_weighted(case["text"]) == case["expected"]["weightedLength"]
    assert x_weighted("极光越野跑鞋") == 12
    assert x_weighted("Run https://example.com/a/very/long/path") == 4 + 23


@pytest.mark.parametrize(
    ("text", "width", "chars"),
    [("极光越野跑鞋", 12, 6), ("Aurora", 6, 6), ("ＡＢ", 4, 2), ("cafe\u0301", 4, 4)],
)
def test_display_width_and_characters(text: str, width: int, chars: int) -> None:
    assert display_width(text) == width
    assert characters(text) == chars


def test_every_profile_figure_has_a_source() -> None:
    for key, profile in profiles().items():
        assert profile.main_field in profile.fields, key
        for name, field in profile.fields.items():
            assert field.source, f"{key}.{name}"
            assert field.max or field.recommended, f"{key}.{name} has no limit"
        if profile.max_hashtags is not None:
            assert profile.hashtags_source, key


def test_field_checks_name_the_field_and_the_limit() -> None:
    over = field_checks("xiaohongshu", "title", "极光越野跑鞋，湿滑岩石上也稳稳当当的好鞋子")
    assert over[0].name == "xiaohongshu.title.max"
    assert over[0].passed is False
    assert "title: 42 of at most 40" in str(over[0].detail)
    tags = field_checks(
        "instagram", "caption", "Trail day.\n" + " ".join(f"#t{i}" for i in range(6))
    )
    assert [c.name for c in tags if not c.passed] == ["instagram.hashtags"]


async def test_checks_endpoint_counts_as_the_platform(client: httpx.AsyncClient) -> None:
    post = "极光越野跑鞋" * 24  # 144 characters, 288 weighted
    answer = await client.post("/v1/checks", json={"text": post, "platform": "x", "language": "zh"})
    assert answer.status_code == 200, answer.text
    checks = {c["name"]: c for c in answer.json()["checks"]}
    assert checks["x.text.max"]["passed"] is False
    assert "288 of at most 280" in checks["x.text.max"]["detail"]
    weibo = await client.post(
        "/v1/checks", json={"text": post, "platform": "weibo", "language": "zh"}
    )
    assert {c["name"]: c for c in weibo.json()["checks"]}["weibo.text.max"]["passed"] is True


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"text": "hi", "platform": "myspace"}, "platform"),
        ({"text": "hi", "platform": "x", "field": "title"}, "field"),
        ({"text": "hi", "field": "title"}, "field"),
        ({"text": "hi", "platform": "X"}, "platform"),
    ],
)
async def test_bad_platforms_and_fields_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    answer = await client.post("/v1/checks", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["param"] == param


async def test_platforms_are_listed_with_sources(client: httpx.AsyncClient) -> None:
    listed = (await client.get("/v1/platforms")).json()
    x = next(p for p in listed if p["key"] == "x")
    assert x["fields"]["text"]["max"] == 280
    assert "docs.x.com" in x["fields"]["text"]["source"]
    assert {p["key"] for p in listed} >= {"x", "weibo", "xiaohongshu", "wechat", "linkedin"}
