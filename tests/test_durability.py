"""Durability: `copyforge serve` as a real process, fifty concurrent HTTP writers, and crashes.

Every write a client saw acknowledged (201 generation, 200 rating) must be readable afterwards,
a rater's last acknowledged score must be the one stored, and no answer or log line may say
"database is locked". The model is the mock OpenAI-compatible upstream, served in a thread.

The module manages its own databases (a SQLite file per test, a PostgreSQL database of its
own), so it runs once per CI, in the SQLite pass.
"""

import asyncio
import contextlib
import json
import os
import random
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.databases import scratch_postgres
from tests.mock_upstream import create_mock_app
from tests.payloads import PATHS, brief
from tests.processes import ServerProcess, kill_server, running_server, start_server, stop_server
from tests.servers import serve_in_thread

WRITERS = 50
LOAD_SECONDS = 3.0
LOAD_MAX_REQUESTS = 1500
CRASH_CYCLES = 3
CRASH_MAX_SECONDS = 5.0  # a cycle's writers are killed after this even below the ack target
CRASH_MAX_REQUESTS = 1500  # per cycle
SEED_GENERATIONS = 8  # their variants are the "hot" ones many raters fight over
POST_SHARE = 0.35
MINE_SHARE = 0.3  # a rater rates again a variant they rated before
HOT_SHARE = 0.35
REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
FETCH_CONCURRENCY = 16
LOCKED = "database is locked"
PG_SERVER = "postgres@127.0.0.1:5432"


# -- what the clients saw ----------------------------------------------------------------------


@dataclass(frozen=True)
class AckedGeneration:
    """A generation answered 201: its status and variant ids, in index order."""

    status: str
    variant_ids: tuple[str, ...]


@dataclass
class RatingAttempts:
    """One rater's ratings of one variant, sent one after another: seq -> score sent."""

    scores: dict[int, int] = field(default_factory=dict)
    acked: list[int] = field(default_factory=list)  # seqs answered 200, in order


@dataclass
class Ledger:
    """Every write the clients attempted and which ones the server acknowledged."""

    generations: dict[str, AckedGeneration] = field(default_factory=dict)
    ratings: dict[tuple[str, str], RatingAttempts] = field(default_factory=dict)
    hot_variants: list[str] = field(default_factory=list)
    variants: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    bad_answers: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    unanswered_posts: list["PostAttempt"] = field(default_factory=list)
    replayed: int = 0  # answers marked Idempotent-Replayed
    requests: int = 0
    acks: int = 0
    in_flight: int = 0
    seq: int = 0
    ack_target: int | None = None
    target_reached: asyncio.Event = field(default_factory=asyncio.Event)

    def acknowledged(self) -> None:
        self.acks += 1
        if self.ack_target is not None and self.acks >= self.ack_target:
            self.target_reached.set()

    def answered(self, what: str, response: httpx.Response, expected: int) -> bool:
        """Count an answer; note it when it is not the expected one or mentions the lock."""
        self.statuses[response.status_code] += 1
        if response.status_code != expected or LOCKED in response.text.lower():
            self.bad_answers.append(f"{what}: {response.status_code} {response.text[:300]}")
            return False
        return True

    def summary(self) -> str:
        return (
            f"requests={self.requests} statuses={dict(self.statuses)} "
            f"generations={len(self.generations)} rated pairs={len(self.ratings)} "
            f"transport errors={len(self.transport_errors)} bad answers={len(self.bad_answers)} "
            f"replayed={self.replayed}"
        )


@dataclass(frozen=True)
class PostAttempt:
    """One POST of a generation, with the Idempotency-Key that makes it safe to send again."""

    kind: str
    body: dict[str, Any]
    key: str


async def post_generation(client: httpx.AsyncClient, ledger: Ledger, rng: random.Random) -> None:
    """Write one generation of a random kind and language."""
    kind = rng.choice(sorted(PATHS))
    body = brief(kind, rng.choice(("en", "zh")), n=rng.randint(1, 3), seed=rng.randrange(10_000))
    await send_post(client, ledger, PostAttempt(kind, body, f"durability-{rng.getrandbits(64):x}"))


