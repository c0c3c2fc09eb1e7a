"""The experiment statistics against closed forms, and sticky bucketing."""

import math

import pytest
from scipy import special, stats

from app.experiments.bandit import (
    Counts,
    bucket,
    choose,
    proposed_winner,
    summarise,
    thompson_weights,
)


def p_a_beats_b(a: Counts, b: Counts) -> float:
    """P(rate of a > rate of b) for Beta posteriors, in closed form (integer alpha of b)."""
    a1, b1 = a.posterior()
    a2, b2 = b.posterior()
    total = 0.0
    for i in range(int(a2)):
        total += math.exp(
            special.betaln(a1 + i, b1 + b2)
            - math.log(b2 + i)
            - special.betaln(1 + i, b2)
            - special.betaln(a1, b1)
        )
    return 1 - total


def test_the_posterior_is_the_uniform_prior_updated_by_the_counts() -> None:
    assert Counts(trials=100, successes=7).posterior() == (8.0, 94.0)
    # Goal events without impressions (lost or late) never make a negative failure count.
    assert Counts(trials=3, successes=5).posterior() == (4.0, 1.0)


@pytest.mark.parametrize("n", [0, 4, 50])
def test_credible_interval_of_all_successes(n: int) -> None:
    # Beta(n + 1, 1) has CDF x^(n+1): its quantiles are q^(1/(n+1)).
    [(low, high)] = summarise([Counts(n, n)]).intervals
    assert low == pytest.approx(0.025 ** (1 / (n + 1)))
    assert high == pytest.approx(0.975 ** (1 / (n + 1)))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Counts(1000, 50), Counts(1000, 40)),
        (Counts(200, 10), Counts(300, 12)),
        (Counts(0, 0), Counts(20, 1)),
    ],
)
def test_probability_to_be_best_matches_the_closed_form(a: Counts, b: Counts) -> None:
    posterior = summarise([a, b])
    expected = p_a_beats_b(a, b)
    # 20,000 joint draws: the Monte Carlo error's standard deviation is at most 0.0036.
    assert posterior.p_best[0] == pytest.approx(expected, abs=0.015)
    assert sum(posterior.p_best) == pytest.approx(1)


def test_expected_loss_of_two_uniform_arms() -> None:
    # X, Y ~ U(0, 1): E[max(X, Y)] = 2/3, so choosing either loses 2/3 - 1/2 = 1/6.
    posterior = summarise([Counts(0, 0), Counts(0, 0)])
    assert posterior.expected_loss == pytest.approx([1 / 6, 1 / 6], abs=0.005)
    assert posterior.means == [0.5, 0.5]


def test_the_same_counts_give_the_same_answer() -> None:
    arms = [Counts(500, 20), Counts(500, 25), Counts(500, 22)]
    assert summarise(arms) == summarise(arms)


def test_equal_evidence_splits_the_probability_evenly() -> None:
    p_best = summarise([Counts(400, 20)] * 4).p_best
    assert p_best == pytest.approx([0.25] * 4, abs=0.02)


def test_weights_keep_each_arm_above_the_floor() -> None:
    weights = thompson_weights([0.97, 0.03, 0.0], floor=0.01)
    assert sum(weights) == pytest.approx(1)
    assert min(weights) == pytest.approx(0.01)
    assert weights[0] == pytest.approx(0.01 + 0.97 * 0.97)
    # A floor above an equal share is capped at it: every arm gets exactly that.
    assert thompson_weights([1.0, 0.0], floor=0.8) == [0.5, 0.5]


def test_a_winner_needs_both_certainty_and_a_small_loss() -> None:
    clear = summarise([Counts(5000, 250), Counts(5000, 150)])
    assert proposed_winner(clear, min_p_best=0.95, max_loss=0.001) == 0
    close = summarise([Counts(100, 5), Counts(100, 4)])
    assert proposed_winner(close, min_p_best=0.95, max_loss=0.001) is None
    # Certain enough, but what it may still lose is above the threshold.
    likely = summarise([Counts(2000, 120), Counts(2000, 90)])
    assert 0.95 <= likely.p_best[0] < 1
    assert likely.expected_loss[0] > 1e-5
    assert proposed_winner(likely, min_p_best=0.95, max_loss=0.01) == 0
    assert proposed_winner(likely, min_p_best=0.95, max_loss=1e-5) is None


def test_buckets_are_fixed_per_unit_and_spread_evenly() -> None:
    assert bucket("exp-1", "visitor-7") == bucket("exp-1", "visitor-7")
    assert bucket("exp-1", "visitor-7") != bucket("exp-2", "visitor-7")
    places = [bucket("exp-1", f"visitor-{i}") for i in range(20_000)]
    assert all(0 <= p < 1 for p in places)
    observed = [0] * 10
    for place in places:
        observed[int(place * 10)] += 1
    assert stats.chisquare(observed).pvalue > 0.001


def test_units_change_arm_only_where_a_boundary_moved() -> None:
    before, after = [0.5, 0.3, 0.2], [0.4, 0.3, 0.3]
    places = [bucket("exp", str(i)) for i in range(10_000)]
    moved = sum(choose(before, p) != choose(after, p) for p in places) / len(places)
    # Boundaries moved from 0.5 to 0.4 and from 0.8 to 0.7: 20% of places lie between.
    assert moved == pytest.approx(0.2, abs=0.02)
    assert [choose(before, x) for x in (0.0, 0.49, 0.5, 0.79, 0.8, 0.999)] == [0, 0, 1, 1, 2, 2]
