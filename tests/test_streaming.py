"""Server-Sent Events: order of events, the final event, errors, keep-alives, hang-ups."""

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.generation import streaming
from app.llm.base import GenerationOptions, Message, StreamEvent
from app.llm.registry import ModelRegistry
from app.main import create_app
from tests.fakes import FakeLLM, failing
from tests.payloads import PATHS, brief
from tests.servers import serve_in_thread

SSE = {"Accept": "text/event-stream"}


def parse_events(raw: str) -> list[tuple[str, Any]]:
    """(event, data) pairs; comments become ("comment", text); [DONE] becomes ("done", None)."""
    events: list[tuple[str, Any]] = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        if block.startswith(":"):
            events.append(("comment", block[1:].strip()))
            continue
        name, data = "message", ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data += line.removeprefix("data: ")
        events.append(("done", None) if data == "[DONE]" else (name, json.loads(data)))
    return events


@pytest.mark.parametrize("kind", list(PATHS))
async def test_event_order_and_final_event_equals_stored_generation(
    client: httpx.AsyncClient, kind: str
) -> None:
    response = await client.post(PATHS[kind], json=brief(kind, n=2, seed=3), headers=SSE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "generation.created"
    assert names[-2:] == ["generation.completed", "done"]
    assert set(names[1:-2]) == {"delta"}
    created, final = events[0][1], events[-2][1]
    assert created["id"] == final["id"]
    assert created["n"] == 2
    deltas: dict[int, str] = {}
    for name, data in events:
        if name == "delta":
            deltas[data["attempt"]] = deltas.get(data["attempt"], "") + data["text"]
    assert sorted(deltas) == [0, 1]
    stored = (await client.get(f"/v1/generations/{final['id']}")).json()
    assert final == stored
    assert final["status"] == "succeeded"


async def test_validation_errors_come_before_the_stream(client: httpx.AsyncClient) -> None:
    response = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", n=99), headers=SSE)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "n"


async def test_model_failure_arrives_as_an_error_event(
    client: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    fake_llm.script = failing("timeout", "no answer in time")
    response = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=SSE)
    events = parse_events(response.text)
    assert [name for name, _ in events] == ["generation.created", "error", "done"]
    error = events[1][1]["error"]
    assert error["type"] == "upstream_timeout"
    assert error["request_id"] == response.headers["x-request-id"]
    assert error["generation_id"] == events[0][1]["id"]
    stored = (await client.get(f"/v1/generations/{error['generation_id']}")).json()
    assert stored["status"] == "failed"


class SlowLLM(FakeLLM):
    """Waits before answering, so keep-alives have time to flow."""

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[StreamEvent]:
        await asyncio.sleep(0.3)
        async for event in super().stream(messages, options):
            yield event


async def test_keep_alive_comments_during_long_waits(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streaming, "KEEPALIVE_S", 0.05)
    app = create_app(settings, registry=ModelRegistry.from_clients({"slow": SlowLLM()}, "slow"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            response = await http.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=SSE)
    events = parse_events(response.text)
    assert ("comment", "keep-alive") in events
    assert events[-2][0] == "generation.completed"


class StallAfterFirstDelta(FakeLLM):
    """Streams one piece of text, then stalls until cancelled."""

    def __init__(self) -> None:
        super().__init__(alias="stall")
        self.cancelled = threading.Event()

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[StreamEvent]:
        from app.llm.base import StreamDelta

        yield StreamDelta("Grip that ")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        yield StreamDelta("never comes")


def test_disconnect_mid_stream_stops_the_model_and_stores_partial(settings: Settings) -> None:
    llm = StallAfterFirstDelta()
    app = create_app(settings, registry=ModelRegistry.from_clients({"stall": llm}, "stall"))
    with serve_in_thread(app) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        body = json.dumps(brief("ad_slogan")).encode()
        head = (
            "POST /v1/ad-slogans HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head.encode() + body)
            received = b""
            while b"event: delta" not in received:
                chunk = sock.recv(4096)
                assert chunk, "stream closed before the first delta"
                received += chunk
        assert llm.cancelled.wait(10), "the model call was not stopped"
        items: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while not items and time.monotonic() < deadline:
            items = httpx.get(f"{base_url}/v1/generations").json()["items"]
            time.sleep(0.05)
    assert len(items) == 1
    assert items[0]["status"] == "partial"
    assert items[0]["error"]["type"] == "client_disconnected"
    assert [v["text"] for v in items[0]["variants"]] == ["Grip that"]
