"""Redaction of personal data before a brief leaves for a model outside this machine."""

import re
from typing import Any

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Card-like: 13-19 digits, optionally grouped by spaces or dashes; confirmed by Luhn.
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# Phone-like: an optional +country code, then 7-15 digits with common separators.
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ()./-]{6,18}\d(?!\w)")


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[card number]" if _luhn(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[phone]" if 7 <= len(digits) <= 15 else match.group(0)


def redact_text(text: str) -> str:
    """The text with e-mail addresses, card numbers and phone numbers replaced."""
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def redact(value: Any) -> Any:
    """Redact every string inside a brief: strings, list items, dict keys and values."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, dict):
        redacted: dict[Any, Any] = {}
        for key, item in value.items():
            name = redact_text(key) if isinstance(key, str) else key
            # Two keys may redact alike ("a@x.cn" and "b@y.cn"): number them, keep both.
            unique, count = name, 1
            while unique in redacted:
                count += 1
                unique = f"{name} {count}"
            redacted[unique] = redact(item)
        return redacted
    return value
