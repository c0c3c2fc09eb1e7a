"""The statistics of an experiment: Beta posteriors, Thompson weights, sticky buckets.

Each arm's rate (clicks or conversions per impression) has a Beta(1 + successes,
1 + failures) posterior, the uniform prior updated by what was seen. Thompson sampling shows
an arm as often as it is the best one under the posterior, so traffic moves to the winner
while the experiment still learns; P(best) and the expected loss (how much rate is given up
by choosing an arm, on average over the posterior) come from one set of joint draws. The
draws use a fixed seed: the same counts give the same weights in every replica.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

DRAWS = 20_000
SEED = 20_261_207
CREDIBLE_LEVEL = 0.95


@dataclass(frozen=True)
class Counts:
    """What an arm has seen: impressions (trials) and goal events (successes)."""

    trials: int
    successes: int

    def posterior(self) -> tuple[float, float]:
        """The Beta parameters (alpha, beta); successes beyond the trials count as trials."""
        successes = min(self.successes, self.trials)
        return 1.0 + successes, 1.0 + self.trials - successes


@dataclass(frozen=True)
class Posterior:
    """What the counts say about every arm, in arm order."""

    means: list[float]
    intervals: list[tuple[float, float]]
    p_best: list[float]
    expected_loss: list[float]


def summarise(arms: Sequence[Counts], draws: int = DRAWS, seed: int = SEED) -> Posterior:
    """Posterior means, 95% credible intervals, P(best) and expected loss of each arm."""
    alpha = np.array([arm.posterior()[0] for arm in arms])
    beta = np.array([arm.posterior()[1] for arm in arms])
    tail = (1 - CREDIBLE_LEVEL) / 2
    low, high = stats.beta.ppf([[tail], [1 - tail]], alpha, beta)
    samples = np.random.default_rng(seed).beta(alpha[:, None], beta[:, None], (len(arms), draws))
    best = np.bincount(samples.argmax(axis=0), minlength=len(arms)) / draws
    loss = (samples.max(axis=0) - samples).mean(axis=1)
    return Posterior(
        means=(alpha / (alpha + beta)).tolist(),
        intervals=list(zip(low.tolist(), high.tolist(), strict=True)),
        p_best=best.tolist(),
        expected_loss=loss.tolist(),
    )


def thompson_weights(p_best: Sequence[float], floor: float) -> list[float]:
    """Traffic shares from P(best), each at least `floor` (which is capped at an equal share)."""
    floor = min(floor, 1 / len(p_best))
    spare = 1 - floor * len(p_best)
    return [floor + spare * p for p in p_best]


def proposed_winner(posterior: Posterior, min_p_best: float, max_loss: float) -> int | None:
    """The arm to call the winner, when one is best with P >= min_p_best at a small loss."""
    if not posterior.p_best:
        return None
    arm = int(np.argmax(posterior.p_best))
    if posterior.p_best[arm] >= min_p_best and posterior.expected_loss[arm] < max_loss:
        return arm
    return None


def bucket(seed: str, unit_id: str) -> float:
    """A unit's fixed place in [0, 1) for one experiment: the same unit, the same place."""
    digest = hashlib.sha256(f"{seed}\x00{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose(weights: Sequence[float], place: float) -> int:
    """The arm whose slice of [0, 1), laid out in arm order, holds `place`.

    Slices keep their order as weights move, so a unit changes arm only when a boundary
    crosses its place: most units keep what they saw."""
    edge = 0.0
    for arm, weight in enumerate(weights):
        edge += weight
        if place < edge:
            return arm
    return len(weights) - 1
