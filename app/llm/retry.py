"""Retry policy shared by providers: which failures to retry, how long to wait, the deadline."""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.llm.base import LLMError

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 429})
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 8.0


def is_retryable(error: LLMError) -> bool:
    """Connection errors, timeouts, 408, 409, 429 and 5xx; never other 4xx."""
    if error.kind in ("connection", "timeout"):
        return True
    status = error.status_code
    return status is not None and (status in RETRYABLE_STATUS or status >= 500)


def backoff_s(attempt: int, retry_after_s: float | None) -> float:
    """Full-jitter exponential backoff, or the upstream's Retry-After when it gave one."""
    if retry_after_s is not None:
        return max(0.0, retry_after_s)
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt))


async def with_retries(
    call: Callable[[float], Awaitable[T]], *, max_retries: int, deadline_s: float
) -> T:
    """Run `call(remaining_s)` until it succeeds, fails for good, or the deadline passes."""
    started = time.monotonic()
    attempt = 0
    while True:
        remaining = deadline_s - (time.monotonic() - started)
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                return await call(remaining)
        except TimeoutError:
            raise LLMError(
                "timeout",
                f"No answer from the model within {deadline_s:g} s.",
                attempts=attempt + 1,
            ) from None
        except LLMError as error:
            error.attempts = attempt + 1
            if attempt >= max_retries or not is_retryable(error):
                raise
            wait = backoff_s(attempt, error.retry_after_s)
            remaining = deadline_s - (time.monotonic() - started)
            if wait >= remaining:
                # Waiting would overrun the deadline: report the failure we have now.
                raise
            await asyncio.sleep(wait)
            attempt += 1
