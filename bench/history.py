"""History queries at scale: GET /v1/generations and /v1/stats over a big database.

Seeds N generations (2 variants each, 10 % rated once) spread over the past year into a
database migrated by `app.migrations.upgrade`, starts a real `copyforge serve` on it, and
times sequential HTTP requests (p50/p95/p99 after a warm-up):
- the first page (limit 20), a page 10,000 rows deep and one 900,000 rows deep (the cursor a
  client following `next_cursor` would hold there, built from the row at that offset);
- each filter, `sort=updated_at&updated_since=<a day ago>` polling, the 304 path
  (If-None-Match with the ETag just received), and GET /v1/stats?group_by=kind.

Run: `.venv/bin/python -m bench.history --rows 1000000 [--database sqlite|postgres]`
(`--rows 2000` for a quick run). Writes bench/results/history-<database>.json.
`--keep DIR` keeps the SQLite file (or the PostgreSQL database) and reuses it when it
already holds the rows, so a change can be measured without seeding again.
"""

import argparse
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import Engine, create_engine, func, select

from app.db import sync_url
from app.history import cursor as cursors
from app.migrations import upgrade
from app.models import Base, Generation
from app.search import search_text
from bench.common import RESULTS_DIR, machine, serve, wait_ready

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_DATABASE = "bench_history"
BATCH = 20_000
VARIANTS = 2
RATED_SHARE = 0.10
PAGE = 20
DEPTHS = {"page_10k_deep": 10_000, "page_900k_deep": 900_000}
PAGES = ("first_page", *DEPTHS)
TARGET_P99_MS = 15.0

KINDS = ("ad_slogan", "product_description", "blog_post")
LANGUAGES = ("en",) * 6 + ("zh",)
MODELS = ("local", "local-zh", "gpt-4o-mini", "claude-haiku")
STATUSES = ("succeeded",) * 30 + ("partial",) * 2 + ("failed",)
TEMPLATE_VERSIONS = tuple(f"{n:x}" * 64 for n in range(1, 7))  # six 64-hex-digit versions
PRODUCTS = tuple(f"{word} {n}" for n in range(20) for word in ("Kettle", "Sneaker", "Lamp"))
SYSTEM_PROMPT = "You write marketing copy. Follow the brand voice. " * 4
GENERATION = Base.metadata.tables["generation"]
VARIANT = Base.metadata.tables["variant"]
RATING = Base.metadata.tables["rating"]


