"""Engagement events: one result per event, replays counted once, counters that match."""

import asyncio
import os
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.config import Settings
from app.db import Database
from app.experiments.events import rebuild_counters
from app.models import Generation, VariantDay
from tests.fakes import FakeLLM
from tests.payloads import PATHS, brief
from tests.processes import copyforge_command

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def distinct_slogans(fake_llm: FakeLLM) -> None:
    """Each variant its own text (equal texts would be one variant)."""
    fake_llm.script = lambda messages, options: f"Grip number {options.seed}."


async def variant_ids(client: httpx.AsyncClient) -> list[str]:
    response = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", n=3, seed=0))
    assert response.status_code == 201, response.text
    return [variant["id"] for variant in response.json()["variants"]]


def event(event_id: str, variant_id: str, kind: str = "impression", **extra: Any) -> Any:
    return {
        "event_id": event_id,
        "variant_id": variant_id,
        "type": kind,
        "occurred_at": extra.pop("occurred_at", NOW.isoformat()),
        **extra,
    }


async def send(client: httpx.AsyncClient, *events: Any) -> Any:
    response = await client.post("/v1/events", json={"events": list(events)})
    assert response.status_code == 200, response.text
    return response.json()


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


async def counters(settings: Settings) -> dict[tuple[str, str], tuple[int, float]]:
    database = Database(settings)
    try:
        async with database.read_sessions() as session:
            rows = await session.scalars(select(VariantDay))
            return {(r.variant_id, r.type): (r.events, r.value) for r in rows}
    finally:
        await database.dispose()


async def test_each_event_gets_its_result_and_a_replay_counts_once(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    a, b, _ = await variant_ids(client)
    first = await send(
        client,
        event("e1", a),
        event("e2", a, "click"),
        event("e3", b, "conversion", value=49.5, unit_id="u-1", segment="mobile"),
        event("e1", a),  # the same id again, in the same batch
    )
    assert [r["status"] for r in first["results"]] == [
        "recorded",
        "recorded",
        "recorded",
        "duplicate",
    ]
    assert (first["recorded"], first["duplicates"], first["refused"]) == (3, 1, 0)
    again = await send(client, event("e2", a, "click"), event("e4", a, "click"))
    assert [r["status"] for r in again["results"]] == ["duplicate", "recorded"]
    assert await counters(settings) == {
        (a, "impression"): (1, 0.0),
        (a, "click"): (2, 0.0),
        (b, "conversion"): (1, 49.5),
    }


async def test_bad_events_are_refused_alone(client: httpx.AsyncClient, settings: Settings) -> None:
    a, foreign, _ = await variant_ids(client)
    database = Database(settings)
    try:
        async with database.write_sessions() as session:
            generation_id = await session.scalar(
                select(Generation.id).order_by(Generation.created_at.desc())
            )
            await session.execute(
                update(Generation)
                .where(Generation.id == generation_id)
                .values(workspace_id="rival")
            )
            await session.commit()
    finally:
        await database.dispose()
    # The generation (and so all three variants) now belongs to another workspace.
    mine = (await variant_ids(client))[0]
    late = (NOW - timedelta(days=40)).isoformat()
    ahead = (NOW + timedelta(hours=1)).isoformat()
    answer = await send(
        client,
        event("ok", mine),
        event("late", mine, "click", occurred_at=late),
        event("theirs", foreign),
        event("nobody", "01a00000-0000-7000-8000-000000000000"),
        event("future", mine, occurred_at=ahead),
    )
    statuses = {r["event_id"]: (r["status"], r["message"]) for r in answer["results"]}
    assert statuses["ok"] == ("recorded", None)
    assert statuses["late"] == ("recorded", None)
    assert statuses["theirs"][0] == "refused"
    assert "No variant" in statuses["theirs"][1]
    assert statuses["nobody"][0] == "refused"
    assert statuses["future"][0] == "refused"
    assert "ahead" in statuses["future"][1]
    assert a not in {variant for variant, _ in await counters(settings)}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"value": -1}, "events.0.value"),
        ({"value": True}, "events.0.value"),
        ({"type": "Click!"}, "events.0.type"),
        ({"occurred_at": "1700000000"}, "events.0.occurred_at"),
        ({"occurred_at": 0}, "events.0.occurred_at"),
        ({"event_id": ""}, "events.0.event_id"),
        ({"surprise": 1}, "events.0.surprise"),
    ],
)
async def test_a_body_breaking_the_schema_is_refused_whole(
    client: httpx.AsyncClient, settings: Settings, change: dict[str, Any], param: str
) -> None:
    [a, *_] = await variant_ids(client)
    body = {"events": [{**event("x", a), **change}, event("y", a)]}
    response = await client.post("/v1/events", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["param"] == param
    assert await counters(settings) == {}


async def test_batch_size_is_bounded(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/events", json={"events": []})).status_code == 422
    many = [event(f"e{i}", "v") for i in range(1001)]
    assert (await client.post("/v1/events", json={"events": many})).status_code == 422


async def test_concurrent_replays_count_once(client: httpx.AsyncClient, settings: Settings) -> None:
    [a, *_] = await variant_ids(client)
    batch = [event(f"c{i}", a, "click") for i in range(50)]
    answers = await asyncio.gather(*(send(client, *batch) for _ in range(6)))
    assert sum(answer["recorded"] for answer in answers) == 50
    assert sum(answer["duplicates"] for answer in answers) == 250
    assert await counters(settings) == {(a, "click"): (50, 0.0)}


async def test_rebuilding_the_counters_finds_and_mends_drift(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    a, b, _ = await variant_ids(client)
    await send(client, *(event(f"i{i}", a) for i in range(7)), event("k", b, "click"))
    database = Database(settings)
    try:
        async with database.write_sessions() as session:
            assert await rebuild_counters(session) == []
            await session.execute(
                update(VariantDay).where(VariantDay.variant_id == a).values(events=3)
            )
            await session.commit()
    finally:
        await database.dispose()
    # The command reports the drift (exit 1), mends it, and finds none the next time.
    env = {**os.environ, "COPYFORGE_DATABASE_URL": settings.database_url}
    command = [copyforge_command(), "events", "rebuild-counters"]
    drifted = await asyncio.to_thread(run, command, env)
    assert drifted.returncode == 1, drifted.stderr
    assert f"drift: variant {a}" in drifted.stdout
    assert "counted 3, events 7" in drifted.stdout
    clean = await asyncio.to_thread(run, command, env)
    assert clean.returncode == 0, clean.stderr
    assert "0 had drifted" in clean.stdout
    assert await counters(settings) == {(a, "impression"): (7, 0.0), (b, "click"): (1, 0.0)}
