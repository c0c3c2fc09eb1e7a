"""Engines, session factories and SQLite's pragmas."""

import json
from typing import Any

from sqlalchemy import Insert, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _with_driver(url: str, drivers: dict[str, str]) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in drivers and parsed.drivername == backend:
        parsed = parsed.set(drivername=drivers[backend])
    return parsed.render_as_string(hide_password=False)


def async_url(url: str) -> str:
    """The URL with the async driver copyforge uses for its backend."""
    return _with_driver(url, _ASYNC_DRIVERS)


def sync_url(url: str) -> str:
    """The URL with a sync driver, for migrations."""
    return _with_driver(url, _SYNC_DRIVERS)


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """The database's own INSERT, which has ON CONFLICT (SQLite and PostgreSQL alike)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Insert:
    """INSERT that skips rows colliding with any unique key: with RETURNING, it answers
    only the rows it wrote."""
    statement: Insert = dialect_insert(session, table).on_conflict_do_nothing()
    return statement


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The wait first: switching to WAL takes a lock, and a connection opened while
        # another holds one would otherwise give up after the driver's default 5 s.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL survives a process crash; only power loss can drop the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front: a deferred transaction that later upgrades to a
        # write can fail with "database is locked" no matter what busy_timeout says.
        mode = "IMMEDIATE" if conn.get_execution_options().get("copyforge_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def _dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Database:
    """The engines of a process: an async one with session factories for readers and writers,
    and a plain one for the thread that stores new generations (app/generation/store.py)."""

    def __init__(self, settings: Settings) -> None:
        url = async_url(settings.database_url)
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {
            "pool_pre_ping": not self.is_sqlite,
            # Store Chinese as characters, not \u escapes: readable, smaller, and searchable.
            "json_serializer": _dump_json,
        }
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=20)
        self.engine = create_async_engine(url, **kwargs)
        # One thread writes through it, so one connection is all it needs.
        self._thread_engine = create_engine(
            sync_url(settings.database_url),
            **{**kwargs, "pool_size": 1},
        )
        if self.is_sqlite:
            for engine in (self.engine.sync_engine, self._thread_engine):
                _install_sqlite_pragmas(engine, settings.sqlite_busy_timeout_ms)
        # Writers begin with BEGIN IMMEDIATE on SQLite (see _on_begin).
        self.thread_write_engine = self._thread_engine.execution_options(copyforge_write=True)
        self.read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = async_sessionmaker(
            self.engine.execution_options(copyforge_write=True), expire_on_commit=False
        )

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        self._thread_engine.dispose()
