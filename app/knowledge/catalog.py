"""The product catalog as a file: import (upsert by SKU) and export, CSV or JSON Lines.

The file is UTF-8 (with or without a BOM) or GB18030/GBK, as Chinese Excel saves it; any
other bytes refuse the whole file. JSON Lines: one ProductIn object per line. CSV: a header
line, then one product per line, these columns in any order (`sku` and `name` required):

    sku, name, brand_id, category, features, specs, price, currency, approved_claims,
    forbidden_claims, url, and per language name_en, features_en, category_en, name_zh, ...

- An empty cell is an absent value. Cells are trimmed.
- Lists (features, forbidden_claims, features_<lang>): items separated by `|` with white
  space on both sides: `grippy outsole | rock plate`. A `|` inside a word (`USB-C|Lightning`)
  is text.
- specs: `name=value` items, split at the first `=`: `weight=210 g | drop=6 mm`.
- approved_claims: `claim — evidence` items, split at the last em dash (or ` -- `) with
  white space around it: `30% more grip on wet rock — lab test 2026-03 | lightest in class`.
- A list cell may also hold the JSON form (`["a | b", "c"]`): export writes it for values
  the plain syntax cannot carry (an item containing ` | `, a claim containing ` — `).
- price: a plain decimal, dot as separator (`129.00`); currency: ISO 4217 (`CNY`).

Formulas: a cell is data, never evaluated, so `=1+1` is stored as written. Export prefixes
a single quote to every cell starting with = + - @ tab or CR (OWASP's CSV injection advice:
spreadsheets would run them) and import drops that one quote again, so export -> import
changes nothing. A product without a SKU exports with an empty `sku` and cannot be imported
back until it has one.

Import validates every row with ProductIn; a row is either written whole or refused with
its line and reason. All accepted rows go into the request's transaction, so a failure
mid-import writes nothing.
"""

import dataclasses
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import String, bindparam, insert, select, update, values
from sqlalchemy import column as sql_column
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import LANGUAGES
from app.errors import Conflict, ValidationFailed
from app.fields import FileFormat
from app.ids import new_id
from app.knowledge.schemas import ProductIn
from app.knowledge.service import product_columns, product_fields
from app.models import Brand, Product, utcnow
from app.spreadsheet import csv_lines, csv_records, guard, header_names, unguard

Format = FileFormat
# Rows per SELECT of existing SKUs and per INSERT/UPDATE batch: far under every database's
# limit of bound parameters, large enough that 10,000 rows take 20 round trips.
CHUNK = 500
MAX_ERRORS = 1000
# 32 MiB of one-cell rows would be millions of them; a catalog that big is imported in parts.
MAX_ROWS = 100_000

BASE_COLUMNS = (
    *("sku", "name", "brand_id", "category", "features", "specs", "price", "currency"),
    *("approved_claims", "forbidden_claims", "url"),
)
TEXT_FIELDS = ("name", "features", "category")
CSV_COLUMNS = (*BASE_COLUMNS, *(f"{f}_{lang}" for lang in LANGUAGES for f in TEXT_FIELDS))

_ITEM_SEPARATOR = re.compile(r"(?:\s+\|)+\s+")
_EVIDENCE_SEPARATOR = re.compile(r"\s+(?:—|--)\s+")


class RowError(BaseModel):
    """Why one line of the file was refused."""

    line: int
    sku: str | None
    param: str | None = Field(description="The column (CSV) or field path (JSON Lines).")
    message: str


class ImportReport(BaseModel):
    """What an import did (or, as a dry run, would do)."""

    rows: int = Field(description="Products read (blank lines not counted).")
    created: int
    updated: int
    unchanged: int = Field(description="Rows whose SKU already held these very facts.")
    refused: int = Field(description="Rows refused; `errors` says why.")
    errors: list[RowError] = Field(description=f"The first {MAX_ERRORS} problems.")
    errors_truncated: bool = Field(description=f"More than {MAX_ERRORS} problems were found.")
    dry_run: bool

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "rows": 3,
                    "created": 1,
                    "updated": 1,
                    "unchanged": 0,
                    "refused": 1,
                    "errors": [
                        {
                            "line": 4,
                            "sku": "AUR-TR-03",
                            "param": "price",
                            "message": "Input should be greater than or equal to 0",
                        }
                    ],
                    "errors_truncated": False,
                    "dry_run": False,
                }
            ]
        }
    }


@dataclass(frozen=True)
class RawRow:
    """One product as read from the file, before validation."""

    line: int
    data: dict[str, Any]
    is_csv: bool = False


