"""Lengths as each platform counts them.

- `characters`: Unicode code points after NFC (what most platforms' counters show).
- `x_weighted`: X's weighted length, by twitter-text's own rules (the `twitter-text-parser`
  package, a port of X's library, checked against X's conformance cases in
  tests/test_platforms.py): code points outside X's light ranges weigh 2 (CJK, emoji), an
  emoji sequence counts once, any URL counts 23, NFC first.
- `display_width`: East Asian wide and full-width characters count 2, others 1 (a title
  "at most 20 Chinese characters" is 40 units, so 40 Latin letters also fit).
"""

import unicodedata
from collections.abc import Callable
from typing import Literal

from twitter_text import parse_tweet

Counting = Literal["characters", "x_weighted", "display_width"]


def characters(text: str) -> int:
    """Code points after NFC."""
    return len(unicodedata.normalize("NFC", text))


def x_weighted(text: str) -> int:
    """X's weighted length (280 fit in a post)."""
    return int(parse_tweet(text).weightedLength)


def display_width(text: str) -> int:
    """Width in columns: East Asian wide (W) and full-width (F) characters count 2."""
    normal = unicodedata.normalize("NFC", text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in normal)


COUNTERS: dict[Counting, Callable[[str], int]] = {
    "characters": characters,
    "x_weighted": x_weighted,
    "display_width": display_width,
}
