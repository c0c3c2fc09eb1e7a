"""What storing a generation costs: app/generation/store.py's group-commit writer, alone and
under load, on SQLite and PostgreSQL.

A generation here is one ad-slogan request's row (a rendered prompt of about 2,300
characters, the brief and options as JSON) with two checked variants. Three ways are timed,
each over `--count` generations, in this process:

1. `lone`: one `save` at a time (every save is its own transaction, as at low load);
2. `together`: all `save`s at once (they share transactions, as under load);
3. `async_engine`: one at a time, the same Core INSERTs through the async engine and its
   driver (what the writer did before it got its own thread; kept as the comparison).

Reported: CPU milliseconds per generation of this process (all threads) and wall ms.

Run: `.venv/bin/python -m bench.store [--count 500] [--database postgres] [--output F]`.
Prints a table and writes bench/results/store-<database>.json. PostgreSQL uses the
`bench_store` database on 127.0.0.1 (created and dropped).
"""

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvloop
from sqlalchemy import insert

from app.config import Settings
from app.db import Database
from app.generation.store import GENERATION_TABLE, VARIANT_TABLE, GenerationStore, row_values
from app.migrations import upgrade
from bench.common import RESULTS_DIR, machine
from tests.databases import scratch_postgres
from tests.rows import sample_generation

POSTGRES_NAME = "bench_store"


async def timed(work: Callable[[], Awaitable[None]], count: int) -> dict[str, float]:
    """CPU (all threads of this process) and wall milliseconds per generation."""
    cpu, wall = time.process_time(), time.perf_counter()
    await work()
    return {
        "cpu_ms": round((time.process_time() - cpu) * 1000 / count, 3),
        "wall_ms": round((time.perf_counter() - wall) * 1000 / count, 3),
    }


async def measure(database_url: str, count: int) -> dict[str, dict[str, float]]:
    """The three ways, each on `count` fresh generations (after a short warm-up)."""
    database = Database(Settings(database_url=database_url))
    store = GenerationStore(database)
    try:
        for _ in range(20):
            await store.save(sample_generation())

        # Built beforehand: only storing them is timed.
        alone, waiting, through_driver = (
            [sample_generation() for _ in range(count)] for _ in range(3)
        )

        async def lone() -> None:
            for generation in alone:
                await store.save(generation)

        async def together() -> None:
            await asyncio.gather(*(store.save(generation) for generation in waiting))

        async def async_engine() -> None:
            engine = database.engine.execution_options(copyforge_write=True)
            for generation in through_driver:
                async with engine.begin() as connection:
                    await connection.execute(
                        insert(GENERATION_TABLE), row_values(GENERATION_TABLE, [generation])
                    )
                    await connection.execute(
                        insert(VARIANT_TABLE), row_values(VARIANT_TABLE, generation.variants)
                    )

        return {
            "lone": await timed(lone, count),
            "together": await timed(together, count),
            "async_engine": await timed(async_engine, count),
        }
    finally:
        await store.aclose()
        await database.dispose()


@contextmanager
def database_url(backend: str) -> Iterator[str]:
    """A fresh, migrated database of the backend; removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'store.db'}"
            upgrade(url)
            yield url
        return
    with scratch_postgres(POSTGRES_NAME) as url:
        upgrade(url)
        yield url


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--output", type=Path, help="default: bench/results/store-<database>.json")
    args = parser.parse_args(argv)
    with database_url(args.database) as url:
        results = uvloop.run(measure(url, args.count))
    report = {"database": args.database, "count": args.count, "results": results}
    report["machine"] = machine()
    output = args.output or RESULTS_DIR / f"store-{args.database}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    print(f"{args.database}, {args.count} generations (2 variants each), per generation:")
    print(f"{'way':<14} {'CPU ms':>8} {'wall ms':>8}")
    for way, figures in results.items():
        print(f"{way:<14} {figures['cpu_ms']:>8} {figures['wall_ms']:>8}")


if __name__ == "__main__":
    main()
