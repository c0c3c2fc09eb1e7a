"""Wording that spam filters and readers take for spam, in marketing email (a soft check:
content is a minor factor beside the sender's reputation, and a word is no verdict).

The phrases are a short selection of the trigger phrases deliverability guides list (HubSpot's
list of spam trigger words, which it drew from SpamAssassin's body rules), chosen for
marketing email; the Chinese ones are the commonest of spam in Chinese inboxes. Shouting
(a subject in capitals, "!!!") is checked by shape, not by list.
"""

import re

from app.checks import CheckResult
from app.checks.text import contains_phrase

SPAM_PHRASES = {
    "en": (
        "100% free",
        "act now",
        "apply now",
        "buy now",
        "cash bonus",
        "click here",
        "double your",
        "earn money",
        "extra cash",
        "free gift",
        "free money",
        "get paid",
        "guaranteed",
        "limited time only",
        "lowest price",
        "no catch",
        "no cost",
        "no obligation",
        "once in a lifetime",
        "order now",
        "risk-free",
        "risk free",
        "this is not spam",
        "urgent",
        "winner",
        "you have been selected",
        "100% satisfied",
        "miracle",
        "weight loss",
        "cheap",
    ),
    "zh": (
        "免费领取",
        "点击领取",
        "中奖",
        "恭喜您获得",
        "发票",
        "代开",
        "赚钱",
        "日赚",
        "零风险",
        "稳赚",
        "立即汇款",
        "限时抢购",
        "最后一天",
        "不看后悔",
        "加微信",
    ),
}
_SHOUT = re.compile(r"[A-Z]{2,}(?:\s+[A-Z]{2,}){2,}|[!！]{2,}|[?？]{2,}")


def _says(text: str, phrase: str) -> bool:
    # Latin phrases as whole words ("cheap" is not in "cheaper"); Han ones anywhere.
    if phrase.isascii():
        whole = rf"(?<![\w-]){re.escape(phrase)}(?![\w-])"
        return re.search(whole, text, re.IGNORECASE) is not None
    return contains_phrase(text, phrase)


def spam_wording(text: str, language: str) -> CheckResult:
    """No trigger phrase and no shouting (three words in capitals, "!!")."""
    found = [p for p in SPAM_PHRASES.get(language, ()) if _says(text, p)]
    if shout := _SHOUT.search(text):
        found.append(shout.group(0))
    return CheckResult(
        "spam_wording",
        not found,
        hard=False,
        detail=f"reads as spam: {', '.join(repr(f) for f in found)}" if found else None,
        span=found[0] if found else None,
    )
