"""Alembic environment: the URL comes from copyforge's settings unless the caller set one."""

from sqlalchemy import Connection, engine_from_config, pool

from alembic import context
from app.config import get_settings
from app.db import sync_url
from app.migrations import include_object
from app.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or sync_url(get_settings().database_url)


def run_migrations_online() -> None:
    """Run the migrations on a live connection (SQLite uses batch mode for ALTERs)."""
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = engine_from_config(
        {"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=include_object(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
