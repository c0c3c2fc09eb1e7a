"""Checks run on every variant: each returns passed or the violation."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """One rule's verdict; a failed hard rule makes the variant unusable."""

    name: str
    passed: bool
    hard: bool
    detail: str | None = None
    # The offending text as written, when the rule found one (a banned word, a figure).
    span: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The form stored in variant.checks_json."""
        # Spelled out: dataclasses.asdict deep-copies every field, on every check of every
        # variant, for a dict of a few scalars. `span` only when there is one: most checks
        # have none, and rows stored before it existed read the same.
        row = {"name": self.name, "passed": self.passed, "hard": self.hard, "detail": self.detail}
        if self.span is not None:
            row["span"] = self.span
        return row


def score(results: list[CheckResult]) -> float | None:
    """Share of checks passed, 0..1 (None when nothing was checked)."""
    if not results:
        return None
    return round(sum(r.passed for r in results) / len(results), 4)
