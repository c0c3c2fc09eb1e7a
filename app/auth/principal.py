"""Who is calling: the API key's workspace and scopes, checked and rate-limited per request."""

import hashlib
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from app.auth.keys import SCOPES, find_key
from app.auth.limits import Limiter, TokenReservation, Verdict
from app.config import Settings
from app.db import Database
from app.errors import Forbidden, RateLimited, Unauthorized
from app.models import DEFAULT_WORKSPACE

CACHE_TTL_S = 5.0
# Which per-minute budget a route's requests draw on.
Budget = Literal["requests", "events"]


@dataclass(frozen=True)
class Principal:
    """The caller: a key in a workspace with scopes and limits (or the open local mode)."""

    workspace_id: str
    key_id: str | None
    scopes: frozenset[str]
    requests_per_minute: int
    tokens_per_day: int

    @property
    def rater(self) -> str | None:
        """The name ratings default to: the key's id."""
        return self.key_id


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8 (also IPv4-mapped), ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # A dual-stack socket shows IPv4 clients as ::ffff:127.0.0.1.
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


# Set by a proxy in front: the request came from somewhere else, whatever the socket says.
_FORWARDING_HEADERS = frozenset({b"forwarded", b"x-forwarded-for", b"x-real-ip"})


def from_this_machine(request: Request) -> bool:
    """True when the request reached a loopback address from a loopback address, directly.

    A unix socket (no client address) or a proxy's forwarding headers count as not local:
    a proxy on this machine would otherwise make the whole network look like loopback."""
    client, server = request.scope.get("client"), request.scope.get("server")
    if not client or not is_loopback(str(client[0])):
        return False
    if not server or not is_loopback(str(server[0])):
        return False
    return not any(name in _FORWARDING_HEADERS for name, _ in request.scope["headers"])


class Authenticator:
    """Turns an Authorization header into a Principal; caches lookups for a few seconds."""

    def __init__(self, settings: Settings, database: Database, limiter: Limiter) -> None:
        self.settings = settings
        self.database = database
        self.limiter = limiter
        self._cache: dict[str, tuple[Principal, float]] = {}

    def open_principal(self) -> Principal:
        """The caller when auth is off (loopback only): everything, in the default workspace."""
        return Principal(
            DEFAULT_WORKSPACE,
            None,
            frozenset(SCOPES),
            self.settings.default_requests_per_minute,
            self.settings.default_tokens_per_day,
        )

    async def principal(self, request: Request) -> Principal:
        """The caller behind a request's Authorization header, or Unauthorized."""
        if not self.settings.auth_required:
            # Checked per request, not only by `copyforge serve`: an app built another way
            # (uvicorn --factory --host 0.0.0.0) must not serve the network without keys.
            if not from_this_machine(request):
                raise Forbidden(
                    "This server runs without API keys (COPYFORGE_AUTH_REQUIRED=false) and so "
                    "answers only requests made on this machine to a loopback address, not "
                    "through a proxy. Turn auth on to serve others."
                )
            return self.open_principal()
        authorization = request.headers.get("authorization")
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Unauthorized(
                "Send an API key: Authorization: Bearer <key>.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = hashlib.sha256(presented.strip().encode()).hexdigest()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        async with self.database.read_sessions() as session:
            key = await find_key(session, presented.strip())
        if key is None:
            raise Unauthorized(
                "The API key is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"}
            )
        # None means "the server's default"; 0 means none at all (e.g. a read-only dashboard
        # key that may never spend model tokens).
        principal = Principal(
            key.workspace_id,
            key.id,
            frozenset(key.scopes),
            _own_or_default(key.requests_per_minute, self.settings.default_requests_per_minute),
            _own_or_default(key.tokens_per_day, self.settings.default_tokens_per_day),
        )
        self._cache[digest] = (principal, time.monotonic() + CACHE_TTL_S)
        return principal

    async def admit(self, request: Request, scope: str, *, per_minute: Budget) -> Principal:
        """Authenticate, check the scope and count the request against the key's limit
        (events are counted by the route, which knows how many it got)."""
        principal = await self.principal(request)
        if scope not in principal.scopes:
            raise Forbidden(f"This API key lacks the {scope!r} scope.")
        if principal.key_id is not None and per_minute == "requests":
            verdict = await self.limiter.hit_request(
                principal.key_id, principal.requests_per_minute
            )
            _add_headers(request, verdict.headers("requests"))
            if not verdict.allowed and verdict.limit == 0:
                raise Forbidden("This API key may make no requests (its limit is 0 per minute).")
            if not verdict.allowed:
                raise _limited("requests per minute", verdict)
        return principal

    async def count_events(self, request: Request, principal: Principal, events: int) -> None:
        """Count events (or assignments) against the key's own per-minute budget."""
        if principal.key_id is None:
            return
        limit = self.settings.events_per_minute
        verdict = await self.limiter.hit_events(principal.key_id, events, limit)
        _add_headers(request, verdict.headers("events"))
        if not verdict.allowed and events > limit:
            raise RateLimited(
                f"{events} events are more than the key may send in a minute ({limit}): "
                "send smaller batches."
            )
        if not verdict.allowed:
            raise _limited("events per minute", verdict)

    async def reserve_tokens(
        self, request: Request, principal: Principal, tokens: int
    ) -> TokenReservation | None:
        """Set aside the most tokens a generation may spend, or refuse it; None when unlimited.

        Reserved before the model runs and settled after, so concurrent generations can
        never spend more than the key's daily budget between them."""
        if principal.key_id is None:
            return None
        limit = principal.tokens_per_day
        verdict, reservation = await self.limiter.reserve_tokens(principal.key_id, tokens, limit)
        _add_headers(request, verdict.headers("tokens"))
        if reservation is not None:
            return reservation
        if limit == 0:
            raise Forbidden("This API key may not spend model tokens (its daily limit is 0).")
        if tokens > limit:
            raise RateLimited(
                f"This request may use up to {tokens} model tokens, more than the key's daily "
                f"limit of {limit}: lower n or max_tokens, or shorten the brief."
            )
        raise RateLimited(
            f"This request may use up to {tokens} model tokens and the key has "
            f"{max(0, verdict.remaining)} of its {limit} per day left; retry in "
            f"{verdict.reset_s} s, or lower n or max_tokens.",
            headers={"Retry-After": str(max(1, verdict.reset_s))},
        )


def _own_or_default(own: int | None, default: int) -> int:
    return default if own is None else own


def _limited(what: str, verdict: Verdict) -> RateLimited:
    return RateLimited(
        f"Rate limit of {verdict.limit} {what} reached; retry in {verdict.reset_s} s.",
        headers={"Retry-After": str(max(1, verdict.reset_s))},
    )


def _add_headers(request: Request, headers: dict[str, str]) -> None:
    # Picked up by the response-headers middleware, whatever response the route returns.
    request.scope.setdefault("state", {}).setdefault("response_headers", {}).update(headers)


# Declared so the OpenAPI document (and Swagger UI's Authorize button) knows about the key;
# the Authenticator reads the header itself, so it can answer in the one error shape.
_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `copyforge keys create` (not needed with auth off).",
)


def requires(scope: str, per_minute: Budget = "requests") -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers that hold `scope`; `per_minute="events"` leaves the
    counting to the route, against the events budget."""

    async def dependency(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        return await authenticator.admit(request, scope, per_minute=per_minute)

    return dependency
