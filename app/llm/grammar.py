"""GBNF grammars for constrained decoding: llama.cpp's format, which the embedded models and
llama.cpp's servers sample under."""

import json
from functools import cache
from typing import Any

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


# The longest string bound a grammar states. The converter writes a bound of n as n nested
# optional groups, and llama.cpp's sampler recurses through them: past about 1,000 it runs
# out of stack and the process dies (a segfault, measured with SmolLM2 at 1,500). A longer
# field (a LinkedIn post, an email body) is left unbounded in the grammar; the token budget
# ends it and the checks hold it to its limit.
GRAMMAR_MAX_LENGTH = 400


def sampling_schema(schema: str) -> dict[str, Any]:
    """The (serialised) JSON schema as a sampler is given it: string bounds past
    `GRAMMAR_MAX_LENGTH` dropped. Servers built on llama.cpp convert a `response_format`
    schema the same way, so they are sent this one too."""
    bounded = _within_grammar_bounds(json.loads(schema))
    assert isinstance(bounded, dict)
    return bounded


def _within_grammar_bounds(node: Any) -> Any:
    if isinstance(node, list):
        return [_within_grammar_bounds(item) for item in node]
    if not isinstance(node, dict):
        return node
    bounded = {key: _within_grammar_bounds(value) for key, value in node.items()}
    if bounded.get("maxLength", 0) > GRAMMAR_MAX_LENGTH:
        del bounded["maxLength"]
    if bounded.get("minLength", 0) > GRAMMAR_MAX_LENGTH:
        bounded["minLength"] = GRAMMAR_MAX_LENGTH
    return bounded


@cache
def json_grammar(schema: str) -> str:
    """GBNF for one JSON object of this (serialised) JSON schema, by llama.cpp's own
    converter (lengths and item counts included, up to `GRAMMAR_MAX_LENGTH`), its strings
    held to copy; built once per schema."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    rules = str(json_schema_to_gbnf(json.dumps(sampling_schema(schema)))).splitlines()
    return "\n".join(_COPY_CHAR if r.startswith("char ::=") else r for r in rules) + "\n"
