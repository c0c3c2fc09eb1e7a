"""Experiments: their lifecycle (draft, running, stopped), their counts and their results.

An arm's impressions and goal events are counted from the raw events of its variant since
the experiment started (until it stopped), so results never depend on a cache; the weights
served come from the same counts (app/experiments/serving.py keeps them between refreshes).
"""

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound, ValidationFailed
from app.experiments import bandit
from app.experiments.schemas import (
    GOAL_EVENT,
    HISTORY_POINTS,
    ArmResult,
    ExperimentCreate,
    ExperimentRead,
    ExperimentSummary,
    WeightsPoint,
)
from app.models import (
    Event,
    Experiment,
    ExperimentArm,
    ExperimentWeights,
    Generation,
    Variant,
    utcnow,
)

# Per-segment learning keeps the segments with the most impressions, so a client sending a
# new segment per visitor cannot make every refresh compute thousands of posteriors.
MAX_SEGMENTS = 50
SPLIT_TOLERANCE = 1e-6


async def create_experiment(
    session: AsyncSession, workspace_id: str, body: ExperimentCreate
) -> Experiment:
    """A draft experiment over the given variants, checked: all of this workspace, all
    different, all of one kind; a split with one share per arm, summing to 1."""
    if len(set(body.variant_ids)) != len(body.variant_ids):
        raise ValidationFailed("Each variant may be in an experiment once.", param="variant_ids")
    if body.split is not None:
        if body.policy != "split":
            raise ValidationFailed("`split` goes with `policy: split`.", param="split")
        if len(body.split) != len(body.variant_ids):
            raise ValidationFailed(
                f"`split` needs one share per variant ({len(body.variant_ids)}).", param="split"
            )
        if abs(sum(body.split) - 1) > SPLIT_TOLERANCE:
            raise ValidationFailed("The shares of `split` must sum to 1.", param="split")
    rows = await session.execute(
        select(Variant.id, Generation.kind)
        .join(Generation, Generation.id == Variant.generation_id)
        .where(Variant.id.in_(body.variant_ids), Generation.workspace_id == workspace_id)
    )
    kinds: dict[str, str] = {variant: kind for variant, kind in rows}
    missing = [v for v in body.variant_ids if v not in kinds]
    if missing:
        raise NotFound(f"No variant {missing[0]!r} in this workspace.", param="variant_ids")
    if len(set(kinds.values())) > 1:
        raise ValidationFailed(
            "The variants of an experiment compete for one placement, so they must be of one "
            f"kind; these are {', '.join(sorted(set(kinds.values())))}.",
            param="variant_ids",
        )
    experiment = Experiment(
        workspace_id=workspace_id,
        name=body.name,
        kind=kinds[body.variant_ids[0]],
        goal=body.goal,
        policy=body.policy,
        burn_in=body.burn_in,
        floor=body.floor,
        per_segment=body.per_segment,
        refresh_events=body.refresh_events,
        refresh_seconds=body.refresh_seconds,
        min_p_best=body.min_p_best,
        max_loss=body.max_loss,
        status="draft",
        arms=[
            ExperimentArm(
                variant_id=variant,
                position=position,
                split=None if body.split is None else body.split[position],
            )
            for position, variant in enumerate(body.variant_ids)
        ],
    )
    session.add(experiment)
    await session.flush()
    return experiment


async def get_experiment(
    session: AsyncSession, workspace_id: str, experiment_id: str
) -> Experiment:
    """The workspace's experiment, or NotFound (another workspace's is not found either)."""
    experiment = await session.scalar(
        select(Experiment).where(
            Experiment.id == experiment_id, Experiment.workspace_id == workspace_id
        )
    )
    if experiment is None:
        raise NotFound(f"No experiment {experiment_id!r}.", param="experiment_id")
    return experiment


async def list_experiments(
    session: AsyncSession, workspace_id: str, *, after: str | None, limit: int
) -> list[Experiment]:
    """The workspace's experiments, oldest first."""
    query = select(Experiment).where(Experiment.workspace_id == workspace_id)
    if after is not None:
        query = query.where(Experiment.id > after)
    return list(await session.scalars(query.order_by(Experiment.id).limit(limit)))


async def start_experiment(session: AsyncSession, experiment: Experiment) -> None:
    """Draft to running. A variant can be in one running experiment at a time: its events
    would otherwise count for both."""
    if experiment.status != "draft":
        raise Conflict(f"The experiment is {experiment.status}; only a draft can start.")
    if len(experiment.arms) < 2:
        raise Conflict("The experiment has fewer than 2 variants left (the rest were deleted).")
    busy = await session.scalar(
        select(ExperimentArm.variant_id)
        .join(Experiment, Experiment.id == ExperimentArm.experiment_id)
        .where(
            Experiment.status == "running",
            ExperimentArm.variant_id.in_([arm.variant_id for arm in experiment.arms]),
        )
        .limit(1)
    )
    if busy is not None:
        raise Conflict(
            f"Variant {busy!r} is in another running experiment; stop that one first.",
            param="variant_ids",
        )
    now = utcnow()
    experiment.status, experiment.started_at, experiment.updated_at = "running", now, now
    for arm in experiment.arms:
        arm.running_variant_id = arm.variant_id
    try:
        await session.flush()
    except IntegrityError as exc:
        # Another experiment over one of these variants started at the same moment.
        raise Conflict(
            "One of these variants is in another running experiment; stop that one first.",
            param="variant_ids",
        ) from exc


