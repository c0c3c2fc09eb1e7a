"""Storing new generations: one transaction for all the generations waiting (group commit).

Every request still waits for its own generation's commit, so an answer means the row is
durable. While one transaction is being written, the generations that finish meanwhile queue
up and all go into the next one. Under load, the cost of a commit (BEGIN, the two multi-row
INSERTs, COMMIT and, on SQLite, the pages written to the WAL) is shared by the whole batch.
A lone request waits for nothing extra: its transaction starts at once.

Two choices cut the CPU a stored generation costs (bench/profile.py found it, bench/store.py
measures it):
- Core INSERTs, not the ORM's unit of work: a new generation needs no identity map, change
  tracking or flush ordering.
- One thread of its own runs each whole transaction through a plain (sync) engine: one hand-off
  per batch instead of one per statement through the async driver, which cost more than the
  database's own work.
"""

import asyncio
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Table, insert, inspect
from sqlalchemy.exc import IntegrityError

from app.db import Database
from app.models import Base, Generation, Variant

logger = logging.getLogger("copyforge.store")

_Waiting = tuple[Generation, "asyncio.Future[None]"]


def _columns(model: type[Base]) -> tuple[Table, list[tuple[str, str]]]:
    """The table of a model and its (attribute, column) name pairs."""
    mapper = inspect(model)
    return mapper.local_table, [(a.key, a.columns[0].name) for a in mapper.column_attrs]  # type: ignore[return-value]


GENERATION_TABLE, _GENERATION_COLUMNS = _columns(Generation)
VARIANT_TABLE, _VARIANT_COLUMNS = _columns(Variant)
_COLUMNS = {GENERATION_TABLE.name: _GENERATION_COLUMNS, VARIANT_TABLE.name: _VARIANT_COLUMNS}


def row_values(table: Table, objects: Iterable[Any]) -> list[dict[str, Any]]:
    """The INSERT parameters of new objects of the table's model: every column, as set."""
    columns = _COLUMNS[table.name]
    return [{column: getattr(obj, attr) for attr, column in columns} for obj in objects]


class GenerationStore:
    """Writes new generations (with their variants), many requests' worth per transaction."""

    def __init__(self, database: Database, max_batch: int = 200) -> None:
        self._database = database
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="copyforge-store")

    async def save(self, generation: Generation) -> None:
        """Store a new generation; return once it is committed.

        Raises IntegrityError when a stored row already has its Idempotency-Key. Every
        field of the generation and its variants must be set: no column default applies."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((generation, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        # Shielded: a request that is cancelled while waiting must not cancel the write
        # that other requests share (and its own row is stored anyway).
        await asyncio.shield(future)

    async def aclose(self) -> None:
        """Write everything handed to `save` so far, then stop the thread (for shutdown)."""
        if self._writer is not None:
            await asyncio.shield(self._writer)
        self._thread.shutdown()

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                await self._insert([generation for generation, _ in batch])
            except IntegrityError as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                else:
                    # One row broke a constraint (an Idempotency-Key stored meanwhile, most
                    # likely): write each alone so only that request sees the error.
                    await self._insert_each(batch)
            except Exception as exc:
                logger.exception("storing %d generations failed", len(batch))
                for _, future in batch:
                    _settle(future, exc)
            else:
                for _, future in batch:
                    _settle(future, None)

    async def _insert_each(self, batch: list[_Waiting]) -> None:
        for generation, future in batch:
            try:
                await self._insert([generation])
            except Exception as exc:
                _settle(future, exc)
            else:
                _settle(future, None)

    async def _insert(self, generations: list[Generation]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._insert_in_thread, generations)

    def _insert_in_thread(self, generations: list[Generation]) -> None:
        variants = [variant for generation in generations for variant in generation.variants]
        with self._database.thread_write_engine.begin() as connection:
            connection.execute(insert(GENERATION_TABLE), row_values(GENERATION_TABLE, generations))
            if variants:
                connection.execute(insert(VARIANT_TABLE), row_values(VARIANT_TABLE, variants))


def _settle(future: "asyncio.Future[None]", error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
        future.exception()  # retrieved: its request may have been cancelled and gone
