"""Idempotency-Key: replays return the first answer and create nothing, even concurrently."""

import asyncio

import httpx
import pytest

from tests.fakes import FakeLLM, failing
from tests.payloads import PATHS, brief
from tests.test_streaming import SSE, parse_events


async def stored_count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/v1/generations", params={"limit": 100})).json()["items"])


async def test_replay_returns_the_first_answer(
    client: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    key = {"Idempotency-Key": "order-42"}
    first = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
    again = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert len(fake_llm.calls) == 1
    assert await stored_count(client) == 1


async def test_same_key_different_body_is_refused(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "order-43"}
    await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
    response = await client.post(
        PATHS["ad_slogan"], json=brief("ad_slogan", product="Other"), headers=key
    )
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "Idempotency-Key"
    other_kind = await client.post(PATHS["blog_post"], json=brief("blog_post"), headers=key)
    assert other_kind.status_code == 422
    assert await stored_count(client) == 1


async def test_ten_concurrent_replays_create_one_generation(
    client: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    key = {"Idempotency-Key": "burst-1"}
    responses = await asyncio.gather(
        *(
            client.post(PATHS["ad_slogan"], json=brief("ad_slogan", n=2, seed=1), headers=key)
            for _ in range(10)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 9
    assert len(fake_llm.calls) == 2  # n=2 variants, written once
    assert await stored_count(client) == 1


async def test_a_failed_first_answer_is_replayed_as_the_same_error(
    client: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script = failing("upstream", "boom")
    key = {"Idempotency-Key": "fails-1"}
    first = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
    again = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
    assert first.status_code == again.status_code == 502
    assert first.json()["error"]["generation_id"] == again.json()["error"]["generation_id"]
    assert await stored_count(client) == 1


async def test_streamed_replay_sends_the_stored_generation(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "stream-1"}
    first = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
    streamed = await client.post(
        PATHS["ad_slogan"], json=brief("ad_slogan"), headers={**key, **SSE}
    )
    events = parse_events(streamed.text)
    assert [name for name, _ in events] == ["generation.created", "generation.completed", "done"]
    assert events[1][1] == first.json()
    assert await stored_count(client) == 1


async def test_keys_are_validated(client: httpx.AsyncClient) -> None:
    response = await client.post(
        PATHS["ad_slogan"], json=brief("ad_slogan"), headers={"Idempotency-Key": "x" * 201}
    )
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "Idempotency-Key"


@pytest.mark.parametrize("leader", ["plain", "streamed"])
async def test_streamed_and_plain_twins_share_one_flight(
    client: httpx.AsyncClient, fake_llm: FakeLLM, leader: str
) -> None:
    # The model is slow, so the second request arrives while the first is writing.
    fake_llm.delay_s = 0.3
    headers = {
        "plain": {"Idempotency-Key": "twins"},
        "streamed": {"Idempotency-Key": "twins", **SSE},
    }
    follower = "streamed" if leader == "plain" else "plain"

    async def send(which: str) -> httpx.Response:
        return await client.post(
            PATHS["ad_slogan"], json=brief("ad_slogan"), headers=headers[which]
        )

    first = asyncio.create_task(send(leader))
    await asyncio.sleep(0.05)
    answers = dict(
        zip((leader, follower), await asyncio.gather(first, send(follower)), strict=True)
    )

    events = parse_events(answers["streamed"].text)
    created = next(data for name, data in events if name == "generation.created")
    completed = next(data for name, data in events if name == "generation.completed")
    # One generation: the stream announces the id it ends with, the one the JSON twin got.
    assert created["id"] == completed["id"] == answers["plain"].json()["id"]
    assert answers[follower].headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in answers[leader].headers
    assert len(fake_llm.calls) == 1  # the model wrote once for both
    assert await stored_count(client) == 1