async def send_post(client: httpx.AsyncClient, ledger: Ledger, attempt: PostAttempt) -> None:
    """POST a generation; record it if answered 201, keep it for a retry if never answered."""
    ledger.in_flight += 1
    try:
        response = await client.post(
            PATHS[attempt.kind], json=attempt.body, headers={"Idempotency-Key": attempt.key}
        )
    except httpx.TransportError as exc:
        ledger.unanswered_posts.append(attempt)
        ledger.transport_errors.append(f"POST {attempt.kind}: {exc!r}")
        return
    finally:
        ledger.in_flight -= 1
    if not ledger.answered(f"POST {attempt.kind}", response, 201):
        return
    data = response.json()
    variant_ids = tuple(v["id"] for v in data["variants"])
    ledger.generations[data["id"]] = AckedGeneration(data["status"], variant_ids)
    ledger.variants.extend(variant_ids)
    ledger.replayed += response.headers.get("Idempotent-Replayed") == "true"
    ledger.acknowledged()


async def put_rating(
    client: httpx.AsyncClient, ledger: Ledger, rng: random.Random, rater: str, mine: list[str]
) -> None:
    """Rate an acknowledged variant as `rater`: often one they rated before, or a hot one."""
    draw = rng.random()
    if mine and draw < MINE_SHARE:
        variant_id = rng.choice(mine)
    elif ledger.hot_variants and draw < MINE_SHARE + HOT_SHARE:
        variant_id = rng.choice(ledger.hot_variants)
    else:
        variant_id = rng.choice(ledger.variants)
    mine.append(variant_id)
    ledger.seq += 1
    seq, score = ledger.seq, rng.randint(1, 5)
    attempts = ledger.ratings.setdefault((variant_id, rater), RatingAttempts())
    attempts.scores[seq] = score
    body = {"score": score, "rater": rater, "comment": f"seq {seq}"}
    ledger.in_flight += 1
    try:
        response = await client.put(f"/v1/variants/{variant_id}/rating", json=body)
    except httpx.TransportError as exc:
        ledger.transport_errors.append(f"PUT rating: {exc!r}")
        return
    finally:
        ledger.in_flight -= 1
    if not ledger.answered(f"PUT rating of {variant_id}", response, 200):
        return
    data = response.json()
    if (data["score"], data["comment"], data["rater"]) != (score, body["comment"], rater):
        ledger.bad_answers.append(f"PUT rating answered {data}, sent {body}")
        return
    attempts.acked.append(seq)
    ledger.acknowledged()


async def writer(
    index: int,
    client: httpx.AsyncClient,
    ledger: Ledger,
    rng: random.Random,
    stop: asyncio.Event,
    max_requests: int,
) -> None:
    """One client: generations and ratings, one request at a time, until told to stop."""
    rater = f"writer-{index}"  # one rater per writer: its ratings are sequential
    mine: list[str] = []
    while not stop.is_set() and ledger.requests < max_requests:
        ledger.requests += 1
        if not ledger.variants or rng.random() < POST_SHARE:
            await post_generation(client, ledger, rng)
        else:
            await put_rating(client, ledger, rng, rater, mine)


def http_client(base_url: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=WRITERS + FETCH_CONCURRENCY)
    return httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT, limits=limits)


async def seed(base_url: str, ledger: Ledger, rng: random.Random) -> None:
    """A few generations written before the writers start; their variants are the hot ones."""
    async with http_client(base_url) as client:
        for _ in range(SEED_GENERATIONS):
            await post_generation(client, ledger, rng)
    assert len(ledger.generations) == SEED_GENERATIONS, ledger.bad_answers[:5]
    ledger.hot_variants = list(ledger.variants)


async def run_writers(
    base_url: str, ledger: Ledger, rng: random.Random, stop: asyncio.Event, max_requests: int
) -> None:
    async with http_client(base_url) as client:
        await asyncio.gather(
            *(
                writer(i, client, ledger, random.Random(rng.random()), stop, max_requests)
                for i in range(WRITERS)
            )
        )


