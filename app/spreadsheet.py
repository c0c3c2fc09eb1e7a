"""Cells a spreadsheet would run as formulas, and the guard exports put in front of them;
the header row of an import.

A cell starting with = + - @ tab or CR is a formula to Excel and its kin (OWASP's CSV
injection advice): exports prefix one single quote, which spreadsheets read as "text", and
imports drop that one quote again, so export -> import changes nothing."""

import csv
import io
import re
from collections.abc import Collection, Mapping

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
