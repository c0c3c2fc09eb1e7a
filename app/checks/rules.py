"""The checks each kind of copy runs, built from small rules."""

import difflib
from collections.abc import Sequence

from app.checks import CheckResult
from app.checks.text import (
    LABEL_LINE,
    MARKUP,
    PLACEHOLDER,
    contains_phrase,
    han_share,
    repeated_phrase,
    tokens,
    word_count,
)

# A title whose words are this alike to the topic's (difflib's ratio) only restates it.
TITLE_RESTATES = 0.9


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


def no_markup(text: str) -> CheckResult:
    """No prompt markup or labels left in the copy (`<text>`, "Slogan: #1:", "产品名称：")."""
    hit = MARKUP.search(text)
    return CheckResult(
        "no_markup", hit is None, hard=True, detail=f"found {hit.group(0)!r}" if hit else None
    )


def not_an_echo(text: str) -> CheckResult:
    """Copy, not the brief's labelled fields written back ("Product name: ...")."""
    lines = [line for line in text.splitlines() if line.strip()]
    labelled = sum(bool(LABEL_LINE.match(line)) for line in lines)
    passed = not lines or labelled * 2 < len(lines)
    detail = None if passed else f"{labelled} of {len(lines)} lines are labelled fields"
    return CheckResult("not_an_echo", passed, hard=True, detail=detail)


def no_loop(text: str, phrase_size: int) -> CheckResult:
    """No phrase of `phrase_size` words (Han characters) written three times or more."""
    phrase = repeated_phrase(text, phrase_size, times=3)
    return CheckResult(
        "no_loop",
        phrase is None,
        hard=True,
        detail=f"repeats {phrase!r}" if phrase else None,
    )


def names(text: str, *names: str | None) -> CheckResult:
    """The copy names the product (or the brand): a reader knows what it sells (advisory)."""
    given = [name for name in names if name]
    passed = any(contains_phrase(text, name) for name in given)
    detail = None if passed else f"does not name {' or '.join(repr(n) for n in given)}"
    return CheckResult("names_product", passed, hard=False, detail=detail)


def fresh_title(text: str, topic: str) -> CheckResult:
    """The `# Title` says more than the topic it was given (advisory)."""
    title = text.lstrip().split("\n", 1)[0].removeprefix("# ")
    ratio = difflib.SequenceMatcher(None, tokens(title), tokens(topic)).ratio()
    passed = ratio < TITLE_RESTATES
    detail = None if passed else "the title only restates the topic"
    return CheckResult("fresh_title", passed, hard=False, detail=detail)


def common(
    text: str, lang: str, wanted_keywords: Sequence[str], *, loop_phrase: int
) -> list[CheckResult]:
    """The rules every kind runs; `loop_phrase` is the phrase size that counts as a loop."""
    return [
        not_empty(text),
        language(text, lang),
        no_placeholders(text),
        no_markup(text),
        no_loop(text, loop_phrase),
        keywords(text, wanted_keywords),
    ]