async def load(base_url: str, ledger: Ledger, rng: random.Random) -> None:
    """WRITERS concurrent writers for LOAD_SECONDS or LOAD_MAX_REQUESTS, whichever ends first."""
    stop = asyncio.Event()
    timer = asyncio.get_running_loop().call_later(LOAD_SECONDS, stop.set)
    try:
        await run_writers(base_url, ledger, rng, stop, ledger.requests + LOAD_MAX_REQUESTS)
    finally:
        timer.cancel()


async def write_until_killed(
    server: ServerProcess, ledger: Ledger, rng: random.Random, kill_after_acks: int
) -> tuple[int, int]:
    """Writers run until SIGKILL hits the server mid-write; (acks this cycle, in flight)."""
    stop = asyncio.Event()
    start_acks = ledger.acks
    ledger.ack_target, ledger.target_reached = start_acks + kill_after_acks, asyncio.Event()

    async def killer() -> int:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ledger.target_reached.wait(), CRASH_MAX_SECONDS)
        in_flight = ledger.in_flight
        server.process.kill()  # SIGKILL, while the writers are still writing
        stop.set()
        return in_flight

    in_flight, _ = await asyncio.gather(
        killer(),
        run_writers(server.base_url, ledger, rng, stop, ledger.requests + CRASH_MAX_REQUESTS),
    )
    ledger.ack_target = None
    return ledger.acks - start_acks, in_flight


async def retry_unanswered(base_url: str, ledger: Ledger) -> None:
    """Send every POST that never got an answer again, with its Idempotency-Key."""
    attempts, ledger.unanswered_posts = ledger.unanswered_posts, []
    limit = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def retry(client: httpx.AsyncClient, attempt: PostAttempt) -> None:
        async with limit:
            await send_post(client, ledger, attempt)

    async with http_client(base_url) as client:
        await asyncio.gather(*(retry(client, attempt) for attempt in attempts))


# -- what the server kept ----------------------------------------------------------------------


def seq_of(comment: str | None) -> int | None:
    if comment is None or not comment.startswith("seq "):
        return None
    return int(comment.removeprefix("seq "))


async def problems_via_api(base_url: str, ledger: Ledger, *, exact: bool) -> list[str]:
    """Acknowledged writes the API does not return as acknowledged.

    Every acknowledged generation must come back with its status and variants. A rater's stored
    rating must be their last acknowledged one, or one they sent after it whose answer they
    never got (it may have been committed before a crash). `exact`: every attempt was answered,
    so the stored rating is exactly the last acknowledged one and no other pair exists.
    """
    problems: list[str] = []
    stored: dict[tuple[str, str], tuple[int, str | None]] = {}
    limit = asyncio.Semaphore(FETCH_CONCURRENCY)

    async def check(client: httpx.AsyncClient, generation_id: str, acked: AckedGeneration) -> None:
        async with limit:
            response = await client.get(f"/v1/generations/{generation_id}")
        if response.status_code != 200:
            problems.append(f"generation {generation_id}: GET answered {response.status_code}")
            return
        data = response.json()
        variant_ids = tuple(v["id"] for v in data["variants"])
        if (data["status"], variant_ids) != (acked.status, acked.variant_ids):
            problems.append(
                f"generation {generation_id}: stored {data['status']} {variant_ids}, "
                f"acknowledged {acked.status} {acked.variant_ids}"
            )
        for variant in data["variants"]:
            for rating in variant["ratings"]:
                stored[(variant["id"], rating["rater"])] = (rating["score"], rating["comment"])

    async with http_client(base_url) as client:
        await asyncio.gather(*(check(client, i, g) for i, g in ledger.generations.items()))

    for key, attempts in ledger.ratings.items():
        got = stored.pop(key, None)
        if got is None:
            if attempts.acked:
                problems.append(f"rating {key}: lost (acknowledged seqs {attempts.acked})")
            continue
        score, comment = got
        seq = seq_of(comment)
        last_acked = attempts.acked[-1] if attempts.acked else 0
        allowed = {last_acked} if exact else {s for s in attempts.scores if s >= last_acked}
        if seq not in allowed or score != attempts.scores.get(seq):
            problems.append(
                f"rating {key}: stored score {score} ({comment!r}); sent {attempts.scores}, "
                f"acknowledged {attempts.acked}"
            )
    problems += [f"rating {key}: stored but never sent" for key in stored]
    return problems


