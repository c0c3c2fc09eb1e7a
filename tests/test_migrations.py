"""Migrations: reversible, in step with app.models, and the constraints they create hold.

Runs on the `database_url` fixture: SQLite, or PostgreSQL when COPYFORGE_TEST_DATABASE_URL is set.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    func,
    inspect,
    select,
)
from sqlalchemy.exc import IntegrityError

from app.db import sync_url
from app.migrations import alembic_config, downgrade, include_object, upgrade
from app.models import Base, utcnow

TABLES = {"generation", "variant", "rating"}
GENERATION = Base.metadata.tables["generation"]
VARIANT = Base.metadata.tables["variant"]
RATING = Base.metadata.tables["rating"]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A sync engine on the test database; SQLite connections enforce foreign keys."""
    engine = create_engine(sync_url(database_url))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _foreign_keys_on(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

    yield engine
    engine.dispose()


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def app_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) & TABLES


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match app.models."""
    with engine.connect() as connection:
        opts = {"compare_type": True, "include_object": include_object(engine.dialect.name)}
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def generation_row(generation_id: str, **values: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": generation_id,
        "workspace_id": "default",
        "kind": "ad_slogan",
        "language": "en",
        "input_json": {"product": "Aurora"},
        "template_name": "ad_slogan/en",
        "template_version": "0" * 64,
        "system_prompt": "system",
        "prompt": "user",
        "model_alias": "fake",
        "provider": "fake",
        "options_json": {"n": 1},
        "status": "succeeded",
        "input_tokens": 0,
        "output_tokens": 0,
        "latency_ms": 0,
        "created_at": now,
        "updated_at": now,
        **values,
    }


def insert_generation(connection: Connection, generation_id: str, **values: Any) -> None:
    connection.execute(GENERATION.insert().values(**generation_row(generation_id, **values)))


def variant_row(variant_id: str, generation_id: str) -> dict[str, Any]:
    return {
        "id": variant_id,
        "generation_id": generation_id,
        "index": 0,
        "text": "Grip that holds.",
        "checks_json": [],
        "created_at": utcnow(),
    }


def insert_variant(connection: Connection, variant_id: str, generation_id: str) -> None:
    connection.execute(VARIANT.insert().values(**variant_row(variant_id, generation_id)))


def insert_rating(
    connection: Connection, rating_id: str, variant_id: str, *, score: int, rater: str = "ann"
) -> None:
    now = utcnow()
    connection.execute(
        RATING.insert().values(
            id=rating_id,
            variant_id=variant_id,
            rater=rater,
            score=score,
            created_at=now,
            updated_at=now,
        )
    )


def count(connection: Connection, table: Any) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


class TestUpDown:
    def test_fixture_database_is_at_head(self, database_url: str, engine: Engine) -> None:
        assert current_revision(engine) == head_revision(database_url)
        assert app_tables(engine) == TABLES

    def test_downgrade_to_base_and_back_twice(self, database_url: str, engine: Engine) -> None:
        head = head_revision(database_url)
        assert head is not None
        for _ in range(2):
            # Rows present must not stop a downgrade.
            with engine.begin() as connection:
                insert_generation(connection, "g1")

            downgrade(database_url, "base")
            engine.dispose()
            assert app_tables(engine) == set()
            assert current_revision(engine) is None

            upgrade(database_url, "head")
            engine.dispose()
            assert app_tables(engine) == TABLES
            assert current_revision(engine) == head
            with engine.connect() as connection:
                assert count(connection, GENERATION) == 0

    def test_upgrade_at_head_changes_nothing(self, database_url: str, engine: Engine) -> None:
        with engine.begin() as connection:
            insert_generation(connection, "g1")

        upgrade(database_url, "head")

        with engine.connect() as connection:
            assert count(connection, GENERATION) == 1


class TestSchemaMatchesModels:
    def test_no_differences_after_upgrade(self, engine: Engine) -> None:
        assert schema_differences(engine) == []

    def test_no_differences_after_a_down_up_cycle(self, database_url: str, engine: Engine) -> None:
        downgrade(database_url, "base")
        upgrade(database_url, "head")
        engine.dispose()

        assert schema_differences(engine) == []

    def test_comparison_would_notice_a_missing_index(self, engine: Engine) -> None:
        # Guard against a comparison that can never fail (wrong metadata, wrong connection).
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP INDEX ix_generation_ws_updated")

        differences = schema_differences(engine)

        assert [d[0] for d in differences] == ["add_index"]
        assert differences[0][1].name == "ix_generation_ws_updated"


class TestSearchTextBackfill:
    def test_rows_stored_before_0004_become_searchable(
        self, database_url: str, engine: Engine
    ) -> None:
        downgrade(database_url, "0003")
        # The tables as 0003 left them (the models already have the new column).
        old = MetaData()
        old_generation = Table("generation", old, autoload_with=engine)
        old_variant = Table("variant", old, autoload_with=engine)
        brief = {"product": "Aurora", "specs": {"Weight": "210 g"}, "language": "en"}
        rows = [{**generation_row("g1"), "input_json": brief}, generation_row("g2")]
        rows[1]["input_json"] = {"product": "Kettle"}
        with engine.begin() as connection:
            connection.execute(old_generation.insert(), rows)
            connection.execute(old_variant.insert(), [variant_row("v1", "g1")])
        engine.dispose()
        upgrade(database_url, "head")
        with engine.connect() as connection:
            texts = dict(
                connection.execute(select(GENERATION.c.id, GENERATION.c.search_text)).all()
            )
        assert texts == {"g1": "aurora\nweight\n210 g\ngrip that holds.", "g2": "kettle"}


class TestConstraints:
    @pytest.mark.parametrize("score", [0, 6])
    def test_rating_score_outside_1_to_5_is_rejected(self, engine: Engine, score: int) -> None:
        with engine.begin() as connection:
            insert_generation(connection, "g1")
            insert_variant(connection, "v1", "g1")

        with pytest.raises(IntegrityError), engine.begin() as connection:
            insert_rating(connection, "r1", "v1", score=score)

    @pytest.mark.parametrize("score", [1, 5])
    def test_rating_score_bounds_are_accepted(self, engine: Engine, score: int) -> None:
        with engine.begin() as connection:
            insert_generation(connection, "g1")
            insert_variant(connection, "v1", "g1")
            insert_rating(connection, "r1", "v1", score=score)
            assert count(connection, RATING) == 1

    def test_generation_status_outside_the_list_is_rejected(self, engine: Engine) -> None:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            insert_generation(connection, "g1", status="weird")

    @pytest.mark.parametrize("status", ["succeeded", "partial", "failed"])
    def test_each_documented_status_is_accepted(self, engine: Engine, status: str) -> None:
        with engine.begin() as connection:
            insert_generation(connection, "g1", status=status)
            assert count(connection, GENERATION) == 1

    def test_one_rating_per_variant_and_rater(self, engine: Engine) -> None:
        with engine.begin() as connection:
            insert_generation(connection, "g1")
            insert_variant(connection, "v1", "g1")
            insert_rating(connection, "r1", "v1", score=4)

        with pytest.raises(IntegrityError), engine.begin() as connection:
            insert_rating(connection, "r2", "v1", score=2)

    def test_idempotency_key_is_unique_per_workspace(self, engine: Engine) -> None:
        with engine.begin() as connection:
            insert_generation(connection, "g1", idempotency_key="k")
            insert_generation(connection, "g2", idempotency_key="k", workspace_id="other")

        with pytest.raises(IntegrityError), engine.begin() as connection:
            insert_generation(connection, "g3", idempotency_key="k")

    def test_variant_needs_an_existing_generation(self, engine: Engine) -> None:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            insert_variant(connection, "v1", "no-such-generation")

    def test_deleting_a_generation_cascades_to_variants_and_ratings(self, engine: Engine) -> None:
        with engine.begin() as connection:
            insert_generation(connection, "g1")
            insert_variant(connection, "v1", "g1")
            insert_rating(connection, "r1", "v1", score=5)
            insert_generation(connection, "g2")
            insert_variant(connection, "v2", "g2")
            insert_rating(connection, "r2", "v2", score=3)

        with engine.begin() as connection:
            connection.execute(GENERATION.delete().where(GENERATION.c.id == "g1"))

        with engine.connect() as connection:
            assert connection.execute(select(GENERATION.c.id)).scalars().all() == ["g2"]
            assert connection.execute(select(VARIANT.c.id)).scalars().all() == ["v2"]
            assert connection.execute(select(RATING.c.id)).scalars().all() == ["r2"]
