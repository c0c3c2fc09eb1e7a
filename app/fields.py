"""Constrained field types shared by every request model."""

from typing import Annotated

from pydantic import Field, StringConstraints

# No C0 control characters but tab and newlines (NUL breaks PostgreSQL text, the rest say
# nothing), and at least one visible character. As a pattern, the OpenAPI schema shows it too.
_ALLOWED = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_VISIBLE = r"[^\s\x00-\x1f\x7f]"
TEXT_PATTERN = rf"^{_ALLOWED}*{_VISIBLE}{_ALLOWED}*$"


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True, min_length=1, max_length=max_length, pattern=TEXT_PATTERN
    )


Phrase = Annotated[str, _text(80)]
ShortText = Annotated[str, _text(200)]
LongText = Annotated[str, _text(2000)]
Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")]