@dataclass(frozen=True)
class StoredRows:
    generation_ids: set[str]
    rating_keys: set[tuple[str, str]]
    problems: list[str]


def stored_rows(sqlalchemy_url: str) -> StoredRows:
    """Rows read with plain SQL, and any half-written generation or dangling reference."""
    engine = create_engine(sqlalchemy_url)
    try:
        with engine.connect() as connection:
            generations = connection.execute(
                text("SELECT id, status, options_json FROM generation")
            ).all()
            variants = connection.execute(text('SELECT generation_id, "index" FROM variant')).all()
            ratings = connection.execute(text("SELECT variant_id, rater FROM rating")).all()
            orphan_variants = connection.execute(
                text(
                    "SELECT count(*) FROM variant v LEFT JOIN generation g "
                    "ON g.id = v.generation_id WHERE g.id IS NULL"
                )
            ).scalar_one()
            orphan_ratings = connection.execute(
                text(
                    "SELECT count(*) FROM rating r LEFT JOIN variant v "
                    "ON v.id = r.variant_id WHERE v.id IS NULL"
                )
            ).scalar_one()
    finally:
        engine.dispose()

    problems: list[str] = []
    if orphan_variants:
        problems.append(f"{orphan_variants} variants of a missing generation")
    if orphan_ratings:
        problems.append(f"{orphan_ratings} ratings of a missing variant")
    indexes: dict[str, list[int]] = {}
    for generation_id, index in variants:
        indexes.setdefault(generation_id, []).append(index)
    for generation_id, status, options in generations:
        options = json.loads(options) if isinstance(options, str) else options
        n = options["n"]
        found = sorted(indexes.get(generation_id, []))
        # The row and its variants are written in one transaction: all or nothing.
        if found != list(range(len(found))) or len(found) > n:
            problems.append(f"generation {generation_id}: variant indexes {found}, n={n}")
        if status == "succeeded" and len(found) != n:
            problems.append(f"generation {generation_id}: succeeded with {len(found)} of {n}")
    return StoredRows(
        {row[0] for row in generations}, {(row[0], row[1]) for row in ratings}, problems
    )


def sqlite_problems(path: Path) -> list[str]:
    """What SQLite's own checks say about the file (it recovers the WAL on open)."""
    connection = sqlite3.connect(path)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        foreign_keys = connection.execute("PRAGMA foreign_key_check").fetchall()
    finally:
        connection.close()
    problems = [] if integrity == ["ok"] else [f"integrity_check: {integrity[:10]}"]
    if foreign_keys:
        problems.append(f"foreign_key_check: {foreign_keys[:10]}")
    return problems


def log_problems(log: str) -> list[str]:
    return [
        f"server log: {line}"
        for line in log.splitlines()
        if LOCKED in line.lower() or line.startswith("Traceback")
    ][:20]


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_env() -> Iterator[dict[str, str]]:
    """Server settings: the mock upstream (served in this process) is the only model."""
    with serve_in_thread(create_mock_app()) as base:
        models = {
            "mock": {
                "provider": "openai_compat",
                "base_url": f"{base}/v1",
                "model": "mock-1",
                # Structured kinds (emails) are asked for their JSON schema.
                "response_format": "json_schema",
            }
        }
        yield {
            "COPYFORGE_MODELS": json.dumps(models),
            "COPYFORGE_DEFAULT_MODEL": "mock",
            # The open loopback mode: no API key, so no per-key rate limit throttles the load.
            "COPYFORGE_AUTH_REQUIRED": "false",
        }


@dataclass(frozen=True)
class Backend:
    url: str  # what the server is given
    sqlalchemy_url: str  # what the test reads rows with


