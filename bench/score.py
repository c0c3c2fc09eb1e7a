"""The learned score on the embedded model's own slogans, rated by a simulated rater.

A real `copyforge serve` with its embedded defaults writes `--generations` English slogan
generations (4 variants each, over bench.quality's six slogan briefs, new seeds each round).
Nobody here rates them: the simulated rater is VADER (the English sentiment lexicon of the
vaderSentiment package, which the score model never sees), liking upbeat copy: rating =
1 + 4 x (compound + 1) / 2, plus Gaussian noise (sd `--noise`), rounded into 1..5. Each
variant is then shown `--impressions` times with clicks drawn at a rate rising with its
rating (1% to 6%). POST /v1/score-models trains on the ratings and reports held-out Spearman
(folds that keep each generation's variants together), the check score's Spearman on the
same ratings, and the AUC for the simulated clicks.

What this measures: whether the score learns a rater's taste from the features it has (the
text's character n-grams, checks, length, ...) well enough to rank unseen variants. What it
does not: real people's taste. Nothing here is a test threshold.

Run: `.venv/bin/python -m bench.score [--generations 60]` (the embedded model writes about
a generation a second on two cores). Writes bench/results/score.json.
"""

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sklearn.metrics import roc_auc_score
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bench.common import RESULTS_DIR, machine, serve, wait_ready
from bench.quality import BRIEFS


def simulated_rating(analyser: Any, text: str, rng: random.Random, noise: float) -> int:
    """What the simulated rater gives: VADER's compound mapped onto 1..5, with noise."""
    compound = analyser.polarity_scores(text)["compound"]
    return max(1, min(5, round(1 + 4 * (float(compound) + 1) / 2 + rng.gauss(0, noise))))


def run(base_url: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    analyser = SentimentIntensityAnalyzer()
    api = httpx.Client(base_url=base_url, timeout=300)
    briefs = BRIEFS[("ad_slogan", "en")]
    variants: list[tuple[str, int]] = []
    started = time.perf_counter()
    for g in range(args.generations):
        brief = {**briefs[g % len(briefs)], "n": 4, "seed": args.seed + g * 10}
        made = api.post("/v1/ad-slogans", json=brief)
        made.raise_for_status()
        for variant in made.json()["variants"]:
            rating = simulated_rating(analyser, variant["text"], rng, args.noise)
            api.put(f"/v1/variants/{variant['id']}/rating", json={"score": rating})
            variants.append((variant["id"], rating))
    generation_s = time.perf_counter() - started
    now = datetime.now(UTC).isoformat()
    events = []
    labels, truth, weights = [], [], []
    for variant_id, rating in variants:
        rate = 0.01 + 0.05 * (rating - 1) / 4
        clicks = sum(rng.random() < rate for _ in range(args.impressions))
        labels += [1, 0]
        truth += [rating, rating]
        weights += [clicks, args.impressions - clicks]
        kinds = ["impression"] * args.impressions + ["click"] * clicks
        events += [
            {"event_id": f"{variant_id}-{k}", "variant_id": variant_id, "type": kind,
             "occurred_at": now}
            for k, kind in enumerate(kinds)
        ]  # fmt: skip
    for start in range(0, len(events), 1000):
        api.post("/v1/events", json={"events": events[start : start + 1000]}).raise_for_status()
    started = time.perf_counter()
    trained = api.post("/v1/score-models")
    train_s = time.perf_counter() - started
    trained.raise_for_status()
    ratings = [rating for _, rating in variants]
    return {
        "variants": len(variants),
        "rating_histogram": {str(r): ratings.count(r) for r in range(1, 6)},
        "generation_s": round(generation_s, 1),
        "train_s": round(train_s, 2),
        "model": trained.json(),
        # The AUC of the rater's own ratings for the clicks drawn from them: the most any
        # score could reach through the clicks' noise.
        "ceiling_click_auc": round(float(roc_auc_score(labels, truth, sample_weight=weights)), 4),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generations", type=int, default=60)
    parser.add_argument("--impressions", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "score.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp)) as served:
        wait_ready(served, timeout_s=300)
        results = run(served.base_url, args)
    report = {
        "machine": machine(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["results"], indent=2))
    return report


if __name__ == "__main__":
    main()
