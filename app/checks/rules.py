"""The checks each kind of copy runs, built from small rules."""

from collections.abc import Sequence

from app.checks import CheckResult
from app.checks.ad_law import absolute_claims
from app.checks.text import PLACEHOLDER, contains_phrase, han_share, word_count


def not_empty(text: str) -> CheckResult:
    """There is text at all."""
    return CheckResult("not_empty", bool(text.strip()), hard=True, detail=None if text else "empty")


def no_placeholders(text: str) -> CheckResult:
    """No unfilled slots like [Brand Name] or {product}."""
    hit = PLACEHOLDER.search(text)
    return CheckResult(
        "no_placeholders", hit is None, hard=True, detail=f"found {hit.group(0)!r}" if hit else None
    )


def language(text: str, lang: str) -> CheckResult:
    """Written in the requested language (judged by script)."""
    share = han_share(text)
    passed = share >= 0.5 if lang == "zh" else share <= 0.1
    return CheckResult(
        "language", passed, hard=True, detail=None if passed else f"Han share {share:.0%}"
    )


def substance(text: str, lang: str) -> CheckResult:
    """Enough words to say something ("#1" or "Go" is not a slogan)."""
    words = word_count(text)
    least = 4 if lang == "zh" else 2
    return CheckResult(
        "substance", words >= least, hard=True, detail=f"{words} words (at least {least})"
    )


def max_chars(text: str, limit: int) -> CheckResult:
    """At most `limit` characters."""
    size = len(text)
    return CheckResult(
        "max_chars", size <= limit, hard=True, detail=f"{size} characters (limit {limit})"
    )


def single_line(text: str) -> CheckResult:
    """One line only."""
    return CheckResult("single_line", "\n" not in text, hard=True)


def word_range(text: str, low: int, high: int) -> CheckResult:
    """Between `low` and `high` words (Han characters count one each)."""
    words = word_count(text)
    return CheckResult(
        "word_range", low <= words <= high, hard=True, detail=f"{words} words ({low}-{high})"
    )


def markdown_title(text: str) -> CheckResult:
    """Starts with a Markdown level-1 heading."""
    first = text.lstrip().split("\n", 1)[0]
    passed = first.startswith("# ") and len(first) > 2
    return CheckResult("markdown_title", passed, hard=True, detail=None if passed else "no # title")


def keywords(text: str, wanted: Sequence[str]) -> CheckResult:
    """Every requested keyword appears (advisory)."""
    missing = [k for k in wanted if not contains_phrase(text, k)]
    return CheckResult(
        "keywords",
        not missing,
        hard=False,
        detail=f"missing: {', '.join(missing)}" if missing else None,
    )


def ad_law(text: str) -> CheckResult:
    """No absolute claims that advertising law forbids (advisory)."""
    claims = absolute_claims(text)
    return CheckResult(
        "ad_law",
        not claims,
        hard=False,
        detail=f"absolute claims: {', '.join(claims)}" if claims else None,
    )


def common(text: str, lang: str, wanted_keywords: Sequence[str]) -> list[CheckResult]:
    """The rules every kind runs."""
    return [
        not_empty(text),
        language(text, lang),
        no_placeholders(text),
        keywords(text, wanted_keywords),
        ad_law(text),
    ]
