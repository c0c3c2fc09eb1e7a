"""Storing events by group commit, with their variant's daily counters in the same
transaction: a counter can never miss an event stored, nor count one twice."""

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from app import metrics
from app.db import Database
from app.group_commit import GroupCommit
from app.models import Event, VariantDay

EVENT_TABLE: Table = Event.__table__  # type: ignore[assignment]
DAY_TABLE: Table = VariantDay.__table__  # type: ignore[assignment]

# One request's events, as INSERT parameters of the event table.
Rows = list[dict[str, Any]]


class EventStore(GroupCommit[Rows, list[bool]]):
    """Writes events, many requests' worth per transaction; answers, per event, whether it
    was new (False: its client id was stored already)."""

    def __init__(self, database: Database, max_batch: int = 50) -> None:
        super().__init__(database.thread_write_engine, "events", max_batch)

    def rows(self, item: Rows) -> int:
        return len(item)

    async def save(self, rows: Rows) -> list[bool]:
        """Store one request's events; return once committed, one flag per row."""
        flags = await self.submit(rows)
        recorded = sum(flags)
        metrics.EVENTS.labels("recorded").inc(recorded)
        metrics.EVENTS.labels("duplicate").inc(len(flags) - recorded)
        return flags

    def write(self, connection: Connection, items: list[Rows]) -> list[list[bool]]:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        rows = [row for item in items for row in item]
        inserted = {
            (ws, event_id)
            for ws, event_id in connection.execute(
                dialect.insert(EVENT_TABLE)
                .on_conflict_do_nothing()
                .returning(EVENT_TABLE.c.workspace_id, EVENT_TABLE.c.event_id),
                rows,
            )
        }
        # A client id twice in one transaction: the first is stored, the rest are repeats.
        seen: set[tuple[str, str]] = set()
        flags: list[list[bool]] = []
        counts: Counter[tuple[str, str, date, str]] = Counter()
        values: dict[tuple[str, str, date, str], float] = {}
        for item in items:
            item_flags = []
            for row in item:
                key = (row["workspace_id"], row["event_id"])
                new = key in inserted and key not in seen
                seen.add(key)
                item_flags.append(new)
                if new:
                    day = (
                        row["workspace_id"],
                        row["variant_id"],
                        row["occurred_at"].date(),
                        row["type"],
                    )
                    counts[day] += 1
                    values[day] = values.get(day, 0.0) + (row["value"] or 0.0)
            flags.append(item_flags)
        if counts:
            upsert = dialect.insert(DAY_TABLE)
            connection.execute(
                upsert.on_conflict_do_update(
                    index_elements=[DAY_TABLE.c.variant_id, DAY_TABLE.c.day, DAY_TABLE.c.type],
                    set_={
                        "events": DAY_TABLE.c.events + upsert.excluded.events,
                        "value": DAY_TABLE.c.value + upsert.excluded.value,
                    },
                ),
                [
                    {
                        "workspace_id": ws,
                        "variant_id": variant,
                        "day": day,
                        "type": kind,
                        "events": n,
                        "value": values[(ws, variant, day, kind)],
                    }
                    for (ws, variant, day, kind), n in counts.items()
                ],
            )
        return flags
