"""Idempotency-Key: a replay returns the first answer and creates nothing.

Within one process, concurrent requests with one key wait for the first (single flight);
across processes the unique (workspace_id, idempotency_key) constraint decides.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.db import Database
from app.errors import ValidationFailed
from app.generation.outcome import Generated
from app.models import Generation, Variant

_in_flight: dict[tuple[str, str], asyncio.Future[Generated]] = {}


async def find(database: Database, workspace_id: str, key: str | None) -> Generation | None:
    """The stored generation for a key, read outside the request's unit of work.

    A separate short read: the request's own session would hold SQLite's write lock
    through the model calls that follow."""
    if key is None:
        return None
    async with database.read_sessions() as session:
        query = (
            select(Generation)
            .where(Generation.workspace_id == workspace_id, Generation.idempotency_key == key)
            .options(selectinload(Generation.variants).selectinload(Variant.ratings))
        )
        return (await session.scalars(query)).first()


def replay(existing: Generation, request_hash: str) -> Generated:
    """The first answer again, if the replay asks for the same thing."""
    if existing.request_hash != request_hash:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request.",
            param="Idempotency-Key",
        )
    return Generated(existing, replayed=True)


class Flight:
    """One request's place in the single flight for its key."""

    def __init__(self, future: asyncio.Future[Generated] | None) -> None:
        self.replay: Generated | None = None
        self._future = future

    def done(self, generated: Generated) -> None:
        """Hand the leader's answer to everyone waiting on the same key."""
        if self._future is not None and not self._future.done():
            self._future.set_result(generated)


@asynccontextmanager
async def single_flight(
    database: Database, workspace_id: str, key: str, request_hash: str
) -> AsyncIterator[Flight]:
    """Lead the work for a key, or get the answer of the request already doing it."""
    slot = (workspace_id, key)
    while (leader := _in_flight.get(slot)) is not None:
        try:
            first = await asyncio.shield(leader)
        except Exception:  # noqa: S112 - the leader failed before storing: try to lead
            continue
        flight = Flight(None)
        flight.replay = replay(first.generation, request_hash)
        yield flight
        return
    # Claim the key before any await, so no second request can start leading it meanwhile.
    future: asyncio.Future[Generated] = asyncio.get_running_loop().create_future()
    _in_flight[slot] = future
    flight = Flight(future)
    try:
        existing = await find(database, workspace_id, key)
        if existing is not None:
            flight.replay = replay(existing, request_hash)
            flight.done(flight.replay)
        yield flight
    except BaseException as exc:
        if not future.done():
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            future.exception()  # mark retrieved: there may be no followers
        raise
    finally:
        _in_flight.pop(slot, None)
