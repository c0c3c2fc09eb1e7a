"""What every offline sentiment analyser answers, whatever the language."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

SentimentLabel = Literal["positive", "negative", "neutral"]


@dataclass(frozen=True)
class Sentiment:
    """One text's sentiment: a label and a score from -1 (negative) to 1 (positive)."""

    label: SentimentLabel
    score: float


class SentimentModel(Protocol):
    """A sentiment analyser for one language, named and versioned for provenance."""

    name: str
    version: str

    def predict(self, texts: Sequence[str]) -> list[Sentiment]:
        """The sentiment of each text, in order."""
        ...
