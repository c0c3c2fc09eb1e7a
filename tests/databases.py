"""Scratch databases for tests and benchmarks: an empty PostgreSQL database of its own."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def scratch_postgres(name: str, server: str = "postgres@127.0.0.1:5432") -> Iterator[str]:
    """An empty PostgreSQL database of its own (made anew); dropped afterwards. Yields its URL.

    Raises sqlalchemy's OperationalError, before yielding, when the server cannot be reached."""
    admin = create_engine(
        f"postgresql+psycopg://{server}/postgres",
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    drop = text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        with admin.connect() as connection:
            connection.execute(drop)
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield f"postgresql://{server}/{name}"
        finally:
            with admin.connect() as connection:
                connection.execute(drop)
    finally:
        admin.dispose()
