"""Notice when an HTTP client goes away while its request is still being worked on."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request


@asynccontextmanager
async def client_gone(request: Request) -> AsyncIterator[asyncio.Event]:
    """An event set when the client disconnects; watch only after the body has been read."""
    gone = asyncio.Event()

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                gone.set()
                return

    watcher = asyncio.create_task(watch())
    try:
        yield gone
    finally:
        watcher.cancel()
