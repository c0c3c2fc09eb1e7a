"""Per-key limits: requests per minute and model tokens per day.

Counters are fixed windows (the current minute, the current UTC day). In one process they
live in memory; with COPYFORGE_REDIS_URL set they live in Redis, shared by every replica.
"""

import time
from dataclasses import dataclass
from typing import Protocol

WINDOW_S = 60
DAY_S = 86_400


@dataclass(frozen=True)
class Verdict:
    """Whether a request may go on, and what to tell the client about its quota."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int

    def headers(self, kind: str) -> dict[str, str]:
        """X-RateLimit-* headers for this quota (kind: 'requests' or 'tokens')."""
        suffix = "" if kind == "requests" else "-Tokens"
        return {
            f"X-RateLimit-Limit{suffix}": str(self.limit),
            f"X-RateLimit-Remaining{suffix}": str(max(0, self.remaining)),
            f"X-RateLimit-Reset{suffix}": str(self.reset_s),
        }


class Counters(Protocol):
    """Where counts live: memory or Redis."""

    async def incr(self, key: str, amount: int, ttl_s: int) -> int: ...

    async def get(self, key: str) -> int: ...

    async def aclose(self) -> None: ...


class MemoryCounters:
    """Counters in this process only."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, float]] = {}

    async def incr(self, key: str, amount: int, ttl_s: int) -> int:
        now = time.time()
        value, expires = self._values.get(key, (0, now + ttl_s))
        if expires <= now:
            value, expires = 0, now + ttl_s
        value += amount
        self._values[key] = (value, expires)
        if len(self._values) > 100_000:
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
        return value

    async def get(self, key: str) -> int:
        value, expires = self._values.get(key, (0, 0.0))
        return value if expires > time.time() else 0

    async def aclose(self) -> None:
        return None


class RedisCounters:
    """Counters in Redis, shared by every replica."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url)

    async def incr(self, key: str, amount: int, ttl_s: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, ttl_s, nx=True)
            value, _ = await pipe.execute()
        return int(value)

    async def get(self, key: str) -> int:
        value = await self._redis.get(key)
        return int(value) if value else 0

    async def aclose(self) -> None:
        await self._redis.aclose()


class Limiter:
    """Checks and counts each key's requests and tokens."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    async def hit_request(self, key_id: str, limit: int) -> Verdict:
        """Count one request against the key's per-minute limit."""
        now = int(time.time())
        window = now // WINDOW_S
        used = await self.counters.incr(f"cf:rpm:{key_id}:{window}", 1, WINDOW_S + 1)
        reset = (window + 1) * WINDOW_S - now
        return Verdict(used <= limit, limit, limit - used, reset)

    async def check_tokens(self, key_id: str, limit: int) -> Verdict:
        """Whether the key has model tokens left today."""
        now = int(time.time())
        day = now // DAY_S
        used = await self.counters.get(f"cf:tok:{key_id}:{day}")
        return Verdict(used < limit, limit, limit - used, (day + 1) * DAY_S - now)

    async def add_tokens(self, key_id: str, tokens: int) -> None:
        """Count tokens a generation spent."""
        if tokens > 0:
            day = int(time.time()) // DAY_S
            await self.counters.incr(f"cf:tok:{key_id}:{day}", tokens, DAY_S + 60)


def create_limiter(redis_url: str | None) -> Limiter:
    """Redis-backed when a URL is configured, else in memory."""
    return Limiter(RedisCounters(redis_url) if redis_url else MemoryCounters())