def postgres_backend() -> Iterator[Backend]:
    """A database of this test's own, created empty and dropped afterwards."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_postgres(f"durability_test_{os.getpid()}", PG_SERVER))
        except OperationalError as exc:
            pytest.skip(f"PostgreSQL at {PG_SERVER} is not reachable: {exc}")
        yield Backend(url, url.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'durability.db'}"
        yield Backend(url, url)
    else:
        yield from postgres_backend()


@pytest.mark.parametrize("workers", [1, 2])
def test_fifty_concurrent_writers_lose_nothing(
    backend: Backend, model_env: dict[str, str], tmp_path: Path, workers: int
) -> None:
    # With two workers, two processes (each with its own group-commit writer) share the file.
    rng = random.Random()
    ledger = Ledger()
    env = {**model_env, "COPYFORGE_WORKERS": str(workers)}
    with running_server(backend.url, tmp_path / "serve.log", env) as server:
        asyncio.run(seed(server.base_url, ledger, rng))
        asyncio.run(load(server.base_url, ledger, rng))
        api_problems = asyncio.run(problems_via_api(server.base_url, ledger, exact=True))
        log = server.log()
    rows = stored_rows(backend.sqlalchemy_url)
    summary = ledger.summary()
    print(summary)  # shown when the test fails

    bad_answers, transport_errors = ledger.bad_answers, ledger.transport_errors
    assert not bad_answers, summary  # no 5xx, no "database is locked", nothing unexpected
    assert not transport_errors, summary
    assert not log_problems(log)
    assert not api_problems, summary
    assert not rows.problems
    # Every attempt was acknowledged, so the database holds exactly what the clients wrote.
    assert rows.generation_ids == set(ledger.generations)
    assert rows.rating_keys == set(ledger.ratings)
    # The load did what it is for: raters fought over variants and re-rated their own.
    assert len({variant for variant, _ in ledger.ratings}) < len(ledger.ratings), summary
    assert any(len(a.acked) > 1 for a in ledger.ratings.values()), summary
    if backend.url.startswith("sqlite"):
        assert sqlite_problems(Path(backend.url.removeprefix("sqlite:///"))) == []


def test_sigkill_mid_write_loses_no_acknowledged_write(
    model_env: dict[str, str], tmp_path: Path
) -> None:
    rng = random.Random()
    db_path = tmp_path / "crash.db"
    url = f"sqlite:///{db_path}"
    log_path = tmp_path / "serve.log"
    ledger = Ledger()
    cycles: list[tuple[int, int]] = []

    server = start_server(url, log_path, model_env)
    try:
        asyncio.run(seed(server.base_url, ledger, rng))
        for _ in range(CRASH_CYCLES):
            cycles.append(
                asyncio.run(write_until_killed(server, ledger, rng, rng.randint(20, 120)))
            )
            kill_server(server)
            assert sqlite_problems(db_path) == [], f"after cycle {len(cycles)}"
            server = start_server(url, log_path, model_env)
        cut_posts = len(ledger.unanswered_posts)
        # What a client does after a crash: send again, with the same key, what got no answer.
        asyncio.run(retry_unanswered(server.base_url, ledger))
        api_problems = asyncio.run(problems_via_api(server.base_url, ledger, exact=False))
    finally:
        stop_server(server)
    rows = stored_rows(url)
    summary = f"{ledger.summary()} cycles (acks, in flight at kill)={cycles} cut posts={cut_posts}"
    print(summary)  # shown when the test fails

    for acks, in_flight in cycles:
        assert acks > 0, f"no write was acknowledged before a kill: {summary}"
        assert in_flight > 0, f"a kill did not land mid-write: {summary}"
    # The only failures allowed are the connections the kills cut; every retry got its answer.
    bad_answers, unanswered = ledger.bad_answers, ledger.unanswered_posts
    assert not bad_answers, summary
    assert not unanswered, (summary, ledger.transport_errors[-10:])
    assert not log_problems(log_path.read_text(errors="replace"))
    assert not api_problems, summary
    assert not rows.problems
    # Each POST was answered in the end (a retried one by a replay or by its first write),
    # so the database holds exactly the acknowledged generations.
    assert rows.generation_ids == set(ledger.generations), summary
    assert {key for key, a in ledger.ratings.items() if a.acked} <= rows.rating_keys
    assert rows.rating_keys <= set(ledger.ratings)
    assert sqlite_problems(db_path) == []
