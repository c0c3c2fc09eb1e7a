"""Words of a review, in Chinese (jieba's dictionary segmentation) or English, and which of
the two a text is written in. Every insight module segments through here."""

import logging
import re
import unicodedata

import jieba

# jieba logs its dictionary loading (and the seconds it took) otherwise.
jieba.setLogLevel(logging.WARNING)

# Letters and digits of any script, with apostrophes inside a word ("don't", "o'clock").
_EN_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def words(text: str, language: str) -> list[str]:
    """The text's words, lowercased; no punctuation, spaces, emoji or other symbols.

    Chinese: jieba's precise mode (its dictionary, and its HMM for words not in it; the
    dictionary loads once per process, on first use). English: runs of letters and digits."""
    if language == "zh":
        return [w.lower() for w in jieba.lcut(text) if any(c.isalnum() for c in w)]
    return _EN_WORD.findall(text.lower().replace("\u2019", "'"))


def is_chinese(text: str) -> bool:
    """Whether CJK ideographs make up at least a fifth of the text's letters.

    copyforge writes and reads two languages, so detection only has to tell Chinese from
    English, and the script does that: a Chinese review with a brand or model name in it
    ("AirPods 续航很好") is still mostly ideographs, an English one has none. A text with no
    letters at all (digits, emoji) is not Chinese."""
    letters = [c for c in text if unicodedata.category(c).startswith("L")]
    if not letters:
        return False
    han = sum(1 for c in letters if _HAN.match(c))
    return han * 5 >= len(letters)
