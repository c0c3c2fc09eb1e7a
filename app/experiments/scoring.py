"""The learned score: what a workspace's people will rate a variant, learned from what they
rated before.

Features are what the service already knows of a variant: its kind, language, template
version, model, brand and audience; which checks it passed; its length; the share of the
brief's keywords it uses; and its text as
character n-grams (which works for Chinese and English alike, with no segmenter). Both
hashers are stateless, so a model is its linear weights alone: stored as JSON, applied
without pickles. A ridge regression fits the mean rating of each rated variant.

Quality is measured on ratings the model did not see: folds that keep each generation's
variants together (variants of one brief are alike, and a model must not be graded on the
siblings of what it learnt from). The model ranks best-of-N variants only when its held-out
Spearman correlation beats that of the check score, the ranking used until then.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse, stats
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import Ridge
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

FEATURE_VERSION = 1
META_FEATURES = 2**12
TEXT_FEATURES = 2**16
RIDGE_ALPHA = 1.0
FOLDS = 5
RATING_RANGE = (1.0, 5.0)

_META = FeatureHasher(n_features=META_FEATURES, input_type="dict", alternate_sign=False)
_TEXT = HashingVectorizer(
    analyzer="char_wb", ngram_range=(2, 4), n_features=TEXT_FEATURES, alternate_sign=False
)


@dataclass(frozen=True)
class Subject:
    """A variant as the score sees it."""

    kind: str
    language: str
    template_version: str | None
    model: str | None
    brand_id: str | None
    audience_id: str | None
    text: str
    checks: Sequence[dict[str, Any]]
    check_score: float | None
    keywords: Sequence[str] = ()

    def keyword_coverage(self) -> float | None:
        """The share of the brief's keywords the text uses (None when it asked for none)."""
        if not self.keywords:
            return None
        text = self.text.casefold()
        return sum(keyword.casefold() in text for keyword in self.keywords) / len(self.keywords)


def _meta(subject: Subject) -> dict[str, float]:
    features = {
        f"kind={subject.kind}": 1.0,
        f"language={subject.language}": 1.0,
        f"template={subject.kind}:{(subject.template_version or '')[:12]}": 1.0,
        f"model={subject.model}": 1.0,
        f"brand={subject.brand_id}": 1.0,
        f"audience={subject.audience_id}": 1.0,
        "check_score": subject.check_score or 0.0,
        "hard_failed": float(any(c["hard"] and not c["passed"] for c in subject.checks)),
        "log_chars": math.log1p(len(subject.text)) / 5,
        "log_words": math.log1p(len(subject.text.split())) / 5,
    }
    for check in subject.checks:
        features[f"check:{check['name']}={'pass' if check['passed'] else 'fail'}"] = 1.0
    coverage = subject.keyword_coverage()
    if coverage is not None:
        features["keyword_coverage"] = coverage
    return features


def features(subjects: Sequence[Subject]) -> sparse.csr_matrix:
    """The feature rows of the subjects: hashed facts beside hashed text n-grams."""
    meta = _META.transform([_meta(s) for s in subjects])
    text = _TEXT.transform([s.text for s in subjects])
    return sparse.hstack([meta, text], format="csr")


@dataclass(frozen=True)
class LinearScore:
    """A trained score: its weights over the hashed features."""

    intercept: float
    weights: np.ndarray

    def predict(self, subjects: Sequence[Subject]) -> list[float]:
        """Expected ratings, within the rating scale."""
        if not subjects:
            return []
        raw = features(subjects) @ self.weights + self.intercept
        return [round(float(v), 3) for v in np.clip(raw, *RATING_RANGE)]

    def as_json(self) -> dict[str, Any]:
        """Only the weights that are not zero (features never seen have none)."""
        nonzero = np.flatnonzero(np.abs(self.weights) > 1e-12)
        return {
            "feature_version": FEATURE_VERSION,
            "intercept": self.intercept,
            "weights": {str(int(i)): float(self.weights[i]) for i in nonzero},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LinearScore":
        weights = np.zeros(META_FEATURES + TEXT_FEATURES)
        for index, weight in data["weights"].items():
            weights[int(index)] = weight
        return cls(float(data["intercept"]), weights)


def fit(subjects: Sequence[Subject], ratings: Sequence[float]) -> LinearScore:
    """A ridge regression of the ratings on the subjects' features."""
    model = Ridge(alpha=RIDGE_ALPHA).fit(features(subjects), np.asarray(ratings))
    return LinearScore(float(model.intercept_), np.asarray(model.coef_, dtype=float))


@dataclass(frozen=True)
class Report:
    """A trained score with how well it did on what it did not see."""

    score: LinearScore
    held_out: int
    spearman: float | None
    baseline_spearman: float | None
    click_auc: float | None
    click_variants: int

    @property
    def ranks(self) -> bool:
        """Whether it ranks better than the check score did on the held-out ratings."""
        return self.spearman is not None and self.spearman > (self.baseline_spearman or 0.0)


def _spearman(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    # None when either side is constant (no ranking to compare), as for a check score that
    # every variant shares.
    if len(set(predicted)) < 2 or len(set(actual)) < 2:
        return None
    return round(float(stats.spearmanr(predicted, actual).statistic), 4)


@dataclass(frozen=True)
class Clicks:
    """A variant's impressions and clicks, for the click AUC."""

    subject: Subject
    impressions: int
    clicks: int


def train(
    subjects: Sequence[Subject],
    ratings: Sequence[float],
    generations: Sequence[str],
    clicked: Sequence[Clicks] = (),
) -> Report:
    """Fit on every rating; report held-out Spearman (folds by generation) against the check
    score's, and the AUC of the score for clicks over variants with enough impressions."""
    folds = GroupKFold(n_splits=min(FOLDS, len(set(generations))))
    predicted = np.zeros(len(subjects))
    for train_rows, test_rows in folds.split(subjects, ratings, groups=generations):
        model = fit([subjects[i] for i in train_rows], [ratings[i] for i in train_rows])
        predicted[test_rows] = model.predict([subjects[i] for i in test_rows])
    baseline = [s.check_score or 0.0 for s in subjects]
    final = fit(subjects, ratings)
    return Report(
        score=final,
        held_out=len(subjects),
        spearman=_spearman(predicted.tolist(), list(ratings)),
        baseline_spearman=_spearman(baseline, list(ratings)),
        click_auc=_click_auc(final, clicked),
        click_variants=len(clicked),
    )


def _click_auc(score: LinearScore, clicked: Sequence[Clicks]) -> float | None:
    """AUC over impressions: how often a clicked impression's variant scores above an
    unclicked one's (each variant's impressions weighted as its counts say)."""
    if not clicked:
        return None
    predicted = score.predict([c.subject for c in clicked])
    labels, values, weights = [], [], []
    for entry, value in zip(clicked, predicted, strict=True):
        clicks = min(entry.clicks, entry.impressions)
        labels += [1, 0]
        values += [value, value]
        weights += [clicks, entry.impressions - clicks]
    # Labels alternate clicked, unclicked: without both kinds there is nothing to rank.
    if not any(weights[0::2]) or not any(weights[1::2]):
        return None
    return round(float(roc_auc_score(labels, values, sample_weight=weights)), 4)
