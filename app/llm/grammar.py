"""GBNF grammars for constrained decoding: llama.cpp's format, which the embedded models and
llama.cpp's servers sample under."""

# What may stand in a one-line copy: no control characters (so no line break), none of the
# markup, list and quote marks small models wrap copy in; the first character a letter (no
# space, bullet, digit or "#1"). GBNF character classes count Unicode code points, as the checks do.
_LINE_FIRST = r"[A-Za-z\u00c0-\u024f\u4e00-\u9fff]"
_LINE_REST = r'[^\x00-\x1f<>\[\]{}*#"“”「」]'


def line_grammar(max_chars: int | None) -> str:
    """GBNF for one line of copy of at most `max_chars` characters."""
    rest = f"{{0,{max_chars - 1}}}" if max_chars else "*"
    return f"root ::= first rest{rest}\nfirst ::= {_LINE_FIRST}\nrest ::= {_LINE_REST}\n"
