"""Who is calling: the API key's workspace and scopes, checked and rate-limited per request."""

import hashlib
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from app.auth.keys import SCOPES, find_key
from app.auth.limits import Limiter, Verdict
from app.config import Settings
from app.db import Database
from app.errors import Forbidden, RateLimited, Unauthorized
from app.models import DEFAULT_WORKSPACE

CACHE_TTL_S = 5.0


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
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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

    async def principal(self, authorization: str | None) -> Principal:
        """The caller behind an Authorization header, or Unauthorized."""
        if not self.settings.auth_required:
            return self.open_principal()
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
        principal = Principal(
            key.workspace_id,
            key.id,
            frozenset(key.scopes),
            key.requests_per_minute or self.settings.default_requests_per_minute,
            key.tokens_per_day or self.settings.default_tokens_per_day,
        )
        self._cache[digest] = (principal, time.monotonic() + CACHE_TTL_S)
        return principal

    async def admit(self, request: Request, scope: str) -> Principal:
        """Authenticate, check the scope and count the request against the key's limit."""
        principal = await self.principal(request.headers.get("authorization"))
        if scope not in principal.scopes:
            raise Forbidden(f"This API key lacks the {scope!r} scope.")
        if principal.key_id is not None:
            verdict = await self.limiter.hit_request(
                principal.key_id, principal.requests_per_minute
            )
            _add_headers(request, verdict.headers("requests"))
            if not verdict.allowed:
                raise _limited("requests per minute", verdict)
        return principal

    async def check_tokens(self, request: Request, principal: Principal) -> None:
        """Refuse a generation when the key has spent its tokens for today."""
        if principal.key_id is None:
            return
        verdict = await self.limiter.check_tokens(principal.key_id, principal.tokens_per_day)
        _add_headers(request, verdict.headers("tokens"))
        if not verdict.allowed:
            raise _limited("model tokens per day", verdict)

    async def spend_tokens(self, principal: Principal, tokens: int) -> None:
        """Count what a generation spent."""
        if principal.key_id is not None:
            await self.limiter.add_tokens(principal.key_id, tokens)


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


def requires(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting callers that hold `scope`."""

    async def dependency(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        return await authenticator.admit(request, scope)

    return dependency
