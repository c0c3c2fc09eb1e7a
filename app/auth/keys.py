"""API key management: create (shown once), list, revoke, and look up a presented key."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, ValidationFailed
from app.models import ApiKey, Workspace, utcnow

SCOPES = ("generate", "rate", "read", "knowledge", "admin")
KEY_PREFIX = "cf_"


def _hash(key: str) -> str:
    # Keys carry 190+ bits of randomness, so a fast hash is as safe as a slow one here.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A key just created: the only moment its secret exists outside the caller."""

    id: str
    workspace_id: str
    secret: str
    scopes: list[str]


def parse_scopes(text: str) -> list[str]:
    """Scopes from 'generate,read'; unknown ones are an error."""
    scopes = sorted({s.strip() for s in text.split(",") if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValidationFailed(
            f"Scopes must be some of {', '.join(SCOPES)}; got {text!r}.", param="scopes"
        )
    return scopes


async def create_key(
    session: AsyncSession,
    *,
    workspace_id: str,
    scopes: list[str],
    name: str = "",
    requests_per_minute: int | None = None,
    tokens_per_day: int | None = None,
) -> NewKey:
    """Create a key (and its workspace, if new); the secret is returned once, never stored."""
    # None takes the server's default. A key that may make no requests is a revoked key;
    # one that may spend no tokens is a read-only key's belt and braces.
    if requests_per_minute is not None and requests_per_minute < 1:
        raise ValidationFailed(
            "rpm must be at least 1 (leave it out for the server's default).", param="rpm"
        )
    if tokens_per_day is not None and tokens_per_day < 0:
        raise ValidationFailed(
            "tokens_per_day must be 0 (no model tokens) or more.", param="tokens_per_day"
        )
    if await session.get(Workspace, workspace_id) is None:
        session.add(Workspace(id=workspace_id, created_at=utcnow()))
        await session.flush()  # the key's foreign key needs the workspace row first
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    key = ApiKey(
        workspace_id=workspace_id,
        name=name or f"key {prefix}",
        prefix=prefix,
        secret_hash=_hash(secret),
        scopes=scopes,
        requests_per_minute=requests_per_minute,
        tokens_per_day=tokens_per_day,
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    return NewKey(key.id, workspace_id, secret, scopes)


async def list_keys(session: AsyncSession, *, workspace_id: str | None = None) -> list[ApiKey]:
    """Every key (optionally of one workspace), oldest first; no secrets."""
    query = select(ApiKey).order_by(ApiKey.created_at)
    if workspace_id is not None:
        query = query.where(ApiKey.workspace_id == workspace_id)
    return list((await session.scalars(query)).all())


async def revoke_key(session: AsyncSession, *, key_id_or_prefix: str) -> ApiKey:
    """Revoke a key by id or prefix; it stops working at once (within the lookup cache TTL)."""
    key = (
        await session.scalars(
            select(ApiKey).where(
                (ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == key_id_or_prefix)
            )
        )
    ).first()
    if key is None:
        raise NotFound(f"No API key {key_id_or_prefix!r}.", param="key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def prefix_of(presented: str) -> str | None:
    """The lookup prefix of a presented key, or None if it is not shaped like one of ours."""
    if not presented.startswith(KEY_PREFIX):
        return None
    prefix, sep, _ = presented.removeprefix(KEY_PREFIX).partition("_")
    return prefix if sep and len(prefix) == 12 else None


async def find_key(session: AsyncSession, presented: str) -> ApiKey | None:
    """The live key matching a presented secret, compared in constant time."""
    prefix = prefix_of(presented)
    if prefix is None:
        return None
    key = (await session.scalars(select(ApiKey).where(ApiKey.prefix == prefix))).first()
    if key is None or key.revoked_at is not None:
        return None
    return key if hmac.compare_digest(key.secret_hash, _hash(presented)) else None
