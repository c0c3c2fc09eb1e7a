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
        """X-RateLimit-* headers for this quota (kind: 'requests', 'tokens' or 'events')."""
        suffix = {"requests": "", "tokens": "-Tokens", "events": "-Events"}[kind]
        return {
            f"X-RateLimit-Limit{suffix}": str(self.limit),
            f"X-RateLimit-Remaining{suffix}": str(max(0, self.remaining)),
            f"X-RateLimit-Reset{suffix}": str(self.reset_s),
        }


class Counters(Protocol):
    """Where counts live: memory or Redis."""

    async def incr(self, key: str, amount: int, ttl_s: int) -> int: ...

    async def incr_within(self, key: str, amount: int, limit: int, ttl_s: int) -> tuple[bool, int]:
        """Add `amount` only if the total stays within `limit`, atomically: (added, total)."""
        ...

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

    async def incr_within(self, key: str, amount: int, limit: int, ttl_s: int) -> tuple[bool, int]:
        # No await between the read and the write: atomic on the event loop.
        value, expires = self._values.get(key, (0, 0.0))
        used = value if expires > time.time() else 0
        if used + amount > limit:
            return False, used
        return True, await self.incr(key, amount, ttl_s)

    async def aclose(self) -> None:
        return None


# Check and add in one step on the server, so concurrent reservations cannot both fit.
_INCR_WITHIN = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if used + amount > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], ARGV[3], 'NX')
return {1, used}
"""


class RedisCounters:
    """Counters in Redis, shared by every replica."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(url)
        self._incr_within = self._redis.register_script(_INCR_WITHIN)

    async def incr(self, key: str, amount: int, ttl_s: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, ttl_s, nx=True)
            value, _ = await pipe.execute()
        return int(value)

    async def incr_within(self, key: str, amount: int, limit: int, ttl_s: int) -> tuple[bool, int]:
        added, used = await self._incr_within(keys=[key], args=[amount, limit, ttl_s])
        return bool(added), int(used)

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

    async def hit_events(self, key_id: str, events: int, limit: int) -> Verdict:
        """Count a batch of events against the key's per-minute budget; a batch that does not
        fit is not counted (its events are refused, so it used nothing)."""
        now = int(time.time())
        window = now // WINDOW_S
        added, used = await self.counters.incr_within(
            f"cf:epm:{key_id}:{window}", events, limit, WINDOW_S + 1
        )
        return Verdict(added, limit, limit - used, (window + 1) * WINDOW_S - now)

    async def reserve_tokens(
        self, key_id: str, tokens: int, limit: int
    ) -> tuple[Verdict, "TokenReservation | None"]:
        """Set aside today's tokens for a generation before it runs; None when they don't fit."""
        now = int(time.time())
        day = now // DAY_S
        counter = f"cf:tok:{key_id}:{day}"
        added, used = await self.counters.incr_within(counter, tokens, limit, DAY_S + 60)
        verdict = Verdict(added, limit, limit - used, (day + 1) * DAY_S - now)
        return verdict, TokenReservation(self.counters, counter, tokens) if added else None


class TokenReservation:
    """Tokens set aside for one generation, settled to what it really spent."""

    def __init__(self, counters: Counters, counter: str, tokens: int) -> None:
        self._counters = counters
        self._counter = counter
        self._tokens = tokens
        self._settled = False

    async def settle(self, spent: int) -> None:
        """Give back what was set aside and not spent (or charge more); once only."""
        if self._settled:
            return
        self._settled = True
        if spent != self._tokens:
            # The day's counter it was taken from, even if a new day has begun since.
            await self._counters.incr(self._counter, spent - self._tokens, DAY_S + 60)


def create_limiter(redis_url: str | None) -> Limiter:
    """Redis-backed when a URL is configured, else in memory."""
    return Limiter(RedisCounters(redis_url) if redis_url else MemoryCounters())
