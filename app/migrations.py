"""Run Alembic from code: `copyforge db upgrade`, `serve` and the tests share this."""

from typing import Any

from alembic.config import Config

from alembic import command
from app.db import sync_url
from app.models import POSTGRESQL_ONLY_INDEXES
from app.paths import ALEMBIC_DIR


def include_object(dialect: str) -> Any:
    """Alembic's include_object hook for a database: skips the models' PostgreSQL-only
    indexes elsewhere, which autogenerate would otherwise always report missing."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return not (
            type_ == "index" and dialect != "postgresql" and name in POSTGRESQL_ONLY_INDEXES
        )

    return include


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at copyforge's migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    # ConfigParser treats % as interpolation; URLs may contain %-escapes.
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the schema down to `revision`."""
    command.downgrade(alembic_config(database_url), revision)
