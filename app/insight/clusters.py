"""Grouping reviews by the terms they use: what topics and personas are both made of.

Each review is the bag of terms its analysis found (keywords and aspect terms, or for
personas its aspects with their polarity, "+grip" and "-laces"), TF-IDF weighted. k-means
(scikit-learn's MiniBatchKMeans: linear in the reviews, seconds for 100,000) groups them;
the number of groups is the one, from 2 up to a cap, whose silhouette (cosine) is best on a
sample: it comes from the data, and the cap keeps a page readable.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score

MIN_REVIEWS = 20  # fewer than this are one group: there is nothing to tell apart
SAMPLE = 3000  # reviews the silhouette of each k is measured on
SEED = 0


@dataclass(frozen=True)
class Cluster:
    """One group: its members (indexes into the input), top terms, and the members nearest
    its centre, nearest first."""

    members: list[int]
    terms: list[str]
    central: list[int]


def cluster(bags: Sequence[Sequence[str]], *, cap: int, top_terms: int = 5) -> list[Cluster]:
    """Groups of the bags that have terms, largest first; empty bags belong to none."""
    indexes = [i for i, bag in enumerate(bags) if bag]
    if not indexes:
        return []
    vectorizer = TfidfVectorizer(
        analyzer=lambda bag: bag, min_df=2 if len(indexes) >= MIN_REVIEWS else 1
    )
    try:
        matrix = vectorizer.fit_transform([bags[i] for i in indexes])
    except ValueError:  # no term in two reviews
        return []
    vocabulary = np.array(vectorizer.get_feature_names_out())
    keep = np.asarray(matrix.sum(axis=1)).ravel() > 0
    indexes = [i for i, k in zip(indexes, keep, strict=True) if k]
    matrix = matrix[keep]
    if matrix.shape[0] == 0:
        return []
    k = _best_k(matrix, cap)
    if k == 1:
        labels = np.zeros(matrix.shape[0], dtype=int)
        centres = np.asarray(matrix.mean(axis=0))
    else:
        model = MiniBatchKMeans(n_clusters=k, random_state=SEED, n_init=3, batch_size=2048)
        labels = model.fit_predict(matrix)
        centres = model.cluster_centers_
    clusters = []
    for label in range(k):
        rows = np.flatnonzero(labels == label)
        if len(rows) == 0:
            continue
        centre = centres[label]
        order = np.argsort(-centre)[:top_terms]
        terms = [str(vocabulary[j]) for j in order if centre[j] > 0]
        closeness = np.asarray(matrix[rows] @ centre).ravel()
        nearest = rows[np.argsort(-closeness)[:10]]
        clusters.append(
            Cluster(
                members=[indexes[r] for r in rows],
                terms=terms,
                central=[indexes[r] for r in nearest],
            )
        )
    return sorted(clusters, key=lambda c: -len(c.members))


def _best_k(matrix: object, cap: int) -> int:
    rows = matrix.shape[0]  # type: ignore[attr-defined]
    if rows < MIN_REVIEWS or cap < 2:
        return 1
    rng = np.random.default_rng(SEED)
    sample = matrix[rng.choice(rows, size=min(rows, SAMPLE), replace=False)]  # type: ignore[index]
    best_k, best_score = 1, -1.0
    for k in range(2, min(cap, rows // 10) + 1):
        labels = MiniBatchKMeans(n_clusters=k, random_state=SEED, n_init=3).fit_predict(sample)
        if len(set(labels)) < 2:
            continue
        score = float(silhouette_score(sample, labels, metric="cosine", random_state=SEED))
        if score > best_score:
            best_k, best_score = k, score
    return best_k
