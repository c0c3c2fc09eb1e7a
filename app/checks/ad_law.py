"""Advertising-law lint: absolute claims that regulators (e.g. China's Advertising Law, art. 9)
and most ad codes forbid or require proof for. A variant holding one is not usable."""

import re

ZH_TERMS = (
    "最佳",
    "最好",
    "最强",
    "最高级",
    "最先进",
    "最低价",
    "第一品牌",
    "全网第一",
    "销量第一",
    "国家级",
    "世界级",
    "顶级",
    "极品",
    "独一无二",
    "史无前例",
    "万能",
    "100%",
    "百分百",
    "绝对",
    "永久",
    "无敌",
    "首选",
    "根治",
    "零风险",
    "唯一",
    # Firsts: a product may make them only when its approved claims carry the proof.
    "全球首款",
    "全国首款",
    "全球首发",
    "首款",
    "首创",
)
# Regular expressions, matched case-insensitively as whole terms.
EN_TERMS = (
    r"the best",
    r"best[- ]ever",
    r"world['’]?s (?:best|first|leading)",
    r"number one",
    r"no\. ?1",
    r"#1",
    r"guaranteed",
    r"100% (?:safe|effective|natural)",
    r"risk[- ]free",
    r"miracle",
    r"cures?",
    r"clinically proven",
    r"unbeatable",
    r"(?:the )?ultimate",
    r"unparalleled",
    r"lowest price",
    r"first[- ]ever",
    r"industry[- ]first",
    r"(?:the )?first of its kind",
)
# Lookarounds, not \b: a term may begin with "#", where \b would need a word character
# before it (so "\b#1" never matched " #1"); these only say no letter or digit touches it.
_EN_ABSOLUTES = re.compile(rf"(?<!\w)(?:{'|'.join(EN_TERMS)})(?!\w)", re.IGNORECASE)


def absolute_claims(text: str) -> list[str]:
    """The absolute or unprovable claims found in a text, in order of appearance."""
    found = [(m.start(), m.group(0)) for m in _EN_ABSOLUTES.finditer(text)]
    found += [(text.find(term), term) for term in ZH_TERMS if term in text]
    claims: list[str] = []
    reached = -1
    # Longest first at each position; a term inside one already found ("100%" inside
    # "100% natural") is the same claim.
    for start, term in sorted(found, key=lambda hit: (hit[0], -len(hit[1]))):
        if start >= reached:
            claims.append(term)
            reached = start + len(term)
    return claims


# Terms a model is kept from writing at all (the embedded models ban them while sampling).
# Chinese: every term the check refuses. English: the words that are absolute on their own;
# "best" stands for "the best", "best ever" and "world's best" (banning the other words of a
# phrase, "the" or "number", would ban ordinary English). The rest is left to the check.
BANNED = {
    "en": ("best", "guaranteed", "unbeatable", "ultimate", "unparalleled", "miracle", "cure"),
    "zh": ZH_TERMS,
}


def banned_terms(language: str) -> tuple[str, ...]:
    """The terms to ban while writing copy in a language."""
    return BANNED.get(language, ())
