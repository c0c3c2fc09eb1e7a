"""Serving experiments: which variant a unit sees, answered from memory.

Each process keeps a snapshot of every experiment it serves (status, arms and their texts,
weights) and answers assignments from it without touching the database. A snapshot is
refreshed in the background once `refresh_events` new events were recorded through this
process or `refresh_seconds` passed, whichever comes first; requests meanwhile get the
snapshot they have, so none waits on the statistics. Other replicas' events reach a
snapshot through the time cadence.
"""

import asyncio
import hashlib
import logging
import random
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from app.db import Database
from app.errors import Conflict, NotFound
from app.experiments import bandit, service
from app.experiments.event_store import EventStore
from app.experiments.events import event_row
from app.experiments.schemas import Assignment, EventIn
from app.ids import new_id
from app.models import Experiment, utcnow

log = logging.getLogger(__name__)

MAX_SNAPSHOTS = 10_000


@dataclass
class Snapshot:
    """What one process serves for an experiment until its next refresh."""

    workspace_id: str
    status: str
    variant_ids: list[str]
    texts: list[str]
    weights: list[float]
    segment_weights: dict[str, list[float]]
    impressions: int
    refresh_events: int
    refresh_seconds: float
    loaded_at: float
    new_events: int = 0

    def due(self) -> bool:
        """Whether enough events or time have passed to recompute the weights."""
        return (
            self.new_events >= self.refresh_events
            or time.monotonic() - self.loaded_at >= self.refresh_seconds
        )

    def weights_for(self, segment: str | None) -> list[float]:
        """The segment's own weights where it has learnt some, else the overall ones."""
        if segment is None:
            return self.weights
        return self.segment_weights.get(segment, self.weights)


def impression_id(experiment_id: str, unit_id: str, variant_id: str) -> str:
    """The impression an assignment records: one per unit, arm and UTC day, so a unit
    reloading a page all day counts as one impression of what it saw."""
    day = utcnow().date().isoformat()
    key = f"{experiment_id}\x00{unit_id}\x00{variant_id}\x00{day}"
    return "imp-" + hashlib.sha256(key.encode()).hexdigest()[:40]


class ExperimentServer:
    """Snapshots of experiments, and the assignments answered from them."""

    def __init__(self, database: Database, store: EventStore) -> None:
        self._database = database
        self._store = store
        self._snapshots: dict[str, Snapshot] = {}
        self._by_variant: dict[str, set[str]] = defaultdict(set)
        self._refreshing: dict[str, asyncio.Task[Snapshot | None]] = {}

    async def assign(
        self,
        *,
        workspace_id: str,
        experiment_id: str,
        unit_id: str | None,
        segment: str | None,
        record: bool,
    ) -> Assignment:
        """The variant to show: by the unit's sticky place when a unit id is given (the same
        unit, the same arm while the weights allow), at random otherwise."""
        snapshot = await self._snapshot(experiment_id)
        if snapshot is None or snapshot.workspace_id != workspace_id:
            raise NotFound(f"No experiment {experiment_id!r}.", param="experiment_id")
        if snapshot.status == "draft":
            raise Conflict("The experiment is a draft: start it before serving it.")
        if not snapshot.variant_ids:
            raise Conflict("The experiment's variants were deleted.")
        place = bandit.bucket(experiment_id, unit_id) if unit_id else random.random()
        arm = bandit.choose(snapshot.weights_for(segment), place)
        variant_id = snapshot.variant_ids[arm]
        event_id = None
        if record:
            event_id = (
                impression_id(experiment_id, unit_id, variant_id) if unit_id else f"imp-{new_id()}"
            )
            now = utcnow()
            impression = EventIn(
                event_id=event_id,
                variant_id=variant_id,
                type="impression",
                unit_id=unit_id,
                segment=segment,
                occurred_at=now,
            )
            [new] = await self._store.save([event_row(workspace_id, impression, now, now)])
            if new:
                self.note_events([variant_id])
        return Assignment(
            experiment_id=experiment_id,
            variant_id=variant_id,
            text=snapshot.texts[arm],
            arm=arm,
            status=snapshot.status,
            impression_event_id=event_id,
        )

    async def aclose(self) -> None:
        """Cancel refreshes under way (at shutdown, before the database goes)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def note_events(self, variant_ids: Iterable[str]) -> None:
        """Count events this process recorded towards their experiments' next refresh."""
        for variant_id in variant_ids:
            for experiment_id in self._by_variant.get(variant_id, ()):
                snapshot = self._snapshots.get(experiment_id)
                if snapshot is not None:
                    snapshot.new_events += 1

    def forget(self, experiment_id: str) -> None:
        """Drop a snapshot (its experiment started, stopped or was deleted here)."""
        snapshot = self._snapshots.pop(experiment_id, None)
        if snapshot is not None:
            for variant_id in snapshot.variant_ids:
                self._by_variant[variant_id].discard(experiment_id)

    async def _snapshot(self, experiment_id: str) -> Snapshot | None:
        snapshot = self._snapshots.get(experiment_id)
        if snapshot is None:
            return await self._refresh(experiment_id)
        if snapshot.due() and experiment_id not in self._refreshing:
            # Served stale meanwhile; a failed refresh is logged and retried at the next due.
            self._refresh(experiment_id).add_done_callback(_log_failure)
        return snapshot

    def _refresh(self, experiment_id: str) -> "asyncio.Task[Snapshot | None]":
        task = self._refreshing.get(experiment_id)
        if task is None:
            task = asyncio.create_task(self._load(experiment_id))
            self._refreshing[experiment_id] = task
            task.add_done_callback(lambda _: self._refreshing.pop(experiment_id, None))
        return task

    async def _load(self, experiment_id: str) -> Snapshot | None:
        previous = self._snapshots.get(experiment_id)
        if previous is not None:
            # Whatever happens below, the next refresh waits for the next cadence.
            previous.loaded_at, previous.new_events = time.monotonic(), 0
        async with self._database.read_sessions() as session:
            experiment = await session.scalar(
                select(Experiment).where(Experiment.id == experiment_id)
            )
            if experiment is None:
                self.forget(experiment_id)
                return None
            counts = await service.count_arms(session, experiment)
            variant_ids = [arm.variant_id for arm in experiment.arms]
            texts = await service.variant_texts(session, variant_ids)
        weights = await asyncio.to_thread(service.compute_weights, experiment, counts)
        if experiment.status == "running" and (
            previous is None or previous.impressions != weights.impressions
        ):
            async with self._database.write_sessions() as session:
                await service.record_weights(session, experiment_id, weights, utcnow())
                await session.commit()
        snapshot = Snapshot(
            workspace_id=experiment.workspace_id,
            status=experiment.status,
            variant_ids=variant_ids,
            texts=[texts.get(variant_id, "") for variant_id in variant_ids],
            weights=weights.overall,
            segment_weights=weights.segments,
            impressions=weights.impressions,
            refresh_events=experiment.refresh_events,
            refresh_seconds=experiment.refresh_seconds,
            loaded_at=time.monotonic(),
        )
        if len(self._snapshots) >= MAX_SNAPSHOTS and experiment_id not in self._snapshots:
            self.forget(next(iter(self._snapshots)))
        self._snapshots[experiment_id] = snapshot
        for variant_id in variant_ids:
            self._by_variant[variant_id].add(experiment_id)
        return snapshot


def _log_failure(task: "asyncio.Task[Snapshot | None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("refreshing an experiment's weights failed", exc_info=task.exception())
