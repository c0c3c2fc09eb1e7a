"""Turn raw model output into clean copy: no numbering, quotes, labels or chatter."""

import re

from app.checks.text import word_count

# C0 and C1 control characters but tab and newline, DEL, and lone UTF-16 surrogates. Model
# output is untrusted: NUL cannot be stored in PostgreSQL text, a lone surrogate cannot be
# encoded as UTF-8 at all, ESC sequences drive terminals, and the rest are invisible.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def strip_controls(text: str) -> str:
    """Text without control characters (tab and newline are kept; CR LF becomes LF)."""
    return _CONTROL.sub("", text)


_FENCE = re.compile(r"^```[a-zA-Z]*\s*$")
_NUMBERING = re.compile(r"^\s*(?:\(?\d{1,2}[.)、:：]|[-*•·]|#{1,6}(?=\s))\s*")
_LABEL = re.compile(
    r"^\s*\**(?:slogan|tagline|headline|option|variation|version|广告语|标语|口号|文案)"
    r"\s*\d*\**\s*[:：]\s*\**",
    re.IGNORECASE,
)
# Openers of a preamble ("Sure! Here is a slogan:"), not of copy ("Sure footing on wet rock").
_PREAMBLE_EN = re.compile(
    r"^(?:sure|certainly|of course|absolutely|okay|ok|great|here(?:'s| is| are)|below is)\b",
    re.IGNORECASE,
)
_PREAMBLE_ZH = re.compile(r"^(?:好的|当然|以下是|下面是|这是)")
_SIGNOFF = re.compile(r"^(?:let me know|feel free|i hope|hope this|note:|希望|如需)", re.IGNORECASE)
_PLEASANTRY_MAX = 12
_QUOTE_PAIRS = (
    ('"', '"'),
    ("'", "'"),
    ("“", "”"),
    ("‘", "’"),
    ("「", "」"),
    ("『", "』"),
    ("《", "》"),
)


def strip_quotes(text: str) -> str:
    """Remove one or more layers of matching quotes around the whole text."""
    text = text.strip()
    changed = True
    while changed and len(text) >= 2:
        changed = False
        for left, right in _QUOTE_PAIRS:
            inner = text[len(left) : -len(right)]
            if text.startswith(left) and text.endswith(right) and left not in inner:
                text, changed = inner.strip(), True
    return text


_TAG_LINE = re.compile(r"^\s*</?[A-Za-z][\w -]{0,40}>\s*$")


def _is_chatter(line: str) -> bool:
    text = line.strip()
    # A bare tag echoes the prompt ("<product description>"); a sign-off is never copy.
    if _TAG_LINE.match(text) or _SIGNOFF.match(text):
        return True
    if not (_PREAMBLE_EN.match(text) or _PREAMBLE_ZH.match(text)):
        return False
    return text.endswith((":", "：")) or len(text) <= _PLEASANTRY_MAX


def _lines(text: str) -> list[str]:
    return [
        ln.rstrip() for ln in text.replace("\r\n", "\n").split("\n") if not _FENCE.match(ln.strip())
    ]


def parse_one_line(text: str) -> str:
    """The first line of real copy (for slogans): numbering, labels, bold and quotes removed."""
    for raw in _lines(text):
        line = _LABEL.sub("", _NUMBERING.sub("", raw)).strip().strip("*").strip()
        line = strip_quotes(line)
        if line and not _is_chatter(line):
            return line
    return ""


def parse_prose(text: str) -> str:
    """Paragraphs of copy with leading and trailing chatter and code fences removed."""
    lines = _lines(text)
    while lines and (not lines[0].strip() or _is_chatter(lines[0])):
        lines.pop(0)
    while lines and (not lines[-1].strip() or _is_chatter(lines[-1])):
        lines.pop()
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return strip_quotes(body)


_TITLE_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:title|标题)\s*[:：]\s*(.+?)(?:\*\*)?\s*$", re.IGNORECASE
)
_BOLD_LINE = re.compile(r"^\s*\*\*(.+?)\*\*\s*$")
_HEADING = re.compile(r"^\s*#{1,6}\s+(.+?)\s*#*\s*$")


def parse_markdown_article(text: str) -> str:
    """A Markdown article whose first line is a `# Title` (labels and bold titles normalised)."""
    body = parse_prose(text)
    if not body:
        return ""
    first, _, rest = body.partition("\n")
    for pattern in (_TITLE_LABEL, _BOLD_LINE, _HEADING):
        if match := pattern.match(first):
            title = strip_quotes(match.group(1).strip())
            return f"# {title}\n\n{rest.strip()}".strip()
    return body


# Between sentences (after a full stop followed by a space, or a Chinese full stop) or lines.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])(?=\s)|(?<=[。！？])|(?=\n)")
_ENDS_CLEANLY = re.compile(r"[.!?。！？\"”’)）]\s*$")


def trim_to_words(text: str, low: int, high: int) -> str:
    """The text cut after its last whole sentence within `high` words, if it runs over and
    what remains has at least `low` words and ends a sentence; else the text unchanged."""
    if word_count(text) <= high:
        return text
    kept = ""
    for piece in _SENTENCE_BREAK.split(text):
        if word_count(kept + piece) > high:
            break
        kept += piece
    kept = kept.rstrip()
    if word_count(kept) >= low and _ENDS_CLEANLY.search(kept):
        return kept
    return text


# After a clause: a comma, a full stop, a dash (the cut keeps what comes before it).
_CLAUSE_END = re.compile(r"[,;:.!?，；：。！？—–]")


def trim_to_chars(text: str, limit: int) -> str:
    """A line over `limit` characters cut after its last whole clause within the limit (the
    clause's comma or dash dropped), if one is there; else the line unchanged."""
    if len(text) <= limit:
        return text
    ends = [m.start() for m in _CLAUSE_END.finditer(text, 0, limit + 1)]
    for end in reversed(ends):
        kept = _through_clause(text, end)
        if len(kept) <= limit and word_count(kept) >= 2:
            return kept
    return text


def _through_clause(text: str, end: int) -> str:
    # The text up to the clause ending at `end`: a full stop stays, a comma or dash goes.
    return (text[: end + 1] if text[end] in ".!?。！？" else text[:end]).rstrip()


def end_at_boundary(line: str) -> str:
    """A line cut off mid-phrase ended at its last clause, else before its last partial word
    (Han text has no partial words: it stays)."""
    clauses = list(_CLAUSE_END.finditer(line))
    if clauses:
        kept = _through_clause(line, clauses[-1].start())
        if word_count(kept) >= 2:
            return kept
    head, space, _ = line.rpartition(" ")
    return head.rstrip() if space and word_count(head) >= 2 else line
