"""Cells a spreadsheet would run as formulas, and the guard exports put in front of them;
the header row of an import, and the records after it.

A cell starting with = + - @ tab or CR is a formula to Excel and its kin (OWASP's CSV
injection advice): exports prefix one single quote, which spreadsheets read as "text", and
imports drop that one quote again, so export -> import changes nothing."""

import csv
import io
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from app.errors import ValidationFailed

# A cell a spreadsheet would run as a formula, after any quotes that already escape it.
FORMULA = re.compile(r"^'*[=+\-@\t\r]")


def guard(cell: str) -> str:
    """The cell as an export writes it: never a formula."""
    return "'" + cell if FORMULA.match(cell) else cell


def unguard(cell: str) -> str:
    """The cell as an import reads it: an export's guard removed."""
    return cell[1:] if cell.startswith("'") and FORMULA.match(cell) else cell


def csv_lines(records: list[list[str]]) -> str:
    """Records as CSV text (cells guarded by the caller)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(records)
    return buffer.getvalue()


def header_names(
    cells: list[str], columns: Collection[str], aliases: Mapping[str, str] | None = None
) -> list[str]:
    """An import's header row as column names (trimmed, lower case, aliases resolved), each
    one of `columns` and none twice; blank names stay blank, as the empty columns a
    spreadsheet adds at the right are ignored. Required columns are the caller's to check."""
    aliases = aliases or {}
    names = [aliases.get(name, name) for name in (c.strip().lower() for c in cells)]
    given = [name for name in names if name]
    unknown = sorted(set(given) - set(columns))
    if unknown:
        raise ValidationFailed(
            f"Unknown column(s) {', '.join(unknown)}; the columns are {', '.join(columns)}.",
            param="header",
        )
    doubled = sorted({name for name in given if given.count(name) > 1})
    if doubled:
        raise ValidationFailed(f"Column(s) {', '.join(doubled)} twice.", param="header")
    return names


@dataclass(frozen=True)
class CsvRecord:
    """One record of an import after its header: the line it starts on, its cells by column
    name (stripped; columns with a blank name left out), and why it cannot be read, if so."""

    line: int
    cells: dict[str, str]
    problem: str | None = None


def csv_records(text: IO[str], header: Callable[[list[str]], list[str]]) -> Iterator[CsvRecord]:
    """The records of a CSV import, read as a stream. `header` turns the first row into
    column names (and raises on a bad one); a blank or missing first row is an empty file.
    Blank records (spreadsheets leave them at the end) are skipped; a record the csv module
    cannot read, or with more cells than the header has columns, comes with its problem."""
    reader = csv.reader(text)
    try:
        first = next(reader, None)
    except csv.Error as exc:
        raise ValidationFailed(f"The header line is not CSV: {exc}.", param="header") from None
    if first is None or not any(cell.strip() for cell in first):
        raise ValidationFailed("The file is empty.", param="body")
    names = header(first)
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a cell over the csv module's 131,072 characters
            yield CsvRecord(line, {}, f"Unreadable CSV: {exc}.")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        record = {name: cell.strip() for name, cell in zip(names, cells, strict=False) if name}
        too_many = len(cells) > len(names)
        problem = (
            f"{len(cells)} cells, but the header has {len(names)} columns." if too_many else None
        )
        yield CsvRecord(line, record, problem)
