"""Server-Sent Events of a generation: the service's events turned into frames, nothing more.

Framing, keep-alive comments and disconnect detection are sse-starlette's. The generation
runs in a task of its own, so a client that leaves mid-stream stops the model calls (through
`cancelled`) but not the write of what was produced: it is stored `partial`.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent

from app.errors import AppError, error_body
from app.generation import service
from app.generation.outcome import Delta, Generated, Started
from app.generation.plan import Order
from app.generation.views import generation_read

logger = logging.getLogger("copyforge.streaming")

KEEPALIVE_S = 15.0
# At shutdown a stream may run this long before it is cut (and stored `partial`): under the
# 30 s `copyforge serve` gives uvicorn to finish open requests.
SHUTDOWN_GRACE_S = 25.0

STREAM_DOC = (
    "Send `Accept: text/event-stream` to stream instead: `event: generation.created` (id, "
    "kind, model, n), then `event: delta` pieces of text tagged with their `attempt`, then "
    "`event: generation.completed` with the stored generation (exactly what `GET "
    "/v1/generations/{id}` returns), then `data: [DONE]`. Comment lines (`: keep-alive`) "
    "arrive during long waits. A failure arrives as `event: error` in the error envelope. If "
    "you disconnect, the model calls stop and what was written is stored as `partial`."
)
STREAM_EXAMPLE = (
    'event: generation.created\ndata: {"id": "…", "kind": "ad_slogan", "model": "local", '
    '"n": 1}\n\nevent: delta\ndata: {"attempt": 0, "text": "Grip"}\n\n'
    'event: generation.completed\ndata: {"id": "…", "status": "succeeded", …}\n\ndata: [DONE]\n'
)

# What the generation task hands the stream: its events, then how it ended.
_Item = Started | Delta | Generated | AppError


class BackgroundWrites:
    """Generations that outlive their response, tracked so shutdown can wait for them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` to completion even if whoever started it goes away."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout_s: float) -> None:
        """Wait (bounded) for every tracked write to finish."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)


async def stream(
    context: service.GenerationContext,
    order: Order,
    *,
    tokens: service.TokenBudget | None,
    background: BackgroundWrites,
    request_id: str | None,
) -> EventSourceResponse:
    """Start the generation and answer with its event stream once it has started.

    What the service refuses before it starts (caps, the model, the budget, a reused
    Idempotency-Key) is raised here, so it is an HTTP error, not an event. The generation
    runs from now on, not from the stream's first read: a client gone before the first byte
    still leaves a stored row and a settled token reservation."""
    queue: asyncio.Queue[_Item] = asyncio.Queue()
    cancelled = asyncio.Event()

    async def on_event(event: Started | Delta) -> None:
        queue.put_nowait(event)

    async def produce() -> None:
        try:
            queue.put_nowait(
                await service.generate(
                    context, order, tokens=tokens, on_event=on_event, cancelled=cancelled
                )
            )
        except AppError as error:
            queue.put_nowait(error)
        except Exception:
            logger.exception("streamed %s generation failed", order.kind.name)
            queue.put_nowait(AppError("Internal server error."))

    background.spawn(produce())
    first = await queue.get()
    if not isinstance(first, Started):
        raise first if isinstance(first, AppError) else AppError("Internal server error.")
    return EventSourceResponse(
        _frames(first, queue, cancelled, request_id),
        headers={"Idempotent-Replayed": "true"} if first.replayed else None,
        ping=KEEPALIVE_S,
        ping_message_factory=lambda: ServerSentEvent(comment="keep-alive", sep="\n"),
        sep="\n",
        shutdown_grace_period=SHUTDOWN_GRACE_S,
    )


async def _frames(
    started: Started,
    queue: asyncio.Queue[_Item],
    cancelled: asyncio.Event,
    request_id: str | None,
) -> AsyncIterator[ServerSentEvent]:
    try:
        created = {"id": started.id, "kind": started.kind, "model": started.model, "n": started.n}
        yield _event("generation.created", created)
        while isinstance(item := await queue.get(), Delta):
            yield _event("delta", {"attempt": item.attempt, "text": item.text})
        if isinstance(item, Generated):
            yield _outcome_event(item, request_id)
        else:
            error = item if isinstance(item, AppError) else AppError("Internal server error.")
            yield _error_event(error, request_id)
        yield ServerSentEvent(data="[DONE]", sep="\n")
    finally:
        # Reached early only when the client went away: stop the model calls.
        cancelled.set()


def _event(name: str, data: Any) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(data, ensure_ascii=False, default=str), event=name, sep="\n"
    )


def _outcome_event(generated: Generated, request_id: str | None) -> ServerSentEvent:
    """The stored generation, or the error it ended in."""
    failure = generated.failure()
    if failure is not None:
        return _error_event(failure, request_id)
    read = generation_read(generated.generation, with_prompt=True)
    return _event("generation.completed", read.model_dump(mode="json"))


def _error_event(error: AppError, request_id: str | None) -> ServerSentEvent:
    body = error_body(
        error.type, error.message, param=error.param, request_id=request_id, extra=error.extra
    )
    return _event("error", body)
