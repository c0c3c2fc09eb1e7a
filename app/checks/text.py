"""Counting and spotting things in text, the same way for English and Chinese."""

import re

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")
PLACEHOLDER = re.compile(
    r"\[[^\]\n]{2,40}\]|\{\{?[^}\n]{1,40}\}\}?|<[A-Z][A-Z _]{2,30}>|【[^】\n]{1,20}名称】"
)


# Prompt markup a model echoes (`<text>`, `</brief>`), or a label left before the copy.
MARKUP = re.compile(
    r"</?[A-Za-z][\w -]{0,30}>"
    r"|^\s*(?:slogan|tagline|headline|product(?: name)?|key message|brief|text)\s*\d*\s*[:：]"
    r"|^\s*(?:广告语|标语|口号|文案|产品名称|产品功能|目标顾客|核心信息|语气)\s*[:：]",
    re.IGNORECASE | re.MULTILINE,
)
# A line that is a labelled field ("产品名称：…", "Target customer: …", "- Tone: …").
LABEL_LINE = re.compile(r"^\s*(?:[-*•]\s*)?[\w\u4e00-\u9fff ]{1,20}[:：]\s*\S")
_TOKEN = re.compile(f"{LATIN_WORD.pattern}|{HAN.pattern}")


def tokens(text: str) -> list[str]:
    """Latin-script words and single Han characters, lower-cased, in order."""
    return [token.lower() for token in _TOKEN.findall(text)]


def shared_phrase(text: str, source: str, size: int, latin_size: int) -> str | None:
    """The stretch of `text` it takes from `source`: `size` tokens in a row, or `latin_size`
    when they are all Latin words (a word says more than a Han character); None if none."""
    found = list(_TOKEN.finditer(text))
    words = [m.group(0).lower() for m in found]
    for run in (latin_size, size):
        taken = {tuple(g) for g in _grams(tokens(source), run)}
        for start, gram in enumerate(_grams(words, run)):
            if tuple(gram) in taken and (run == size or not any(HAN.fullmatch(w) for w in gram)):
                return text[found[start].start() : found[start + run - 1].end()]
    return None


def _grams(words: list[str], size: int) -> list[list[str]]:
    return [words[i : i + size] for i in range(len(words) - size + 1)]


def _joined(gram: list[str] | tuple[str, ...]) -> str:
    return ("" if all(HAN.fullmatch(w) for w in gram) else " ").join(gram)


def repeated_phrase(text: str, size: int, times: int) -> str | None:
    """A phrase of `size` tokens that occurs `times` times or more, if there is one."""
    words = tokens(text)
    counts: dict[tuple[str, ...], int] = {}
    for start in range(len(words) - size + 1):
        gram = tuple(words[start : start + size])
        counts[gram] = counts.get(gram, 0) + 1
        if counts[gram] >= times:
            return _joined(gram)
    return None


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
