"""Aspects of a review ("battery life: negative", "续航: 负面") and its keywords.

A review is cut into clauses (at punctuation and at "but"-words), each clause gets the
language's sentiment, and the aspect terms of a clause take its polarity: "抓地力很强，就是
鞋带有点短" is grip positive, laces negative. An aspect term is a noun: for Chinese, a word
jieba's dictionary tags as a noun (its tag table, looked up per word: jieba's own tagger is
ten times slower than segmentation); for English, which has no tagger offline, a word that is
neither a stop word nor a sentiment word nor a common verb or adverb, joined with the noun
after it ("battery life"). Terms that mean something in every review ("东西", "product")
are left out. What is an aspect of a *product* is decided over many reviews (the topics and
insights count terms across them); one review's list may hold a stray noun.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import jieba.analyse
import jieba.posseg
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from app.insight.sentiment import Sentiment, SentimentLabel
from app.insight.words import words

VERSION = "1"
MAX_ASPECTS = 8
MAX_KEYWORDS = 5

_ZH_CLAUSE = re.compile(r"[，。！？；、,.!?;~～\n]+|(?:但是|不过|可是|然而|只是)")
_EN_CLAUSE = re.compile(r"[.!?;,\n]+|\b(?:but|however|although|though|except|yet)\b", re.I)
_ZH_NOUN_TAGS = frozenset({"n", "nz", "vn", "ng", "nr"})
# Aspects shops are reviewed on that jieba's dictionary tags as verbs or names.
_ZH_ASPECTS = frozenset(
    {"续航", "包装", "快递", "发货", "做工", "手感", "颜值", "售后", "抓地力", "性价比", "尺码"}
)
_ZH_GENERIC = frozenset(
    {
        *("东西", "感觉", "时候", "问题", "大家", "朋友", "人", "时间", "结果", "有点", "评论"),
        *("宝贝", "商品", "产品", "卖家", "店家", "一个", "个人", "意思", "样子", "感受"),
    }
)
_EN_GENERIC = frozenset(
    {
        *("product", "item", "thing", "things", "time", "times", "lot", "way", "day", "days"),
        *("buy", "bought", "get", "got", "use", "used", "using", "work", "works", "worked"),
        *("make", "made", "makes", "like", "liked", "really", "just", "did", "does", "don't"),
        *("i'm", "it's", "i've", "i'd", "didn't", "doesn't", "isn't", "wasn't", "can't"),
        *("want", "wanted", "need", "needed", "think", "thought", "know", "say", "said"),
        *("order", "ordered", "came", "come", "comes", "went", "go", "going", "try", "tried"),
        *("one", "two", "three", "month", "months", "year", "years", "week", "weeks", "star"),
        "stars",
    }
)
_EN_SKIP = ENGLISH_STOP_WORDS | _EN_GENERIC


@dataclass(frozen=True)
class Aspect:
    """An aspect a review speaks of, with the polarity of the clause it is in."""

    term: str
    polarity: SentimentLabel
    score: float
    quote: str

    def as_json(self) -> dict[str, object]:
        """The stored form."""
        return {
            "term": self.term,
            "polarity": self.polarity,
            "score": round(self.score, 4),
            "quote": self.quote,
        }


def clauses(text: str, language: str) -> list[str]:
    """The text's clauses, in order, without empty ones."""
    pattern = _ZH_CLAUSE if language == "zh" else _EN_CLAUSE
    return [part.strip() for part in pattern.split(text) if part and part.strip()]


def aspect_terms(clause: str, language: str, sentiment_words: frozenset[str]) -> list[str]:
    """The aspect terms of one clause, in order, each once."""
    tokens = words(clause, language)
    found: list[str] = []
    if language == "zh":
        tags = jieba.posseg.dt.word_tag_tab
        for token in tokens:
            if len(token) < 2 or token in _ZH_GENERIC:
                continue
            if token in _ZH_ASPECTS or tags.get(token) in _ZH_NOUN_TAGS:
                found.append(token)
    else:
        kept = [t if _is_en_noun(t, sentiment_words) else None for t in tokens]
        index = 0
        while index < len(kept):
            term = kept[index]
            if term is not None:
                following = kept[index + 1] if index + 1 < len(kept) else None
                if following is not None:
                    term, index = f"{term} {following}", index + 1
                found.append(term)
            index += 1
    return list(dict.fromkeys(found))


def _is_en_noun(token: str, sentiment_words: frozenset[str]) -> bool:
    return (
        len(token) >= 3
        and token.isalpha()
        and token not in _EN_SKIP
        and token not in sentiment_words
        and not token.endswith("ly")
    )


def aspects_of(
    text: str,
    language: str,
    clause_sentiments: Sequence[Sentiment],
    clause_texts: Sequence[str],
    sentiment_words: frozenset[str],
) -> list[Aspect]:
    """The review's aspects, each with the polarity of the first clause naming it."""
    found: dict[str, Aspect] = {}
    for clause, sentiment in zip(clause_texts, clause_sentiments, strict=True):
        for term in aspect_terms(clause, language, sentiment_words):
            if term not in found and len(found) < MAX_ASPECTS:
                found[term] = Aspect(term, sentiment.label, sentiment.score, clause[:200])
    return list(found.values())


def keywords(text: str, language: str) -> list[str]:
    """The few words that say most about this review."""
    if language == "zh":
        return list(jieba.analyse.extract_tags(text, topK=MAX_KEYWORDS))
    counts: dict[str, int] = {}
    for token in words(text, language):
        if len(token) >= 3 and token.isalpha() and token not in _EN_SKIP:
            counts[token] = counts.get(token, 0) + 1
    ranked = sorted(counts, key=lambda t: (-counts[t], -len(t)))
    return ranked[:MAX_KEYWORDS]