async def stop_experiment(
    session: AsyncSession, experiment: Experiment, winner_variant_id: str | None
) -> None:
    """Running to stopped, with the winner fixed: the one named, else the proposed one."""
    if experiment.status != "running":
        raise Conflict(f"The experiment is {experiment.status}; only a running one can stop.")
    arms = [arm.variant_id for arm in experiment.arms]
    if winner_variant_id is None:
        counts = await count_arms(session, experiment)
        posterior = bandit.summarise(counts.overall)
        proposed = bandit.proposed_winner(posterior, experiment.min_p_best, experiment.max_loss)
        if proposed is None:
            raise Conflict(
                "No winner is proposed yet (no arm has P(best) >= "
                f"{experiment.min_p_best} at an expected loss under {experiment.max_loss}); "
                "name one in winner_variant_id to stop now.",
                param="winner_variant_id",
            )
        winner_variant_id = arms[proposed]
    elif winner_variant_id not in arms:
        raise ValidationFailed(
            f"Variant {winner_variant_id!r} is not an arm of this experiment.",
            param="winner_variant_id",
        )
    now = utcnow()
    experiment.status, experiment.stopped_at, experiment.updated_at = "stopped", now, now
    experiment.winner_variant_id = winner_variant_id
    for arm in experiment.arms:
        arm.running_variant_id = None


async def delete_experiment(session: AsyncSession, experiment: Experiment) -> None:
    """Delete a draft or stopped experiment (its events stay: they belong to the variants)."""
    if experiment.status == "running":
        raise Conflict("The experiment is running; stop it first.")
    await session.execute(delete(Experiment).where(Experiment.id == experiment.id))


# --- counts and weights ------------------------------------------------------------------


@dataclass(frozen=True)
class ArmCounts:
    """Every arm's counts, overall and per segment, in arm order."""

    overall: list[bandit.Counts]
    values: list[float]
    segments: dict[str, list[bandit.Counts]]


async def count_arms(session: AsyncSession, experiment: Experiment) -> ArmCounts:
    """Impressions and goal events of each arm since the experiment started."""
    arms = [arm.variant_id for arm in experiment.arms]
    place = {variant: position for position, variant in enumerate(arms)}
    goal = GOAL_EVENT[experiment.goal]
    empty = ArmCounts([bandit.Counts(0, 0) for _ in arms], [0.0] * len(arms), {})
    if experiment.started_at is None or not arms:
        return empty
    conditions = [
        Event.variant_id.in_(arms),
        Event.type.in_(["impression", goal]),
        Event.occurred_at >= experiment.started_at,
    ]
    if experiment.stopped_at is not None:
        conditions.append(Event.occurred_at <= experiment.stopped_at)
    rows = await session.execute(
        select(
            Event.variant_id,
            Event.segment,
            Event.type,
            func.count(),
            func.coalesce(func.sum(Event.value), 0.0),
        )
        .where(*conditions)
        .group_by(Event.variant_id, Event.segment, Event.type)
    )
    trials = [0] * len(arms)
    successes = [0] * len(arms)
    values = [0.0] * len(arms)
    by_segment: dict[str, list[list[int]]] = defaultdict(lambda: [[0] * len(arms), [0] * len(arms)])
    for variant, segment, kind, n, value in rows:
        arm = place[variant]
        is_trial = kind == "impression"
        (trials if is_trial else successes)[arm] += n
        if not is_trial:
            values[arm] += float(value or 0.0)
        if segment is not None:
            by_segment[segment][0 if is_trial else 1][arm] += n
    overall = [bandit.Counts(t, s) for t, s in zip(trials, successes, strict=True)]
    segments: dict[str, list[bandit.Counts]] = {}
    if experiment.per_segment:
        busiest = sorted(by_segment.items(), key=lambda item: -sum(item[1][0]))[:MAX_SEGMENTS]
        segments = {
            segment: [bandit.Counts(t, s) for t, s in zip(seen[0], seen[1], strict=True)]
            for segment, seen in busiest
        }
    return ArmCounts(overall, values, segments)


