"""Group commit: one transaction for every write that is waiting, each caller answered only
after its own write is durable.

While one transaction is being written, the writes that arrive meanwhile queue up and all go
into the next one. Under load, the cost of a commit (BEGIN, the multi-row INSERTs, COMMIT
and, on SQLite, the pages written to the WAL) is shared by the whole batch; a lone write
waits for nothing extra, since its transaction starts at once.

One thread of its own runs each whole transaction through a plain (sync) engine: one
hand-off per batch instead of one per statement through the async driver, which cost more
than the database's own work (bench/profile.py found it, bench/store.py measures it).
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from app import metrics

logger = logging.getLogger("copyforge.store")

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    """Writes items, many callers' worth per transaction; subclasses say how (`write`)."""

    def __init__(self, engine: Engine, name: str, max_batch: int) -> None:
        self._engine = engine
        self._name = name
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"copyforge-{name}")

    def write(self, connection: Connection, items: list[Item]) -> list[Result]:
        """Write the items inside the open transaction (in the writer thread); one result
        per item, in order."""
        raise NotImplementedError

    def rows(self, item: Item) -> int:
        """How many rows an item writes, for the batch-size metric (one by default)."""
        return 1

    async def submit(self, item: Item) -> Result:
        """Write an item; return its result once it is committed.

        Raises what the write raised for this item alone: when a batch breaks a constraint,
        each item is written again by itself, so only the one at fault sees the error."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        # Shielded: a caller cancelled while waiting must not cancel the write that other
        # callers share (and its own item is written anyway).
        return await asyncio.shield(future)

    async def aclose(self) -> None:
        """Write everything submitted so far, then stop the thread (for shutdown)."""
        if self._writer is not None:
            await asyncio.shield(self._writer)
        self._thread.shutdown()

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                results = await self._transaction([item for item, _ in batch])
            except IntegrityError as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                else:
                    await self._write_each(batch)
            except Exception as exc:
                logger.exception("writing %d %s items failed", len(batch), self._name)
                for _, future in batch:
                    _settle(future, exc)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result)

    async def _write_each(self, batch: list[tuple[Item, "asyncio.Future[Result]"]]) -> None:
        for item, future in batch:
            try:
                [result] = await self._transaction([item])
            except Exception as exc:
                _settle(future, exc)
            else:
                _settle(future, result)

    async def _transaction(self, items: list[Item]) -> list[Result]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._write_in_thread, items)

    def _write_in_thread(self, items: list[Item]) -> list[Result]:
        started = time.perf_counter()
        with self._engine.begin() as connection:
            results = self.write(connection, items)
        metrics.STORE_BATCH.labels(self._name).observe(sum(map(self.rows, items)))
        metrics.STORE_COMMIT_SECONDS.labels(self._name).observe(time.perf_counter() - started)
        return results


def _settle(future: "asyncio.Future[Result]", outcome: "Result | Exception") -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
        future.exception()  # retrieved: its caller may have been cancelled and gone
    else:
        future.set_result(outcome)
