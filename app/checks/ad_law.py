"""Advertising-law lint: absolute claims that regulators (e.g. China's Advertising Law, art. 9)
and most ad codes forbid or require proof for. Advisory: it flags, people decide."""

import re

_ZH_ABSOLUTES = (
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
)
_EN_ABSOLUTES = re.compile(
    r"\b(the best|best[- ]ever|world'?s (?:best|first|leading)|number one|no\. ?1|#1|"
    r"guaranteed|100% (?:safe|effective|natural)|risk[- ]free|miracle|cures?|"
    r"clinically proven|unbeatable|lowest price)\b",
    re.IGNORECASE,
)


def absolute_claims(text: str) -> list[str]:
    """The absolute or unprovable claims found in a text, in order of appearance."""
    found = [(m.start(), m.group(0)) for m in _EN_ABSOLUTES.finditer(text)]
    found += [(text.find(term), term) for term in _ZH_ABSOLUTES if term in text]
    return [term for _, term in sorted(found)]
