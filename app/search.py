"""What `q` searches in the history: the values of a brief and the copy, never field names.

A generation's search text is built once, when it is stored (variants never change), and
casefolded there and in the query alike, so matching is case-insensitive in every script.
On PostgreSQL a trigram GIN index (pg_trgm) serves the substring match; on SQLite it is a
scan of that one column.
"""

from collections.abc import Iterable
from typing import Any

# Briefs fields with filters of their own: "en" in every English brief is not a match.
_NOT_SEARCHED = frozenset({"language"})


def strings_in(value: Any) -> Iterable[str]:
    """Every string in a JSON value: list items, dict keys and values, nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, dict):
        # Inside a field, names are the user's words too (a spec called "capacity").
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)


def search_text(brief: dict[str, Any], texts: Iterable[str]) -> str:
    """The searchable text of a generation: its brief's values and its variants' texts."""
    values = (s for name, v in brief.items() if name not in _NOT_SEARCHED for s in strings_in(v))
    return "\n".join([*values, *texts]).casefold()


def like_pattern(q: str) -> str:
    """A LIKE pattern (escape character `\\`) matching `q` anywhere in a search text."""
    escaped = q.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
