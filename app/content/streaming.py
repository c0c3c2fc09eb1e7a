"""Server-Sent Events for a generation: id first, text deltas, the stored generation, [DONE].

The generation runs in a task of its own, so a client that leaves mid-stream stops the model
calls (through `cancelled`) but not the write of what was produced: it is stored `partial`.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from app.content import service
from app.content.outcome import Generated
from app.content.views import generation_read
from app.errors import AppError, error_body

logger = logging.getLogger("copyforge.streaming")

KEEPALIVE_S = 15.0
DONE = "data: [DONE]\n\n"

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


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


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


def events(
    context: service.GenerationContext,
    plan: service.Plan,
    background: BackgroundWrites,
    request_id: str | None,
    reservation: service.TokenReservation | None,
) -> AsyncIterator[str]:
    """Start the generation and return its event stream.

    It starts now, not when the stream is first read: a client gone before the first byte
    still leaves a stored row, and the reservation is always settled to what was spent."""
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancelled = asyncio.Event()

    async def on_delta(attempt: int, text: str) -> None:
        queue.put_nowait(("delta", {"attempt": attempt, "text": text}))

    async def produce() -> None:
        try:
            generated = await service.generate(
                context, plan, reservation=reservation, cancelled=cancelled, on_delta=on_delta
            )
            queue.put_nowait(("done", generated))
        except AppError as error:
            queue.put_nowait(("error", error))
        except Exception:
            logger.exception("streamed generation %s failed", plan.id)
            queue.put_nowait(("error", AppError("Internal server error.")))

    background.spawn(produce())
    return _relay(plan, queue, cancelled, request_id)


async def _relay(
    plan: service.Plan,
    queue: asyncio.Queue[tuple[str, Any]],
    cancelled: asyncio.Event,
    request_id: str | None,
) -> AsyncIterator[str]:
    try:
        yield sse(
            "generation.created",
            {"id": plan.id, "kind": plan.kind.name, "model": plan.alias, "n": plan.request.n},
        )
        while True:
            try:
                kind, payload = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if kind == "delta":
                yield sse("delta", payload)
                continue
            if kind == "done":
                yield _outcome_event(payload, request_id)
            else:
                yield _error_event(payload, request_id)
            break
        yield DONE
    finally:
        # Reached early only when the client went away: stop the model calls.
        cancelled.set()


async def replayed(generated: Generated, request_id: str | None) -> AsyncIterator[str]:
    """The stream of an Idempotency-Key replay: the stored result, at once."""
    generation = generated.generation
    yield sse(
        "generation.created",
        {
            "id": generation.id,
            "kind": generation.kind,
            "model": generation.model_alias,
            "n": generation.options_json.get("n"),
        },
    )
    yield _outcome_event(generated, request_id)
    yield DONE


def _outcome_event(generated: Generated, request_id: str | None) -> str:
    """The stored generation, or the error it ended in."""
    failure = generated.failure()
    if failure is not None:
        return _error_event(failure, request_id)
    read = generation_read(generated.generation, with_prompt=True)
    return sse("generation.completed", read.model_dump(mode="json"))


def _error_event(error: AppError, request_id: str | None) -> str:
    body = error_body(
        error.type, error.message, param=error.param, request_id=request_id, extra=error.extra
    )
    return sse("error", body)
