"""Wording that demeans or excludes people by ethnicity, race, religion or gender, which
China's Advertising Law (art. 9(9): no content "containing discrimination by nationality,
race, religion or gender") and the UK Advertising Standards Authority's rule on harmful
gender stereotypes (CAP Code 4.9) forbid.

A starting list, reviewed by hand: exclusions ("whites only", "外地人免进"), stereotypes
regulators have acted on ("like a girl", "剩女", "女司机"), and common slurs. It is an
advisory check: whether a phrase demeans depends on its context, so a person decides.
"""

import re

EN_TERMS = (
    r"(?:whites?|blacks?|asians?|foreigners?|immigrants?|muslims?|jews?|christians?)[- ]only",
    r"no (?:blacks|whites|asians|foreigners|immigrants|muslims|jews|gays)",
    r"(?:men|males?|women|females?|ladies|girls|boys) only",
    r"like a girl",
    r"(?:real|manly) men",
    r"not for (?:girls|women|ladies)",
    r"man up",
    r"illegals",
    r"gypsies",
    r"oriental people",
)
ZH_TERMS = (
    "仅限男性",
    "只限男性",
    "只招男性",
    "男士优先",
    "仅限女性",
    "外地人免进",
    "外国人免进",
    "黑人免进",
    "女人就该",
    "男人才配",
    "剩女",
    "女司机",
    "娘炮",
    "黑鬼",
    "洋鬼子",
    "小日本",
    "阿三",
    "蛮夷",
)
_EN = re.compile(rf"(?<!\w)(?:{'|'.join(EN_TERMS)})(?!\w)", re.IGNORECASE)


def discriminatory_terms(text: str) -> list[str]:
    """The listed wording found in a text, in order of appearance."""
    found = [(m.start(), m.group(0)) for m in _EN.finditer(text)]
    found += [(text.find(term), term) for term in ZH_TERMS if term in text]
    return [term for _, term in sorted(found)]
