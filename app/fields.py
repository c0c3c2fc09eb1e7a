"""Constrained field types shared by every request model."""

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    # NUL and other C0 controls break storage (PostgreSQL rejects NUL) and say nothing useful.
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


_Clean = AfterValidator(_no_control_chars)

Phrase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), _Clean
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _Clean
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), _Clean
]
Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")]
