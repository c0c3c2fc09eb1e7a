"""The group-commit store (app/generation/store.py) against the real database: what waits together
is written together, one bad row fails alone, and a cancelled caller's row is still stored."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from app.config import Settings
from app.db import Database
from app.generation.store import GenerationStore
from app.models import Generation, Variant
from tests.rows import sample_generation as generation


@pytest.fixture
async def database(settings: Settings) -> Any:
    database = Database(settings)
    yield database
    await database.dispose()


async def stored_ids(database: Database) -> set[str]:
    async with database.read_sessions() as session:
        return set(await session.scalars(select(Generation.id)))


async def variant_count(database: Database) -> int:
    async with database.read_sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Variant)) or 0)


async def test_concurrent_saves_share_transactions(database: Database) -> None:
    commits = 0

    def count_commit(_connection: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(database.thread_write_engine, "commit", count_commit)
    store = GenerationStore(database)
    generations = [generation() for _ in range(50)]
    await asyncio.gather(*(store.save(g) for g in generations))
    await store.aclose()

    assert await stored_ids(database) == {g.id for g in generations}
    assert await variant_count(database) == 100
    # Fifty saves waiting at once go in one or two transactions, not fifty.
    assert 1 <= commits <= 2


async def test_stored_generation_reads_back_unchanged(database: Database) -> None:
    store = GenerationStore(database)
    original = generation(status="partial", error_type="checks_failed", error_message="x")
    await store.save(original)
    await store.aclose()

    async with database.read_sessions() as session:
        loaded = await session.get(Generation, original.id)
        assert loaded is not None
        assert loaded.input_json == original.input_json  # template syntax stays text
        assert loaded.created_at == original.created_at
        assert (loaded.status, loaded.error_type) == ("partial", "checks_failed")
        variants = list(await session.scalars(select(Variant).order_by(Variant.index)))
    assert [v.text for v in variants] == [v.text for v in original.variants]
    assert all(v.generation_id == original.id for v in variants)


async def test_a_duplicate_key_fails_alone_in_its_batch(database: Database) -> None:
    store = GenerationStore(database)
    first = generation(idempotency_key="key-1")
    await store.save(first)

    twin = generation(idempotency_key="key-1")
    others = [generation() for _ in range(5)]
    results = await asyncio.gather(
        *(store.save(g) for g in [*others[:2], twin, *others[2:]]), return_exceptions=True
    )
    await store.aclose()

    assert isinstance(results[2], IntegrityError)
    assert [r for i, r in enumerate(results) if i != 2] == [None] * 5
    assert await stored_ids(database) == {first.id, *(g.id for g in others)}
    assert await variant_count(database) == 12  # nothing of the twin, not even its variants


async def test_a_row_the_database_refuses_fails_alone(database: Database) -> None:
    store = GenerationStore(database)
    good = [generation() for _ in range(3)]
    bad = generation(status="bogus")  # breaks ck_generation_status
    results = await asyncio.gather(
        store.save(good[0]), store.save(bad), store.save(good[1]), store.save(good[2]),
        return_exceptions=True,
    )  # fmt: skip
    await store.aclose()

    assert isinstance(results[1], IntegrityError)
    assert await stored_ids(database) == {g.id for g in good}


async def test_a_cancelled_caller_still_has_its_row_stored(database: Database) -> None:
    store = GenerationStore(database)
    blocker, cancelled = generation(), generation()
    first = asyncio.create_task(store.save(blocker))
    second = asyncio.create_task(store.save(cancelled))
    await asyncio.sleep(0)  # both are queued; the first transaction has started
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    await first
    await store.aclose()

    assert await stored_ids(database) == {blocker.id, cancelled.id}
