"""English review sentiment: VADER, the rule-based lexicon that ships inside the
vaderSentiment package (7,500 human-rated words, emoticons and slang, with rules for
negation, intensifiers, "but" and capitals). Nothing is trained or downloaded.

The label follows VADER's own documented thresholds: compound >= 0.05 positive, <= -0.05
negative, neutral between. docs/insight.md has what else was tried to beat it on product
reviews (classifiers trained on the other labelled sets of its source distribution and on
the IMDB and Rotten Tomatoes reviews another package ships), and by how little they did.
"""

import hashlib
import threading
from collections.abc import Sequence
from functools import cache
from importlib import metadata

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from app.insight.sentiment import Sentiment, SentimentLabel

THRESHOLD = 0.05
# VADER reads a text sentence by sentence; a review far longer than any shop allows is
# judged by its start rather than taking seconds.
MAX_CHARS = 20_000
_lock = threading.Lock()


def label_of(compound: float) -> SentimentLabel:
    """VADER's label for a compound score."""
    if compound >= THRESHOLD:
        return "positive"
    return "negative" if compound <= -THRESHOLD else "neutral"


class EnglishSentiment:
    """VADER behind the SentimentModel protocol."""

    name = "en-vader"

    def __init__(self) -> None:
        self.analyzer = SentimentIntensityAnalyzer()
        lexicon = "".join(f"{w}{v}" for w, v in sorted(self.analyzer.lexicon.items()))
        release = metadata.version("vaderSentiment")
        self.version = f"{release}-{hashlib.sha256(lexicon.encode()).hexdigest()[:8]}"

    def predict(self, texts: Sequence[str]) -> list[Sentiment]:
        """The sentiment of each text; an empty text is neutral."""
        results = []
        for text in texts:
            compound = self.analyzer.polarity_scores(text[:MAX_CHARS])["compound"]
            results.append(Sentiment(label_of(compound), round(float(compound), 4)))
        return results

    def sentiment_words(self) -> frozenset[str]:
        """The words the lexicon rates: opinion words, never aspects."""
        return frozenset(self.analyzer.lexicon)


def english_model() -> EnglishSentiment:
    """The process's English model."""
    with _lock:
        return _model()


@cache
def _model() -> EnglishSentiment:
    return EnglishSentiment()
