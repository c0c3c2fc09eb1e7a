"""generation.search_text: what `q` searches (brief values and copy), trigram-indexed on PostgreSQL

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
generation = sa.table(
    "generation",
    sa.column("id", sa.String),
    sa.column("input_json", sa.JSON),
    sa.column("search_text", sa.Text),
)
variant = sa.table(
    "variant", sa.column("generation_id", sa.String), sa.column("text", sa.Text)
)


# A copy of app.search.search_text as it was when this migration was written: a migration
# must do tomorrow what it did today, whatever the app's code becomes.
def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)


def _search_text(brief: dict[str, Any], texts: list[str]) -> str:
    values = (s for name, v in brief.items() if name != "language" for s in _strings(v))
    return "\n".join([*values, *texts]).casefold()


def _backfill(connection: sa.Connection) -> None:
    last = ""
    while True:
        rows = connection.execute(
            sa.select(generation.c.id, generation.c.input_json)
            .where(generation.c.id > last)
            .order_by(generation.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        ids = [row.id for row in rows]
        texts: dict[str, list[str]] = {}
        for generation_id, text in connection.execute(
            sa.select(variant.c.generation_id, variant.c.text).where(
                variant.c.generation_id.in_(ids)
            )
        ):
            texts.setdefault(generation_id, []).append(text)
        connection.execute(
            generation.update()
            .where(generation.c.id == sa.bindparam("gid"))
            .values(search_text=sa.bindparam("text")),
            [
                {
                    "gid": row.id,
                    "text": _search_text(
                        json.loads(row.input_json)
                        if isinstance(row.input_json, str)
                        else row.input_json,
                        texts.get(row.id, []),
                    ),
                }
                for row in rows
            ],
        )
        last = ids[-1]


def upgrade() -> None:
    with op.batch_alter_table("generation") as batch:
        batch.add_column(sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
    _backfill(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm ships with PostgreSQL and is a trusted extension (13+): a database owner
        # may create it. Its GIN index serves LIKE '%...%' in any script, Han included.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_generation_search_trgm",
            "generation",
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_generation_search_trgm", table_name="generation")
    with op.batch_alter_table("generation") as batch:
        batch.drop_column("search_text")
