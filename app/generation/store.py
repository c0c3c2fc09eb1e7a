"""Storing new generations with their variants, by group commit (app/group_commit.py).

Core INSERTs, not the ORM's unit of work: a new generation needs no identity map, change
tracking or flush ordering (bench/profile.py found what that cost; bench/store.py measures).
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, insert, inspect
from sqlalchemy.engine import Connection

from app.db import Database
from app.group_commit import GroupCommit
from app.models import Base, Generation, Variant


def _columns(model: type[Base]) -> tuple[Table, list[tuple[str, str]]]:
    """The table of a model and its (attribute, column) name pairs."""
    mapper = inspect(model)
    return mapper.local_table, [(a.key, a.columns[0].name) for a in mapper.column_attrs]  # type: ignore[return-value]


GENERATION_TABLE, _GENERATION_COLUMNS = _columns(Generation)
VARIANT_TABLE, _VARIANT_COLUMNS = _columns(Variant)
_COLUMNS = {GENERATION_TABLE.name: _GENERATION_COLUMNS, VARIANT_TABLE.name: _VARIANT_COLUMNS}


def row_values(table: Table, objects: Iterable[Any]) -> list[dict[str, Any]]:
    """The INSERT parameters of new objects of the table's model: every column, as set."""
    columns = _COLUMNS[table.name]
    return [{column: getattr(obj, attr) for attr, column in columns} for obj in objects]


class GenerationStore(GroupCommit[Generation, None]):
    """Writes new generations (with their variants), many requests' worth per transaction."""

    def __init__(self, database: Database, max_batch: int = 200) -> None:
        super().__init__(database.thread_write_engine, "store", max_batch)

    async def save(self, generation: Generation) -> None:
        """Store a new generation; return once it is committed.

        Raises IntegrityError when a stored row already has its Idempotency-Key. Every
        field of the generation and its variants must be set: no column default applies."""
        await self.submit(generation)

    def write(self, connection: Connection, items: list[Generation]) -> list[None]:
        variants = [variant for generation in items for variant in generation.variants]
        connection.execute(insert(GENERATION_TABLE), row_values(GENERATION_TABLE, items))
        if variants:
            connection.execute(insert(VARIANT_TABLE), row_values(VARIANT_TABLE, variants))
        return [None] * len(items)
