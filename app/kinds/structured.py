"""Copy with fields (a note's title, body and hashtags; an ad's headlines): the fields a kind
declares, the JSON schema providers constrain their output to, and the model's answer read
back into those fields.

The schema bounds each field in code points, the only length a grammar or a JSON schema can
bound; how the platform counts (X's weights, display width) is the checks' business, which
name the field and the limit it broke.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from json_repair import repair_json

from app.checks import CheckResult
from app.kinds.parsing import strip_quotes

B = TypeVar("B")
Values = dict[str, Any]


@dataclass(frozen=True)
class OutputField:
    """One field of structured copy: a text, or a list of texts (`items` set)."""

    name: str
    description: str
    # Code points: what a grammar can bound. None: bounded by the token budget only.
    max_chars: int | None = None
    min_chars: int = 1
    # (fewest, most) texts, for a list field.
    items: tuple[int, int] | None = None
    required: bool = True
    # A regular expression each text must match (a hashtag's letters): the grammar holds
    # the model to it.
    pattern: str | None = None


def json_schema(fields: list[OutputField]) -> dict[str, Any]:
    """The JSON schema of an answer with these fields, in this order."""
    properties: dict[str, Any] = {}
    for spec in fields:
        text: dict[str, Any] = {"type": "string", "minLength": spec.min_chars}
        if spec.max_chars is not None:
            text["maxLength"] = spec.max_chars
        if spec.pattern is not None:
            text["pattern"] = spec.pattern
        if spec.items is None:
            properties[spec.name] = {**text, "description": spec.description}
        else:
            fewest, most = spec.items
            properties[spec.name] = {
                "type": "array",
                "description": spec.description,
                "items": text,
                "minItems": fewest,
                "maxItems": most,
            }
    return {
        "type": "object",
        "properties": properties,
        "required": [spec.name for spec in fields if spec.required],
        "additionalProperties": False,
    }


_OBJECT = re.compile(r"\{.*\}|\{.*", re.DOTALL)


def _decode(raw: str) -> tuple[Any, bool]:
    """The JSON object in a model's answer (past any fence or preamble), and whether it had
    to be repaired (a missing brace or quote where the tokens ran out, a trailing comma)."""
    found = _OBJECT.search(raw)
    if found is None:
        return None, False
    candidate = found.group(0)
    try:
        # Not strict: small models write raw line breaks and tabs inside strings.
        return json.loads(candidate, strict=False), False
    except ValueError:
        return repair_json(candidate, return_objects=True), True


def _clean(value: Any) -> str | None:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    return strip_quotes(str(value)).strip()


def read_values(raw: str, fields: list[OutputField]) -> tuple[Values | None, list[CheckResult]]:
    """The declared fields of the answer (unknown keys dropped, texts stripped), and what
    reading it found: a repair (soft), a field missing or of the wrong shape (hard). None when
    the answer holds no JSON object at all: no variant, so another attempt is made."""
    decoded, repaired = _decode(raw)
    if not isinstance(decoded, dict):
        return None, []
    values: Values = {}
    problems: list[str] = []
    for spec in fields:
        value = decoded.get(spec.name)
        if spec.items is None:
            text = _clean(value)
            if text:
                values[spec.name] = text
            elif spec.required:
                problems.append(f"{spec.name}: missing or empty")
            continue
        items = value if isinstance(value, list) else [value] if value else []
        texts = [t for t in (_clean(item) for item in items) if t]
        values[spec.name] = texts
        if spec.required and not texts:
            problems.append(f"{spec.name}: missing or empty")
    if not any(values.values()):
        return None, []
    checks = [
        CheckResult(
            "fields",
            not problems,
            hard=True,
            detail="; ".join(problems) or f"{', '.join(values)} read",
        )
    ]
    if repaired:
        checks.append(
            CheckResult("fields_repaired", True, hard=False, detail="the JSON was repaired")
        )
    return values, checks


def content(values: Values) -> str:
    """Every text of structured copy, a line each: what the whole-text checks (language,
    loops, bans, claims) read, without the layout the pasted text adds."""
    lines: list[str] = []
    for value in values.values():
        lines.extend(value if isinstance(value, list) else [value])
    return "\n".join(line for line in lines if isinstance(line, str))


@dataclass(frozen=True)
class Structure(Generic[B]):
    """How a kind's copy is split into fields and put back together."""

    # The fields for a brief (a platform's fields, the number of headlines asked for).
    fields: Callable[[B], list[OutputField]]
    # The text as it is pasted (hashtags in the platform's form, the footer appended).
    render: Callable[[Values, B], str]
    # Per-field checks: each names its field and the limit it holds it to.
    check: Callable[[Values, B], list[CheckResult]]
    # The fields as stored: with those the service adds (an email's plain text, its link).
    finish: Callable[[Values, B], Values] = lambda values, brief: values