def weights_for(
    experiment: Experiment, counts: list[bandit.Counts], p_best: list[float]
) -> list[float]:
    """The traffic shares to serve: the winner once stopped, the fixed split, equal shares
    during the burn-in, then Thompson weights with the floor."""
    arms = len(counts)
    if experiment.status == "stopped":
        return [
            1.0 if arm.variant_id == experiment.winner_variant_id else 0.0
            for arm in experiment.arms
        ]
    if experiment.policy == "split":
        shares = [arm.split for arm in experiment.arms]
        if all(share is not None for share in shares):
            return _normalised([share or 0.0 for share in shares])
        return [1 / arms] * arms
    if min(arm.trials for arm in counts) < experiment.burn_in:
        return [1 / arms] * arms
    return bandit.thompson_weights(p_best, experiment.floor)


def _normalised(shares: list[float]) -> list[float]:
    # Arms whose variants were deleted leave the rest summing to under 1.
    total = sum(shares)
    return [share / total for share in shares]


@dataclass(frozen=True)
class Weights:
    """What to serve: overall and per segment, with the posterior they came from."""

    overall: list[float]
    segments: dict[str, list[float]]
    posterior: bandit.Posterior
    impressions: int


def compute_weights(experiment: Experiment, counts: ArmCounts) -> Weights:
    """The weights from the counts (CPU-bound: 20,000 joint draws per segment)."""
    if not counts.overall:
        return Weights([], {}, bandit.Posterior([], [], [], []), 0)
    posterior = bandit.summarise(counts.overall)
    segments = {
        segment: weights_for(experiment, seen, bandit.summarise(seen).p_best)
        for segment, seen in counts.segments.items()
    }
    return Weights(
        weights_for(experiment, counts.overall, posterior.p_best),
        segments,
        posterior,
        sum(arm.trials for arm in counts.overall),
    )


async def record_weights(
    session: AsyncSession, experiment_id: str, weights: Weights, at: datetime
) -> None:
    """Keep the overall weights served from `at` on: the experiment's weights over time."""
    session.add(
        ExperimentWeights(
            experiment_id=experiment_id,
            segment=None,
            computed_at=at,
            impressions=weights.impressions,
            weights_json=[round(w, 6) for w in weights.overall],
            p_best_json=[round(p, 6) for p in weights.posterior.p_best],
        )
    )


async def variant_texts(session: AsyncSession, variant_ids: list[str]) -> dict[str, str]:
    """The arms' texts, by variant id."""
    rows = await session.execute(
        select(Variant.id, Variant.text).where(Variant.id.in_(variant_ids))
    )
    return {variant: text for variant, text in rows}


def experiment_summary(experiment: Experiment) -> ExperimentSummary:
    """The experiment's settings and state, without results."""
    split = [arm.split for arm in experiment.arms]
    return ExperimentSummary(
        id=experiment.id,
        name=experiment.name,
        kind=experiment.kind,
        goal=experiment.goal,
        policy=experiment.policy,
        split=None if any(s is None for s in split) else [s or 0.0 for s in split],
        burn_in=experiment.burn_in,
        floor=experiment.floor,
        per_segment=experiment.per_segment,
        refresh_events=experiment.refresh_events,
        refresh_seconds=experiment.refresh_seconds,
        min_p_best=experiment.min_p_best,
        max_loss=experiment.max_loss,
        status=experiment.status,
        winner_variant_id=experiment.winner_variant_id,
        variant_ids=[arm.variant_id for arm in experiment.arms],
        created_at=experiment.created_at,
        started_at=experiment.started_at,
        stopped_at=experiment.stopped_at,
    )


async def experiment_read(session: AsyncSession, experiment: Experiment) -> ExperimentRead:
    """The experiment with its results, computed from the events now."""
    counts = await count_arms(session, experiment)
    weights = await asyncio.to_thread(compute_weights, experiment, counts)
    posterior = weights.posterior
    texts = await variant_texts(session, [arm.variant_id for arm in experiment.arms])
    proposed = bandit.proposed_winner(posterior, experiment.min_p_best, experiment.max_loss)
    history = (
        await session.scalars(
            select(ExperimentWeights)
            .where(
                ExperimentWeights.experiment_id == experiment.id,
                ExperimentWeights.segment.is_(None),
            )
            .order_by(ExperimentWeights.computed_at.desc())
            .limit(HISTORY_POINTS)
        )
    ).all()
    return ExperimentRead(
        **experiment_summary(experiment).model_dump(),
        proposed_winner_variant_id=(
            None if proposed is None else experiment.arms[proposed].variant_id
        ),
        arms=[
            ArmResult(
                variant_id=arm.variant_id,
                text=texts.get(arm.variant_id, ""),
                impressions=counts.overall[i].trials,
                successes=counts.overall[i].successes,
                value=round(counts.values[i], 6),
                rate=posterior.means[i],
                interval=list(posterior.intervals[i]),
                p_best=posterior.p_best[i],
                expected_loss=posterior.expected_loss[i],
                weight=weights.overall[i],
            )
            for i, arm in enumerate(experiment.arms)
        ],
        weights_history=[
            WeightsPoint(
                computed_at=point.computed_at,
                segment=point.segment,
                impressions=point.impressions,
                weights=point.weights_json,
                p_best=point.p_best_json,
            )
            for point in reversed(history)
        ],
    )