def uuid7(at: datetime, counter: int, rng: random.Random) -> str:
    """A UUIDv7 for a row created at `at` (ids sort like created_at, as app.ids makes them)."""
    ms = int(at.timestamp() * 1000)
    value = ms << 80 | 0x7 << 76 | (counter & 0xFFF) << 64 | 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def batches(rows: int, seed: int) -> Iterator[tuple[list[dict[str, Any]], ...]]:
    """(generations, variants, ratings) in batches; created_at rises over the past year."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    start, step = now - timedelta(days=365), timedelta(days=365) / rows
    for first in range(0, rows, BATCH):
        generations, variants, ratings = [], [], []
        for i in range(first, min(first + BATCH, rows)):
            created = start + step * i + timedelta(microseconds=rng.randrange(1000))
            gen_id = uuid7(created, i, rng)
            product = rng.choice(PRODUCTS)
            status = rng.choice(STATUSES)
            rated = rng.random() < RATED_SHARE
            rated_at = min(now, created + timedelta(hours=rng.uniform(0, 72)))
            brief = {"product_name": product, "features": ["light", "quiet"]}
            texts = [
                f"{product}: light on your feet, quiet on your mind. #{index}"
                for index in range(VARIANTS)
            ]
            generations.append(
                {
                    "id": gen_id,
                    "workspace_id": "default",
                    "kind": rng.choice(KINDS),
                    "language": rng.choice(LANGUAGES),
                    "input_json": brief,
                    "brand_id": None,
                    "template_name": "ad_slogan.j2",
                    "template_version": rng.choice(TEMPLATE_VERSIONS),
                    "system_prompt": SYSTEM_PROMPT,
                    "prompt": f"Write a slogan for {product}. Features: light, quiet. " * 3,
                    "model_alias": rng.choice(MODELS),
                    "provider": "llama_cpp",
                    "resolved_model": "smollm2-135m",
                    "fallback_alias": None,
                    "request_hash": None,
                    "options_json": {"temperature": 0.8, "max_tokens": 256, "n": VARIANTS},
                    "status": status,
                    "error_type": "upstream_error" if status == "failed" else None,
                    "error_message": "model timed out" if status == "failed" else None,
                    "input_tokens": rng.randrange(50, 400),
                    "output_tokens": rng.randrange(10, 300),
                    "latency_ms": rng.randrange(200, 5000),
                    "idempotency_key": None,
                    "search_text": search_text(brief, texts),
                    "created_at": created,
                    "updated_at": rated_at if rated else created,
                }
            )
            for index in range(VARIANTS):
                variant_id = uuid7(created, i * VARIANTS + index, rng)
                variants.append(
                    {
                        "id": variant_id,
                        "generation_id": gen_id,
                        "index": index,
                        "text": texts[index],
                        "checks_json": [{"name": "max_words", "passed": True, "hard": False}],
                        "score": round(rng.random(), 3),
                        "created_at": created,
                    }
                )
                if rated and index == 0:
                    ratings.append(
                        {
                            "id": uuid7(rated_at, i, rng),
                            "variant_id": variant_id,
                            "rater": "bench",
                            "score": rng.randint(1, 5),
                            "comment": None,
                            "created_at": rated_at,
                            "updated_at": rated_at,
                        }
                    )
        yield generations, variants, ratings


def seed_sqlite(engine: Engine, rows: int, seed: int) -> None:
    """Core executemany in batches, one transaction, no fsync or rollback journal meanwhile."""
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=OFF")
        connection.exec_driver_sql("PRAGMA synchronous=OFF")
        connection.commit()
        for generations, variants, ratings in batches(rows, seed):
            connection.execute(GENERATION.insert(), generations)
            connection.execute(VARIANT.insert(), variants)
            if ratings:
                connection.execute(RATING.insert(), ratings)
        connection.commit()
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        connection.commit()


def seed_postgres(url: str, rows: int, seed: int) -> None:
    """COPY in one transaction, then VACUUM ANALYZE (what autovacuum would do soon after)."""

    def copy(cursor: psycopg.Cursor[Any], table: str, records: list[dict[str, Any]]) -> None:
        columns = ", ".join(f'"{column}"' for column in records[0])
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as c:
            for record in records:
                c.write_row(
                    [json.dumps(v) if isinstance(v, dict | list) else v for v in record.values()]
                )

    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        for generations, variants, ratings in batches(rows, seed):
            copy(cursor, "generation", generations)
            copy(cursor, "variant", variants)
            if ratings:
                copy(cursor, "rating", ratings)
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def prepare(database: str, keep: Path | None, workdir: Path, rows: int) -> tuple[str, float | None]:
    """A migrated database holding `rows` generations; seconds spent seeding (None: reused)."""
    if database == "postgres":
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{POSTGRES_DATABASE}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_DATABASE,)
            ).fetchone()
            if exists and keep is None:
                admin.execute(f"DROP DATABASE {POSTGRES_DATABASE}")
            if not exists or keep is None:
                admin.execute(f"CREATE DATABASE {POSTGRES_DATABASE}")
    else:
        url = f"sqlite:///{(keep or workdir) / 'history.db'}"
    upgrade(url)
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            present = connection.scalar(select(func.count()).select_from(GENERATION))
        if present == rows:
            return url, None
        if present:
            raise SystemExit(f"{url} holds {present} generations, not {rows}; remove it")
        started = time.perf_counter()
        if database == "postgres":
            seed_postgres(sync_url(url).replace("+psycopg", ""), rows, seed=1)
        else:
            seed_sqlite(engine, rows, seed=1)
        return url, time.perf_counter() - started
    finally:
        engine.dispose()


def drop_postgres() -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DATABASE} WITH (FORCE)")


def cursor_at(url: str, offset: int) -> str:
    """The next_cursor a client holds after reading `offset` rows newest first."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                select(Generation.created_at, Generation.id)
                .order_by(Generation.created_at.desc(), Generation.id.desc())
                .offset(offset - 1)
                .limit(1)
            ).one()
    finally:
        engine.dispose()
    return cursors.encode("-created_at", row.created_at, row.id)


