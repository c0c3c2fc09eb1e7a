"""Counting and spotting things in text, the same way for English and Chinese."""

import re

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
PLACEHOLDER = re.compile(
    r"\[[^\]\n]{2,40}\]|\{\{?[^}\n]{1,40}\}\}?|<[A-Z][A-Z _]{2,30}>|【[^】\n]{1,20}名称】"
)


def word_count(text: str) -> int:
    """Words in Latin script plus Han characters (in Chinese copy a character counts as a word)."""
    return len(HAN.findall(text)) + len(LATIN_WORD.findall(text))


def han_share(text: str) -> float:
    """Share of Han characters among the letters of a text."""
    han = len(HAN.findall(text))
    latin = sum(len(w) for w in LATIN_WORD.findall(text))
    return han / (han + latin) if han + latin else 0.0


def contains_phrase(text: str, phrase: str) -> bool:
    """Case-insensitive containment, ignoring runs of white space."""
    squash = re.compile(r"\s+")
    return squash.sub(" ", phrase.lower()) in squash.sub(" ", text.lower())
