"""The variant parsers and checks on the messy output small models really produce."""

import pytest

from app.checks.ad_law import absolute_claims
from app.checks.text import word_count
from app.kinds.parsing import parse_markdown_article, parse_one_line, parse_prose


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ('Sure! Here is a slogan:\n1. "Grip that holds."', "Grip that holds."),
        ("Slogan: Grip that holds.", "Grip that holds."),
        ("**Tagline:** Run further", "Run further"),
        ("- “Run further”\n- “Run faster”", "Run further"),
        ("好的，以下是广告语：\n「步步抓稳」", "步步抓稳"),
        ("广告语：湿滑岩面，步步抓稳。", "湿滑岩面，步步抓稳。"),
        ("```\nGrip on.\n```", "Grip on."),
        ("\n\n  ", ""),
        # Quotes that do not wrap the whole line stay.
        ('"Run further" and "run faster"', '"Run further" and "run faster"'),
    ],
)
def test_parse_one_line(raw: str, clean: str) -> None:
    assert parse_one_line(raw) == clean


def test_parse_prose_drops_chatter_at_both_ends() -> None:
    raw = (
        "Here's a product description:\n\nIt boils fast.\n\nIt keeps warm.\n\n"
        "Let me know if you need changes!"
    )
    assert parse_prose(raw) == "It boils fast.\n\nIt keeps warm."


@pytest.mark.parametrize(
    "raw",
    [
        "Title: Choosing Shoes\n\nBody text.",
        "**Choosing Shoes**\n\nBody text.",
        "## Choosing Shoes\n\nBody text.",
        "Sure, here is the post:\n# Choosing Shoes\n\nBody text.",
    ],
)
def test_articles_get_a_level_one_title(raw: str) -> None:
    assert parse_markdown_article(raw) == "# Choosing Shoes\n\nBody text."


def test_word_count_counts_han_characters_and_latin_words() -> None:
    assert word_count("Kettle One boils 1.7 L fast") == 7
    assert word_count("三分钟烧开") == 5
    assert word_count("用 Kettle One 泡茶") == 5


def test_absolute_claims_in_both_languages() -> None:
    assert absolute_claims("The best kettle, guaranteed.") == ["The best", "guaranteed"]
    assert absolute_claims("国家级品质，销量第一") == ["国家级", "销量第一"]
    assert absolute_claims("A good kettle.") == []


@pytest.mark.parametrize(
    "copy",
    [
        "Sure footing on slippery stone.",
        "Great taste, zero fuss.",
        "Okay is not enough. Be great.",
        "这是一款三分钟烧开一升水的水壶。",
    ],
)
def test_copy_that_starts_like_chatter_is_kept(copy: str) -> None:
    assert parse_one_line(copy) == copy
    assert parse_prose(copy) == copy


@pytest.mark.parametrize("chatter", ["Sure!", "Okay.", "Here are three options:", "好的！"])
def test_pleasantries_alone_are_not_copy(chatter: str) -> None:
    assert parse_one_line(f"{chatter}\nRun further.") == "Run further."
