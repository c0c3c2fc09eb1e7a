"""Recording events, and proving the daily counters match the raw events."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import metrics
from app.db import Database
from app.experiments.event_store import EventStore
from app.experiments.schemas import (
    FUTURE_SKEW_S,
    EventIn,
    EventResult,
    EventsRecorded,
)
from app.ids import new_id
from app.models import Event, Generation, Variant, VariantDay, utcnow


async def record_events(
    database: Database, store: EventStore, *, workspace_id: str, events: list[EventIn]
) -> EventsRecorded:
    """Store a batch: each event recorded, a duplicate of one stored, or refused alone.

    The variants are looked up in a read session (no write lock held), then the store
    writes the events on its own connection."""
    asked = {event.variant_id for event in events}
    async with database.read_sessions() as session:
        known = set(
            await session.scalars(
                select(Variant.id)
                .join(Generation, Generation.id == Variant.generation_id)
                .where(Variant.id.in_(asked), Generation.workspace_id == workspace_id)
            )
        )
    now = utcnow()
    latest = now + timedelta(seconds=FUTURE_SKEW_S)
    results: list[EventResult | None] = []
    rows = []
    for event in events:
        occurred_at = event.occurred_at.astimezone(UTC)
        if event.variant_id not in known:
            message = f"No variant {event.variant_id!r} in this workspace."
        elif occurred_at > latest:
            message = f"occurred_at is more than {FUTURE_SKEW_S} s ahead of the server's clock."
        else:
            results.append(None)
            rows.append(event_row(workspace_id, event, occurred_at, now))
            continue
        results.append(EventResult(event_id=event.event_id, status="refused", message=message))
    metrics.EVENTS.labels("refused").inc(len(events) - len(rows))
    flags = iter(await store.save(rows) if rows else [])
    answered = [
        result
        or EventResult(event_id=event.event_id, status="recorded" if next(flags) else "duplicate")
        for event, result in zip(events, results, strict=True)
    ]
    return EventsRecorded(
        recorded=sum(r.status == "recorded" for r in answered),
        duplicates=sum(r.status == "duplicate" for r in answered),
        refused=sum(r.status == "refused" for r in answered),
        results=answered,
    )


def event_row(
    workspace_id: str, event: EventIn, occurred_at: datetime, received_at: datetime
) -> dict[str, Any]:
    """An event as a row of the event table (the store's INSERT parameters)."""
    return {
        "id": new_id(),
        "workspace_id": workspace_id,
        "event_id": event.event_id,
        "variant_id": event.variant_id,
        "type": event.type,
        "value": event.value,
        "unit_id": event.unit_id,
        "segment": event.segment,
        "occurred_at": occurred_at,
        "received_at": received_at,
    }


@dataclass(frozen=True)
class Drift:
    """A counter that disagrees with the raw events it counts."""

    variant_id: str
    day: date
    type: str
    counted: int
    events: int


async def rebuild_counters(session: AsyncSession) -> list[Drift]:
    """Recount every variant's daily counters from the raw events; write the recount and
    return where the kept counters had drifted (there should be nowhere)."""
    # Days in UTC, grouped here: the databases' own date() follows the session's zone.
    recount: dict[tuple[str, str, str], tuple[str, int, float]] = {}
    rows = await session.stream(
        select(Event.variant_id, Event.occurred_at, Event.type, Event.workspace_id, Event.value)
    )
    async for variant, occurred_at, kind, workspace, value in rows:
        key = (variant, occurred_at.astimezone(UTC).date().isoformat(), kind)
        _, n, total = recount.get(key, (workspace, 0, 0.0))
        recount[key] = (workspace, n + 1, total + (value or 0.0))
    kept = {
        (row.variant_id, str(row.day), row.type): row
        for row in await session.scalars(select(VariantDay))
    }
    drift = []
    for key in sorted(recount.keys() | kept.keys()):
        workspace, n, value = recount.get(key, ("", 0, 0.0))
        row = kept.get(key)
        counted = row.events if row is not None else 0
        if counted != n:
            drift.append(Drift(key[0], date.fromisoformat(key[1]), key[2], counted, n))
        if row is None:
            session.add(
                VariantDay(
                    variant_id=key[0],
                    day=date.fromisoformat(key[1]),
                    type=key[2],
                    workspace_id=workspace,
                    events=n,
                    value=value,
                )
            )
        elif n == 0:
            await session.delete(row)
        else:
            row.events, row.value = n, value
    await session.flush()
    return drift
