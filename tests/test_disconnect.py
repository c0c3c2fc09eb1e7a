"""A client that hangs up mid-generation: the model calls stop and the cut generation is kept."""

import asyncio
import json
import socket
import threading
import time
from collections.abc import Sequence

import httpx

from app.config import Settings
from app.llm.base import Completion, GenerationOptions, Message
from app.llm.registry import ModelRegistry
from app.main import create_app
from tests.fakes import FakeLLM
from tests.payloads import brief
from tests.servers import serve_in_thread


class StallingLLM(FakeLLM):
    """Answers the first call at once and stalls every later one until cancelled."""

    def __init__(self) -> None:
        super().__init__(alias="stall")
        self.stalled = threading.Event()
        self.cancelled = threading.Event()

    async def complete(self, messages: Sequence[Message], options: GenerationOptions) -> Completion:
        if options.seed:
            self.stalled.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        return await super().complete(messages, options)


def test_hanging_up_cancels_the_model_and_stores_a_partial_generation(settings: Settings) -> None:
    llm = StallingLLM()
    app = create_app(settings, registry=ModelRegistry.from_clients({"stall": llm}, "stall"))
    with serve_in_thread(app) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        body = json.dumps(brief("ad_slogan", n=2, seed=0)).encode()
        request = (
            f"POST /v1/ad-slogans HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            assert llm.stalled.wait(10), "the second model call never started"
        # The socket is closed: the server notices, cancels the stalled call, stores the rest.
        assert llm.cancelled.wait(10), "the stalled model call was not cancelled"
        deadline = time.monotonic() + 10
        items: list[dict[str, object]] = []
        while time.monotonic() < deadline and not items:
            items = httpx.get(f"{base_url}/v1/generations").json()["items"]
            time.sleep(0.05)
    assert len(items) == 1
    generation = items[0]
    assert generation["status"] == "partial"
    assert generation["error"] == {
        "type": "client_disconnected",
        "message": "The client disconnected before the copy was done.",
    }
    assert len(generation["variants"]) == 1  # type: ignore[arg-type]
