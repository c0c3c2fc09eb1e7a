"""Review files read as a stream: CSV or JSON Lines, UTF-8 (BOM or not) or GB18030/GBK.

The body is spooled to a temporary file as it arrives (memory holds at most SPOOL_BYTES of
it) while an incremental UTF-8 decoder checks it; bytes that are not UTF-8 make it GB18030,
the superset of GBK that Chinese Excel and shop back-ends save. Rows are then read from the
file one at a time, never the whole text at once.

CSV columns, in any order (`text` required, and `sku` or `product_id`): product_id, sku,
source, external_id, stars, title, text, language, reviewed_at, author. Common other names
are read too (`content`/`review`/`评论`/`内容` for text, `rating`/`评分` for stars, ...).
"""

import codecs
import io
import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO, Any

from app.errors import ValidationFailed
from app.fields import FileFormat
from app.insight.schemas import RowError
from app.spreadsheet import csv_records, header_names, unguard

SPOOL_BYTES = 4 * 1024 * 1024
# The csv module refuses a cell over 131,072 characters (its process-wide default, left
# alone): such a row is refused as unreadable, as it would be for its length anyway.

COLUMNS = (
    *("product_id", "sku", "source", "external_id", "stars", "title", "text", "language"),
    *("reviewed_at", "author"),
)
# What exports of shops and review tools call the same columns.
ALIASES = {
    "content": "text",
    "review": "text",
    "body": "text",
    "comment": "text",
    "评论": "text",
    "内容": "text",
    "评价": "text",
    "rating": "stars",
    "score": "stars",
    "评分": "stars",
    "星级": "stars",
    "date": "reviewed_at",
    "time": "reviewed_at",
    "日期": "reviewed_at",
    "时间": "reviewed_at",
    "id": "external_id",
    "review_id": "external_id",
    "标题": "title",
    "user": "author",
    "nickname": "author",
    "用户": "author",
    "昵称": "author",
}


@dataclass(frozen=True)
class RawRow:
    """One review as read from the file, before validation."""

    line: int
    data: dict[str, Any]


async def spool(chunks: AsyncIterator[bytes]) -> tuple[IO[bytes], str]:
    """The body in a temporary file, and its encoding; refuses empty and undecodable files."""
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, size = True, 0
    async for chunk in chunks:
        file.write(chunk)
        size += len(chunk)
        if is_utf8:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                is_utf8 = False
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    file.seek(0)
    if size == 0:
        raise ValidationFailed("The file is empty.", param="body")
    if not is_utf8 and not _is_gb18030(file):
        raise ValidationFailed(
            "The file is neither UTF-8 nor GB18030/GBK text; save it as 'CSV UTF-8'.",
            param="body",
        )
    file.seek(0)
    return file, "utf-8-sig" if is_utf8 else "gb18030"


def _is_gb18030(file: IO[bytes]) -> bool:
    decoder = codecs.getincrementaldecoder("gb18030")()
    try:
        while chunk := file.read(1024 * 1024):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _text(file: IO[bytes], encoding: str) -> IO[str]:
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    if text.read(1) not in ("\ufeff", ""):  # GB18030 has a BOM of its own
        text.seek(0)
    return text


def read_rows(file: IO[bytes], encoding: str, fmt: FileFormat) -> Iterator[RawRow | RowError]:
    """The file's reviews one by one, or why a line could not be read."""
    text = _text(file, encoding)
    return _csv_rows(text) if fmt == "csv" else _jsonl_rows(text)


def _jsonl_rows(text: IO[str]) -> Iterator[RawRow | RowError]:
    # Lines end at \n only: JSON strings may hold U+2028 and others str.splitlines() splits at.
    any_line = False
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        any_line = True
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield _error(number, None, f"Not JSON: {exc.msg}.")
            continue
        except RecursionError:
            yield _error(number, None, "JSON nested too deep.")
            continue
        if not isinstance(value, dict):
            yield _error(number, None, "Each line must be a JSON object: one review.")
            continue
        yield RawRow(number, value)
    if not any_line:
        raise ValidationFailed("The file is empty.", param="body")


def _lines(text: IO[str]) -> Iterator[str]:
    pending = ""
    while chunk := text.read(1024 * 1024):
        *complete, pending = (pending + chunk).split("\n")
        yield from complete
    yield pending


def _csv_rows(text: IO[str]) -> Iterator[RawRow | RowError]:
    for row in csv_records(text, _header):
        record = {name: unguard(cell) for name, cell in row.cells.items() if cell}
        if row.problem is not None:
            yield _error(row.line, record.get("external_id"), row.problem)
            continue
        if "stars" in record:
            record["stars"] = _number(record["stars"])
        yield RawRow(row.line, record)


def _header(cells: list[str]) -> list[str]:
    names = header_names(cells, COLUMNS, ALIASES)
    given = set(names)
    if "text" not in given:
        raise ValidationFailed("The header needs a `text` column.", param="header")
    if "sku" not in given and "product_id" not in given:
        raise ValidationFailed("The header needs a `sku` or `product_id` column.", param="header")
    return names


def _number(cell: str) -> Any:
    # Stars as a spreadsheet writes them: "5", "5.0", "4星".
    digits = cell.removesuffix("星").strip()
    try:
        value = float(digits)
    except ValueError:
        return cell  # validation says what is wrong with it
    return int(value) if value.is_integer() else value


def _error(line: int, external_id: str | None, message: str) -> RowError:
    return RowError(line=line, external_id=external_id, param=None, message=message)
