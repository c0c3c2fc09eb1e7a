"""Constrained field types shared by every request model."""

import re
import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

# No C0 control characters but tab and newlines (NUL breaks PostgreSQL text, the rest say
# nothing), and at least one visible character. As a pattern, the OpenAPI schema shows it too.
_ALLOWED = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# Everything Python's str.strip() removes (\x85 and the Unicode spaces too) is not visible.
_VISIBLE = r"[^\s\x00-\x1f\x7f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
TEXT_PATTERN = rf"^{_ALLOWED}*{_VISIBLE}{_ALLOWED}*$"


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=max_length, pattern=TEXT_PATTERN)


# Lengths are checked as sent (as the schema says), then surrounding white space is dropped.
_Stripped = AfterValidator(str.strip)
Phrase = Annotated[str, _text(80), _Stripped]
ShortText = Annotated[str, _text(200), _Stripped]
LongText = Annotated[str, _text(2000), _Stripped]


_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def _worded(value: str) -> str:
    # Emoji or punctuation alone says nothing a writer can use; a word spelled in two of
    # the alphabets whose letters look alike ("Nіke" with a Cyrillic і) is a spoof or a
    # typing slip, which the brand's trademark checks would never match.
    if not any(c.isalnum() for c in value):
        raise ValueError("needs at least one letter or digit")
    for word in re.findall(r"\w+", value):
        scripts = {
            script
            for c in word
            if c.isalpha()
            for script in _LOOKALIKE_SCRIPTS
            if unicodedata.name(c, "").startswith(script)
        }
        if len(scripts) > 1:
            names = " and ".join(script.title() for script in sorted(scripts))
            raise ValueError(f"{word!r} mixes {names} letters")
    return value


# Text of a brief that must say something: at least one letter or digit, no word of mixed
# look-alike alphabets.
Wording = Annotated[str, _text(200), _Stripped, AfterValidator(_worded)]
LongWording = Annotated[str, _text(2000), _Stripped, AfterValidator(_worded)]
# A dict keyed by Phrase: pydantic states the key pattern as patternProperties, which leaves
# other keys open to a client reading the schema; propertyNames says what every key must be.
PHRASE_KEYS: dict[str, Any] = {
    "propertyNames": {"minLength": 1, "maxLength": 80, "pattern": TEXT_PATTERN}
}
# An http(s) link: a host of letters, digits, dots and hyphens (IDN hosts in punycode), a
# path of printable ASCII (percent-encode the rest): classes every regex engine reads alike,
# so the schema and the server agree ("\\S" differs: Python counts U+0085 as a space, JSON
# Schema not).
WebUrl = Annotated[
    str, Field(max_length=2000, pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$")
]
# The id of a brand, product or audience given in a body.
KnowledgeId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:/-]+$")]


def _integral(value: Any) -> Any:
    # JSON Schema counts 5.0 as an integer; strict validation would refuse it.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer from JSON: 5 or 5.0, never true/false or "5" (request models are strict).
AS_INTEGER = BeforeValidator(_integral)
WholeNumber = Annotated[int, AS_INTEGER]
# Bounds go before the validator, `Annotated[int, Field(ge=..), AS_INTEGER]`: after it (or on
# the Field of a `... | None`), the OpenAPI schema shows them as "ge"/"le", keywords JSON
# Schema does not know, and clients and fuzzers then take 0 or -1 for valid.
PositiveWholeNumber = Annotated[int, Field(ge=1), AS_INTEGER]
Seed = Annotated[int, Field(ge=0, le=2**31 - 1), AS_INTEGER]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

# How an imported or exported file is written.
FileFormat = Literal["csv", "jsonl"]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    # Pydantic would also take 1700000000 or "0.5" as Unix times; a time says what it means.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("use an ISO 8601 date-time, e.g. 2026-11-29T12:00:00Z")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]
