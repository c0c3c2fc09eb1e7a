"""GBNF grammars for constrained decoding: llama.cpp's format, which the embedded models and
llama.cpp's servers sample under."""

from functools import cache

# What may stand in a one-line copy: no control characters (so no line break), none of the
# markup, list and quote marks small models wrap copy in; the first character a letter (no
# space, bullet, digit or "#1"). GBNF character classes count Unicode code points, as the checks do.
_LINE_FIRST = r"[A-Za-z\u00c0-\u024f\u4e00-\u9fff]"
_LINE_REST = r'[^\x00-\x1f<>\[\]{}*#"“”「」]'


def line_grammar(max_chars: int | None) -> str:
    """GBNF for one line of copy of at most `max_chars` characters."""
    rest = f"{{0,{max_chars - 1}}}" if max_chars else "*"
    return f"root ::= first rest{rest}\nfirst ::= {_LINE_FIRST}\nrest ::= {_LINE_REST}\n"


# A character inside a JSON string of copy: none of the brackets and marks small models fill
# copy with ("[Product Name]", "{date}", "<brief>", "#1"; hashtags are written without "#"),
# no raw control character, and of the escapes only a quote, a backslash and a line break
# ("\\u" would spell any of the rest).
_COPY_CHAR = r'char ::= [^"\\\x00-\x1f<>\[\]{}#] | "\\" (["\\nt])'


@cache
def json_grammar(schema: str) -> str:
    """GBNF for one JSON object of this (serialised) JSON schema, by llama.cpp's own
    converter (lengths and item counts included), its strings held to copy; built once per
    schema."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    rules = str(json_schema_to_gbnf(schema)).splitlines()
    return "\n".join(_COPY_CHAR if r.startswith("char ::=") else r for r in rules) + "\n"
