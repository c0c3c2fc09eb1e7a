"""Simulated experiments through the service's own bandit (app/experiments/bandit.py).

Arms with known click rates (by default 5 arms between 2% and 5%) are shown to 100,000
visitors, each a new unit placed by its bucket, with the weights recomputed after every 200
impressions (the service's default cadence), a burn-in of 100 impressions per arm and a 1%
floor. Per seed: the cumulative regret (clicks lost against always showing the best arm)
of Thompson weights, against an equal split's expected regret; whether and when a winner
was proposed (P(best) >= 0.95 and expected loss < 0.001), and whether it was the true best.

Run: `.venv/bin/python -m bench.bandit [--seeds 20] [--impressions 100000] [--json PATH]`.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from app.experiments.bandit import Counts, choose, proposed_winner, summarise, thompson_weights
from bench.common import python_speed_s

RATES = [0.02, 0.0275, 0.035, 0.0425, 0.05]
REFRESH = 200
BURN_IN = 100
FLOOR = 0.01
MIN_P_BEST, MAX_LOSS = 0.95, 0.001


def simulate(rates: list[float], impressions: int, seed: int) -> dict[str, float | None]:
    """One experiment: regret, and the winner proposed (arm and impression), if any."""
    rng = np.random.default_rng(seed)
    arms = len(rates)
    trials, clicks = [0] * arms, [0] * arms
    weights = [1 / arms] * arms
    regret, winner, winner_at = 0.0, None, None
    best = max(rates)
    for start in range(0, impressions, REFRESH):
        places = rng.random(min(REFRESH, impressions - start))
        for place in places:
            arm = choose(weights, float(place))
            trials[arm] += 1
            clicks[arm] += int(rng.random() < rates[arm])
            regret += best - rates[arm]
        if min(trials) < BURN_IN:
            continue
        posterior = summarise([Counts(t, c) for t, c in zip(trials, clicks, strict=True)])
        weights = thompson_weights(posterior.p_best, FLOOR)
        if winner is None:
            proposal = proposed_winner(posterior, MIN_P_BEST, MAX_LOSS)
            if proposal is not None:
                winner, winner_at = proposal, start + len(places)
    return {"regret": regret, "winner": winner, "winner_at": winner_at}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--impressions", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    speed = python_speed_s()
    started = time.perf_counter()
    runs = [simulate(RATES, args.impressions, seed) for seed in range(args.seeds)]
    elapsed = time.perf_counter() - started
    equal_regret = args.impressions * (max(RATES) - statistics.fmean(RATES))
    regrets = [float(run["regret"] or 0) for run in runs]
    proposed = [run for run in runs if run["winner"] is not None]
    true_best = RATES.index(max(RATES))
    figures = {
        "python_speed_s": round(speed, 3),
        "arms": RATES,
        "impressions": args.impressions,
        "seeds": args.seeds,
        "equal_split_regret": round(equal_regret, 1),
        "thompson_regret_mean": round(statistics.fmean(regrets), 1),
        "thompson_regret_max": round(max(regrets), 1),
        "regret_share_of_equal_split": round(statistics.fmean(regrets) / equal_regret, 3),
        "oracle_regret": 0,
        "winner_proposed": f"{len(proposed)}/{args.seeds}",
        "proposed_winner_is_true_best": f"{sum(r['winner'] == true_best for r in proposed)}"
        f"/{len(proposed)}",
        "impressions_to_winner_median": statistics.median(
            [float(r["winner_at"] or 0) for r in proposed]
        )
        if proposed
        else None,
        "seconds": round(elapsed, 1),
    }
    for name, value in figures.items():
        print(f"{name:34} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