class _CellError(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column, self.message = column, message


# --- reading -----------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """The file as text: UTF-8 (a BOM is dropped), else GB18030, a superset of GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        text = text.removeprefix("\ufeff")  # GB18030 has a BOM of its own
        if not text.strip():
            raise ValidationFailed("The file is empty.", param="body")
        return text
    raise ValidationFailed(
        "The file is neither UTF-8 nor GB18030/GBK text; save it as 'CSV UTF-8'.",
        param="body",
    )


def parse_jsonl(data: bytes) -> Iterator[RawRow | RowError]:
    """One product per line; blank lines are skipped, line numbers count them."""
    # Not str.splitlines(): it also splits at U+2028 and others JSON strings may hold.
    for number, line in enumerate(decode(data).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowError(line=number, sku=None, param=None, message=f"Not JSON: {exc.msg}.")
            continue
        except RecursionError:
            yield RowError(line=number, sku=None, param=None, message="JSON nested too deep.")
            continue
        if not isinstance(value, dict):
            message = "Each line must be a JSON object: one product."
            yield RowError(line=number, sku=None, param=None, message=message)
            continue
        yield RawRow(number, value)


def parse_csv(data: bytes) -> Iterator[RawRow | RowError]:
    """One product per record after the header; line numbers are where a record starts."""
    for row in csv_records(io.StringIO(decode(data), newline=""), _header):
        sku = row.cells.get("sku") or None
        if row.problem is not None:
            yield RowError(line=row.line, sku=sku, param=None, message=row.problem)
            continue
        try:
            yield RawRow(row.line, _csv_record(row.cells), is_csv=True)
        except _CellError as exc:
            yield RowError(line=row.line, sku=sku, param=exc.column, message=exc.message)


def _header(cells: list[str]) -> list[str]:
    names = header_names(cells, CSV_COLUMNS)
    missing = [name for name in ("sku", "name") if name not in names]
    if missing:
        message = f"The header needs the column(s) {', '.join(missing)}."
        raise ValidationFailed(message, param="header")
    return names


def _csv_record(record: dict[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for column in BASE_COLUMNS:
        if cell := unguard(record.get(column, "")):
            raw[column] = _CELL_PARSERS[column](cell) if column in _CELL_PARSERS else cell
    translations = {}
    for lang in LANGUAGES:
        text: dict[str, Any] = {}
        for field in TEXT_FIELDS:
            if cell := unguard(record.get(f"{field}_{lang}", "")):
                text[field] = _items(cell) if field == "features" else cell
        if text:
            translations[lang] = text
    if translations:
        raw["translations"] = translations
    return raw


def _json_form(cell: str, kind: type) -> Any:
    if cell[0] in "[{":
        try:
            value = json.loads(cell)
        except (ValueError, RecursionError):
            return None
        if isinstance(value, kind):
            return value
    return None


def _items(cell: str) -> list[Any]:
    value = _json_form(cell, list)
    if value is not None:
        return list(value)
    return [item.strip() for item in _ITEM_SEPARATOR.split(cell) if item.strip()]


def _specs(cell: str) -> dict[str, Any]:
    value = _json_form(cell, dict)
    if value is not None:
        return dict(value)
    specs: dict[str, Any] = {}
    for item in _items(cell):
        name, sep, spec = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise _CellError("specs", f"{item!r}: each spec is name=value, e.g. weight=210 g.")
        if name in specs:
            raise _CellError("specs", f"Spec {name!r} twice.")
        specs[name] = spec.strip()
    return specs


def _claims(cell: str) -> list[Any]:
    value = _json_form(cell, list)
    if value is not None:
        return list(value)
    claims: list[Any] = []
    for item in _items(cell):
        *_, last = [None, *_EVIDENCE_SEPARATOR.finditer(item)]
        if last is None:
            claims.append({"claim": item})
        else:
            claims.append({"claim": item[: last.start()], "evidence": item[last.end() :]})
    return claims


_CELL_PARSERS: dict[str, Callable[[str], Any]] = {
    "features": _items,
    "forbidden_claims": _items,
    "specs": _specs,
    "approved_claims": _claims,
}


# --- importing ---------------------------------------------------------------------------


@dataclass
class _Tally:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)  # the first MAX_ERRORS
    problems: int = 0  # all of them

    def refuse(self, *problems: RowError) -> None:
        self.refused += 1
        self.problems += len(problems)
        self.errors.extend(problems[: MAX_ERRORS - len(self.errors)])


async def import_products(
    session: AsyncSession,
    workspace_id: str,
    rows: Iterable[RawRow | RowError],
    *,
    dry_run: bool = False,
) -> ImportReport:
    """Create or update the workspace's products by SKU; report what happened to each row.

    The whole file is read and checked before anything is written. Accepted rows are added
    to the session's transaction (which the caller commits), so nothing is half-imported."""
    tally = _Tally()
    accepted = _validated(rows, tally)
    accepted = await _own_brands_only(session, workspace_id, accepted, tally)
    for chunk in _chunks(accepted, CHUNK):
        await _upsert(session, workspace_id, chunk, tally, dry_run=dry_run)
    return ImportReport(
        rows=tally.rows,
        created=tally.created,
        updated=tally.updated,
        unchanged=tally.unchanged,
        refused=tally.refused,
        errors=tally.errors,
        errors_truncated=tally.problems > len(tally.errors),
        dry_run=dry_run,
    )


def _validated(rows: Iterable[RawRow | RowError], tally: _Tally) -> list[tuple[int, ProductIn]]:
    accepted: list[tuple[int, ProductIn]] = []
    first_line: dict[str, int] = {}
    for row in rows:
        tally.rows += 1
        if tally.rows > MAX_ROWS:
            raise ValidationFailed(f"More than {MAX_ROWS} rows; import the file in parts.")
        line = row.line
        sku = row.sku if isinstance(row, RowError) else _raw_sku(row.data)
        # The first line naming a SKU keeps it, valid or not: the later ones are refused.
        if sku is not None and sku in first_line:
            message = f"SKU {sku!r} is already on line {first_line[sku]}; one line per SKU."
            tally.refuse(RowError(line=line, sku=sku, param="sku", message=message))
            continue
        if sku is not None:
            first_line[sku] = line
        if isinstance(row, RowError):
            tally.refuse(row)
            continue
        checked = _checked(row, sku)
        if isinstance(checked, list):
            tally.refuse(*checked)
        else:
            accepted.append((line, checked))
    return accepted


def _raw_sku(data: dict[str, Any]) -> str | None:
    sku = data.get("sku")
    return sku if isinstance(sku, str) and sku else None


def _checked(row: RawRow, sku: str | None) -> ProductIn | list[RowError]:
    problems = []
    if sku is None:
        message = "Every imported row needs a SKU: imports create or update products by it."
        problems.append(RowError(line=row.line, sku=None, param="sku", message=message))
    try:
        product = ProductIn.model_validate(row.data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            param, message = _where(tuple(error["loc"]), error["msg"], row.is_csv)
            problems.append(RowError(line=row.line, sku=sku, param=param, message=message))
    return problems or product


def _where(loc: tuple[Any, ...], message: str, is_csv: bool) -> tuple[str | None, str]:
    """The param of a validation error: the field path, or for CSV the column, with the
    rest of the path (`item 3`) in the message."""
    if not is_csv:
        return ".".join(str(part) for part in loc) or None, message
    column: str | None
    if loc[:1] == ("translations",) and len(loc) >= 3:
        column, rest = f"{loc[2]}_{loc[1]}", loc[3:]
    else:
        column, rest = str(loc[0]) if loc else None, loc[1:]
    path = " ".join(f"item {p + 1}" if isinstance(p, int) else str(p) for p in rest)
    return column, f"{path}: {message}" if path else message


async def _own_brands_only(
    session: AsyncSession,
    workspace_id: str,
    accepted: list[tuple[int, ProductIn]],
    tally: _Tally,
) -> list[tuple[int, ProductIn]]:
    wanted = sorted({p.brand_id for _, p in accepted if p.brand_id is not None})
    owned: set[str] = set()
    for chunk in _chunks(wanted, CHUNK):
        query = select(Brand.id).where(Brand.workspace_id == workspace_id, Brand.id.in_(chunk))
        owned.update(await session.scalars(query))
    kept = []
    for line, product in accepted:
        if product.brand_id is not None and product.brand_id not in owned:
            message = f"No brand {product.brand_id!r} in this workspace."
            tally.refuse(RowError(line=line, sku=product.sku, param="brand_id", message=message))
        else:
            kept.append((line, product))
    return kept


_TABLE = Product.__table__
# Core statements with a list of parameters (executemany): one round trip per chunk, no ORM
# object per row. `revision + 1` is computed by the database, so a concurrent edit of the
# same product is counted too.
_UPDATE = (
    update(Product)
    .where(Product.id == bindparam("b_id"), Product.workspace_id == bindparam("b_workspace_id"))
    .values(
        name=bindparam("b_name"),
        brand_id=bindparam("b_brand_id"),
        facts_json=bindparam("b_facts_json", type_=_TABLE.c.facts_json.type),
        revision=Product.revision + 1,
        updated_at=bindparam("b_updated_at", type_=_TABLE.c.updated_at.type),
    )
)


async def _upsert(
    session: AsyncSession,
    workspace_id: str,
    chunk: Sequence[tuple[int, ProductIn]],
    tally: _Tally,
    *,
    dry_run: bool,
) -> None:
    skus = [product.sku for _, product in chunk]
    query = select(
        Product.id, Product.sku, Product.name, Product.brand_id, Product.facts_json
    ).where(Product.workspace_id == workspace_id)
    if session.get_bind().dialect.name == "postgresql":
        # Joined to a VALUES list, not `sku IN (...)`: just after a big import PostgreSQL's
        # statistics still call the table empty, and it then compared every row with each
        # of the 500 parameters in turn (10,000 unchanged rows took 4.5 s instead of 1).
        # SQLite has no VALUES with column names, and looks each SKU of an IN up by index.
        wanted = values(sql_column("sku", String), name="wanted").data([(sku,) for sku in skus])
        query = query.join(wanted, Product.sku == wanted.c.sku)
    else:
        query = query.where(Product.sku.in_(skus))
    existing = {row.sku: row for row in await session.execute(query)}
    now = utcnow()
    inserts, updates = [], []
    for _, product in chunk:
        columns = product_columns(product)
        old = existing.get(product.sku)
        if old is None:
            inserts.append(
                {
                    "id": new_id(),
                    "workspace_id": workspace_id,
                    "revision": 1,
                    "created_at": now,
                    "updated_at": now,
                    **columns,
                }
            )
        elif (old.name, old.brand_id, old.facts_json) == (
            columns["name"],
            columns["brand_id"],
            columns["facts_json"],
        ):
            tally.unchanged += 1
        else:
            updates.append(
                {
                    "b_id": old.id,
                    "b_workspace_id": workspace_id,
                    "b_name": columns["name"],
                    "b_brand_id": columns["brand_id"],
                    "b_facts_json": columns["facts_json"],
                    "b_updated_at": now,
                }
            )
    tally.created += len(inserts)
    tally.updated += len(updates)
    if dry_run:
        return
    # The connection, not the session: the ORM would refuse executemany of an UPDATE with
    # WHERE criteria, and needs none of its bookkeeping for rows it never loaded.
    connection = await session.connection()
    try:
        if inserts:
            await connection.execute(insert(Product), inserts)
        if updates:
            await connection.execute(_UPDATE, updates)
    except IntegrityError:
        # A concurrent import or edit took one of these SKUs (or deleted a brand) after they
        # were read; the request's transaction rolls back whole.
        raise Conflict(
            "Some of these products were changed at the same time; nothing was imported. "
            "Try again.",
            param="sku",
        ) from None


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- exporting ---------------------------------------------------------------------------


async def export_products(
    session: AsyncSession, workspace_id: str, fmt: Format
) -> AsyncIterator[str]:
    """The workspace's products (archived ones left out), oldest first, as text chunks of
    one page each: the same columns import reads, so export -> import changes nothing."""
    if fmt == "csv":
        # The BOM makes Excel read the file as UTF-8 (it guesses the ANSI code page without).
        yield "\ufeff" + csv_lines([list(CSV_COLUMNS)])
    after = ""
    while True:
        rows = list(
            await session.execute(
                select(Product.id, Product.sku, Product.name, Product.brand_id, Product.facts_json)
                .where(
                    Product.workspace_id == workspace_id,
                    Product.archived_at.is_(None),
                    Product.id > after,
                )
                .order_by(Product.id)
                .limit(CHUNK)
            )
        )
        if not rows:
            return
        products = [product_fields(r) for r in rows]
        if fmt == "csv":
            yield csv_lines([_csv_cells(p) for p in products])
        else:
            yield "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in products)
        after = rows[-1].id


def _csv_cells(product: dict[str, Any]) -> list[str]:
    translations = product.get("translations") or {}
    cells = {column: _cell(column, product.get(column)) for column in BASE_COLUMNS}
    for lang in LANGUAGES:
        text = translations.get(lang) or {}
        for field in TEXT_FIELDS:
            cells[f"{field}_{lang}"] = _cell(field, text.get(field))
    return [guard(cells[column]) for column in CSV_COLUMNS]


def _cell(column: str, value: Any) -> str:
    if value is None or value in ([], {}):
        return ""
    if column not in _CELL_PARSERS:
        return str(value)
    if column == "specs":
        text = " | ".join(f"{name}={spec}" for name, spec in value.items())
    elif column == "approved_claims":
        text = " | ".join(
            c["claim"] + (f" — {c['evidence']}" if c.get("evidence") else "") for c in value
        )
    else:
        text = " | ".join(value)
    # The plain syntax cannot say everything (an item holding " | ", a spec name starting
    # with "="); JSON can.
    try:
        if _CELL_PARSERS[column](text) == _normalised(column, value):
            return text
    except _CellError:
        pass
    return json.dumps(value, ensure_ascii=False)


def _normalised(column: str, value: Any) -> Any:
    # Claims are stored with "evidence": null; the plain syntax reads them without the key.
    if column == "approved_claims":
        return [{k: v for k, v in c.items() if v is not None} for c in value]
    return value
