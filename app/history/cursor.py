"""Opaque keyset cursors: the sort they belong to and the last row's sort key."""

import base64
import binascii
import json
from datetime import datetime

from app.errors import InvalidRequest


def encode(sort: str, at: datetime, row_id: str) -> str:
    """A cursor pointing just past the row with this sort key."""
    raw = json.dumps({"s": sort, "t": at.isoformat(), "i": row_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, sort: str) -> tuple[datetime, str]:
    """The sort key a cursor points past; InvalidRequest when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        at = datetime.fromisoformat(data["t"])
        row_id = data["i"]
        cursor_sort = data["s"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidRequest(
            "The cursor is malformed; use next_cursor as given.", param="cursor"
        ) from None
    if not isinstance(row_id, str) or at.tzinfo is None:
        raise InvalidRequest("The cursor is malformed; use next_cursor as given.", param="cursor")
    if cursor_sort != sort:
        raise InvalidRequest(
            f"This cursor belongs to sort={cursor_sort}, not sort={sort}.", param="cursor"
        )
    return at, row_id