def queries(url: str, rows: int) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Name -> (query parameters, headers) for GET /v1/generations; depths capped by `rows`."""
    now = datetime.now(UTC)
    q: dict[str, tuple[dict[str, str], dict[str, str]]] = {"first_page": ({}, {})}
    for name, depth in DEPTHS.items():
        q[name] = ({"cursor": cursor_at(url, max(1, min(depth, rows - PAGE - 1)))}, {})
    for name, params in {
        "kind": {"kind": "blog_post"},
        "model": {"model": "claude-haiku"},
        "template_version": {"template_version": TEMPLATE_VERSIONS[3]},
        "status_failed": {"status": "failed"},
        "language_zh": {"language": "zh"},
        "min_rating_4": {"min_rating": "4"},
        "created_window_30d": {
            "created_after": (now - timedelta(days=200)).isoformat(),
            "created_before": (now - timedelta(days=170)).isoformat(),
        },
        "q_product": {"q": "sneaker 7"},
        # Text no generation holds: every row must be ruled out (no index: all are read).
        "q_absent": {"q": "kettle 99"},
        # A brief's field name: matched every row while q searched the raw JSON.
        "q_field_name": {"q": "product_name"},
        "poll_updated_since_1d": {
            "sort": "updated_at",
            "updated_since": (now - timedelta(days=1)).isoformat(),
        },
    }.items():
        q[name] = (params, {})
    return q


def timed(
    client: httpx.Client,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    warmup: int,
    samples: int,
    expect: int,
) -> dict[str, Any]:
    """p50/p95/p99 in ms of `samples` sequential requests after `warmup` untimed ones."""
    times = []
    for n in range(warmup + samples):
        started = time.perf_counter()
        response = client.get(path, params=params, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == expect, (path, params, response.status_code)
        if n >= warmup:
            times.append(elapsed)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return {
        "samples": samples,
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(cuts[94], 2),
        "p99_ms": round(cuts[98], 2),
    }


def measure(url: str, workdir: Path, rows: int, samples: int) -> dict[str, Any]:
    """Every query against a real `copyforge serve` on the seeded database."""
    results: dict[str, Any] = {}
    with serve(workdir, database_url=url) as served:
        results_ready = wait_ready(served, timeout_s=600)
        with httpx.Client(base_url=served.base_url, timeout=120) as client:
            warmup = max(2, samples // 10)
            for name, (params, headers) in queries(url, rows).items():
                results[name] = timed(
                    client, "/v1/generations", params, headers, warmup, samples, 200
                )
            etag = client.get("/v1/generations").headers["etag"]
            results["not_modified_304"] = timed(
                client, "/v1/generations", {}, {"If-None-Match": etag}, warmup, samples, 304
            )
            few = max(3, min(samples, 20))  # a full aggregate: fewer samples
            results["stats_group_by_kind"] = timed(
                client, "/v1/stats", {"group_by": "kind"}, {}, 1, few, 200
            )
    return {"seconds_to_ready": round(results_ready, 2), "queries": results}


def main() -> None:
    """Seed, measure, print a table; write bench/results/history-<database>.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the database; SQLite: dir")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        try:
            url, seed_s = prepare(args.database, args.keep, workdir, args.rows)
            measured = measure(url, workdir, args.rows, args.samples)
        finally:
            if args.database == "postgres" and args.keep is None:
                drop_postgres()
    report: dict[str, Any] = {
        "machine": machine(),
        "database": args.database,
        "rows": args.rows,
        "variants_per_generation": VARIANTS,
        "rated_share": RATED_SHARE,
        "seed_seconds": None if seed_s is None else round(seed_s, 1),
        **measured,
    }
    q = report["queries"]
    first = q["first_page"]["p50_ms"]
    report["targets"] = {
        "every_page_p99_le_15ms": all(q[p]["p99_ms"] <= TARGET_P99_MS for p in PAGES),
        "deep_p50_le_2x_first": all(q[p]["p50_ms"] <= 2 * first for p in DEPTHS),
    }
    seeded = "reused" if seed_s is None else f"seeded in {seed_s:.1f} s"
    print(f"{args.database}, {args.rows:,} generations, {seeded}")
    print(f"{'query':<24}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for name, row in q.items():
        print(f"{name:<24}{row['p50_ms']:>9.2f}{row['p95_ms']:>9.2f}{row['p99_ms']:>9.2f}")
    print("targets:", report["targets"])
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"history-{args.database}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
