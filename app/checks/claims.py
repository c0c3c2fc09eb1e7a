"""Claims against facts: every figure in a variant must be backed by the product's facts.

A figure is a number with a unit ("48 小时", "210 g", "1.7 L"), a percentage, a multiple
("2x faster", "两倍", "twice as long", "half the weight"), a price ("$129", "899元"), a
ranking ("No. 3", "第一名", "top 3"), a rating ("4.8 stars") or a count of people or sales
("10,000 reviews", "10万用户"). Each is normalised (units within a dimension, Chinese and
English numerals) and is supported when a fact states the same value in the same unit.

What is not a claim, so that ordinary copy raises no false alarm:
- a number without a unit: "Aurora 3", "Bluetooth 5.3", "3 colours", "size 42";
- a number glued to letters (X200, IPX7, 5G, 420D, SKU-1234), years ("2026", "2025年"),
  dates, clock times and "24/7" / "7×24";
- a count of fewer than 10 ("2 people", "一次充电"): counts are claims only when they are
  the social proof that gets invented (reviews, users, units sold) and 10 or more;
- a comparative or ranking without a number ("faster than ever", "更轻");
- idioms that hold a numeral but state no figure ("一年四季", "一整天").
Qualifiers are not weighed: "up to 48 h" and "over 48 h" are both backed by "48 h".
A range ("6–8 h", "6到8小时") is backed by a fact with the range or with both ends.
"""

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.checks import CheckResult
from app.checks.numbers import (
    ALSO,
    ARABIC,
    ARABIC_BODY,
    CN,
    CN_BODY,
    EN,
    FOLDED,
    NUMBER,
    UNIT,
    WIDE,
    Figure,
    parse_number,
    unit_of,
)


@dataclass(frozen=True)
class Claim:
    """A figure in the copy, normalised to the canonical unit of its dimension."""

    text: str  # the span as written in the copy, e.g. "48 小时" or "2x faster"
    start: int
    end: int
    value: float  # the number in the canonical unit (a range's upper end)
    unit: str | None  # "g", "ml", "s", "%", "x", "mah", "cny", "rank", ...; None for a count
    kind: str  # "quantity" | "percent" | "multiple" | "price" | "ranking"
    low: float | None = None  # a range's lower end


@dataclass(frozen=True)
class _Reading:
    """A claim with how it was written: its figures (a range has two) and their scale."""

    claim: Claim
    figures: tuple[Figure, ...]
    scale: float
    also: tuple[str, float] | None = None  # a second reading of the unit ("oz" as fl oz)


# Spans that hold digits but no figure; blanked (same length) before anything is read.
_NOT_FIGURES = re.compile(
    r"(?<!\d)(?:\d{1,2}:\d{2}|\d{1,3} ?/ ?7(?!\d)|7 ?[x×*] ?24"
    r"|\d{4}[-/.]\d{1,2}(?:[-/.]\d{1,2})?|\d{4} ?年 ?\d{1,2} ?月(?: ?\d{1,2} ?[日号])?"
    r"|\d{1,2} ?月 ?\d{1,2} ?[日号]|(?:1[89]|2[01])\d{2} ?年代?)|[〇零一二三四五六七八九]{4}年"
    r"|一年四季|一年到头|一日三餐|一天到晚|十年如一日|三天两头|一整[天晚年]"
    # "always open", said like 24/7
    r"|(?i:7 days a week|24 hours a day|365 days a year)|7天24小时|365天"
)
# Every gap is bounded: two unbounded runs side by side ("[ ]*-?[ ]*") backtrack
# quadratically over a long run of spaces, and a figure sits next to its unit anyway.
_GAP = r"[ \t\u00a0\u202f]{0,3}"
_SP = "[ ]{0,3}"
_SP1 = "[ ]{1,3}"
# Not the em dash: "¥899 — 3x" is two figures, not a range.
_RANGE = rf"(?:{_GAP}(?:-|–|~|～|〜|至|到){_GAP}|{_SP1}to{_SP1})"
_COMPARATIVE = (
    rf"(?i:{_SP1}(?:more|less){_SP1}[a-z]+|{_SP1}(?:faster|lighter|longer|shorter|smaller|"
    "bigger|larger|quieter|louder|brighter|stronger|cheaper|thinner|slimmer|quicker|higher|"
    "lower|better|warmer|cooler|softer|tougher|sharper|deeper|wider|sweeter|cleaner|greater|"
    "off))(?![A-Za-z])"
)
_QUANTITY = re.compile(
    rf"(?P<a>{NUMBER})(?:{_RANGE}(?P<b>{NUMBER}))?(?:{_GAP}\+)?(?:{_GAP}[多余])?"
    rf"{_GAP}(?:-{_GAP})?个?(?P<h1>半)?(?P<unit>{UNIT})(?P<h2>半(?!价))?(?P<cmp>{_COMPARATIVE})?"
)
_CURRENCIES = {"US$": "usd", "$": "usd", "USD": "usd", "HK$": "hkd", "€": "eur", "EUR": "eur"}
_CURRENCIES |= {"£": "gbp", "GBP": "gbp", "¥": "cny", "￥": "cny", "RMB": "cny", "CNY": "cny"}
_CURRENCIES |= {"人民币": "cny"}
_PRICE = re.compile(
    rf"(?<![A-Za-z])(?P<cur>{'|'.join(re.escape(c) for c in _CURRENCIES)})"
    rf"{_GAP}(?P<a>{ARABIC_BODY})"
)
_PERCENT_ZH = re.compile(rf"百分之{_SP}(?P<n>{ARABIC_BODY}|{CN_BODY})")
_MULTIPLE_WORDS = re.compile(
    rf"(?<![A-Za-z])(?i:(?P<w>twice){_SP1}(?:as|the){_SP1}[a-z]+"
    rf"|(?P<w2>double|triple)[sd]?{_SP1}the{_SP1}[a-z]+|(?P<w3>doubles|doubled)"
    rf"|(?P<w4>half){_SP1}(?:the|its|their){_SP1}[a-z]+)(?![A-Za-z])"
    "|(?P<zh>翻倍|翻了?一番|减半)"
)
_WORD_MULTIPLES = {"twice": 2.0, "double": 2.0, "doubles": 2.0, "doubled": 2.0, "triple": 3.0}
_WORD_MULTIPLES |= {"half": 0.5, "翻倍": 2.0, "翻一番": 2.0, "翻了一番": 2.0, "减半": 0.5}
_HALF_TIME = re.compile(
    rf"(?<![A-Za-z])(?i:half{_SP1}an?{_SP1}(?P<en>hour|day|week|month|year))(?![A-Za-z])"
    r"|(?<![一两二三四五六七八九十\d])半个?(?P<zh>小时|钟头|天|年|月)"
)
_ZH_TIME = {"小时": "hour", "钟头": "hour", "天": "day", "年": "year", "月": "month"}
_ZH_NUMBER = rf"(?:{CN_BODY}|\d+)"
_RANKING = re.compile(
    rf"(?<![A-Za-z&])(?:No\.[ ]?|#[ ]?|(?i:number){_SP1})(?P<n>\d+|{EN})(?![\d.,])"
    rf"|(?<![A-Za-z])(?i:top)[ -]?(?P<n2>\d+|{EN})(?![\d.,])"
    rf"|(?<![A-Za-z0-9])(?P<n3>\d+)(?:st|nd|rd|th){_SP1}place"
    rf"|(?i:ranked){_SP1}(?:#|No\.[ ]?)?(?P<n4>\d+)(?:st|nd|rd|th)?(?![\d.,])"
    rf"|(?:排名|排行|位列|位居|荣登|销量|全网|全国|全球|行业|品类|同类|榜单?){_SP}第{_SP}"
    rf"(?P<n5>{_ZH_NUMBER})(?:{_SP}[名位])?"
    rf"|第{_SP}(?P<n6>{_ZH_NUMBER}){_SP}[名位]|前{_SP}(?P<n7>{_ZH_NUMBER}){_SP}[名强]"
)
_RATING = re.compile(
    rf"(?<![A-Za-z0-9.,])(?:(?P<n>\d(?:\.\d)?){_SP}-?{_SP}(?i:stars?)(?![A-Za-z])"
    rf"|(?P<n2>\d(?:\.\d)?){_SP}/{_SP}(?:5|10)(?![\d.])|(?P<n3>\d(?:\.\d)?){_SP}星(?!级)"
    rf"|(?P<n4>\d\.\d){_SP}分(?![钟之]))"
    rf"|(?:评分|得分){_SP}(?:高达|达)?{_SP}(?P<n5>\d+(?:\.\d+)?){_SP}分?"
)
_EN_PEOPLE = (
    "reviews|reviewers|ratings|customers|clients|users|buyers|owners|runners|riders|cyclists|"
    "listeners|fans|followers|families|households|homes|people|members|subscribers|downloads|"
    "installs|orders|shoppers|travellers|travelers|athletes|parents|sold|cycles"
)
_ZH_PEOPLE = "用户|顾客|客户|买家|消费者|跑者|骑友|车主|家庭|会员|粉丝|好评|评价|人次|人"
_COUNT = re.compile(
    # "50,000 happy runners", "10k+ reviews"
    rf"(?P<a>{ARABIC}(?:[ ]?(?i:k|million)(?![A-Za-z]))?)\+?{_SP1}(?:[A-Za-z-]{{1,20}}{_SP1})?"
    rf"(?i:{_EN_PEOPLE})(?![A-Za-z])"
    # "10万用户", "超过 3000 位车主", "500次充放电循环"
    rf"|(?P<b>{ARABIC}|{CN})(?:{_SP}\+)?{_SP}[多余]?{_SP}[位名个条户家]?{_SP}"
    rf"(?:{_ZH_PEOPLE}|次(?:充放电)?循环)"
    # "已售出 50 万只", "销量突破3千台"
    rf"|(?:售出?|卖出?|销量|销售)[了超过突破达]{{0,3}}{_SP}(?P<c>{ARABIC}|{CN}){_SP}[多余]?{_SP}"
    "[台件只支瓶份单双套个杯罐盒]"
)
# Counts below this are descriptions ("2 people", "一次充电"), not figures that get invented.
LEAST_COUNT = 10
# "时速25公里" is a speed of 25 km/h, not a distance.
_SPEED = re.compile(rf"时速(?:高达|可达|达)?{_SP}$")
# "提升一倍" is "doubled": one times more, not one times as much.
_INCREASE = re.compile(rf"(?:提升|提高|增加|增长|增强|延长|高出)了?{_SP}$")
# A claim and a fact in different units agree when the fact, said in the claim's unit and
# rounded as the claim is written, gives the claim's number ("7.4 oz" for 210 g, "0.35 kg"
# for 350 g) and the two differ by at most this share (so "2 days" is not backed by 36 h).
TOLERANCE = 0.05


def _reading(
    text: str, start: int, end: int, figures: tuple[Figure, ...], unit: str | None, kind: str,
    scale: float = 1.0, also: tuple[str, float] | None = None,
) -> _Reading:  # fmt: skip
    low = figures[0].value * scale if len(figures) > 1 else None
    claim = Claim(text[start:end], start, end, figures[-1].value * scale, unit, kind, low)
    return _Reading(claim, figures, scale, also)


def _quantities(text: str, work: str) -> list[_Reading]:
    found = []
    for m in _QUANTITY.finditer(work):
        unit = unit_of(m.group("unit"))
        if m.group("unit") == "度" and not m.group("a")[0].isdigit():
            continue  # "一度" is "once"; a temperature is written in digits
        figures = tuple(parse_number(m.group(g)) for g in ("a", "b") if m.group(g))
        if m.group("h1") or m.group("h2"):  # "一个半小时", "一天半"
            figures = tuple(Figure(f.value + 0.5, max(f.places, 1)) for f in figures)
        start, end = m.start(), m.end("cmp") if m.group("cmp") else m.end()
        if unit.kind not in ("percent", "multiple"):
            end = m.end("h2") if m.group("h2") else m.end("unit")
        if unit.canon == "x" and figures[-1].value == 1:
            if not (increase := _INCREASE.search(work, max(0, start - 4), start)):
                continue  # "1x" states nothing
            figures, start = (Figure(2.0, 0),), increase.start()
        canon, scale = unit.canon, unit.scale
        if canon == "mm" and _SPEED.search(work, max(0, start - 5), start):
            canon, scale = "kmh", scale / 1e6
        also = ALSO.get(m.group("unit").lower())
        found.append(_reading(text, start, end, figures, canon, unit.kind, scale, also))
    return found


def _number_group(m: re.Match[str]) -> str:
    return next(value for name, value in m.groupdict().items() if value and name[0] == "n")


def _others(text: str, work: str) -> list[_Reading]:
    found = []
    for m in _PRICE.finditer(work):
        figure = parse_number(m.group("a"))
        found.append(_reading(text, m.start(), m.end(), (figure,), _CURRENCIES[m["cur"]], "price"))
    for m in _PERCENT_ZH.finditer(work):
        figure = parse_number(m["n"])
        found.append(_reading(text, m.start(), m.end(), (figure,), "%", "percent"))
    for m in _MULTIPLE_WORDS.finditer(work):
        word = (m["w"] or m["w2"] or m["w3"] or m["w4"] or m["zh"]).lower()
        figure = Figure(_WORD_MULTIPLES[word], 1)
        found.append(_reading(text, m.start(), m.end(), (figure,), "x", "multiple"))
    for m in _HALF_TIME.finditer(work):
        unit = FOLDED[m["en"].lower() if m["en"] else _ZH_TIME[m["zh"]]]
        found.append(
            _reading(text, m.start(), m.end(), (Figure(0.5, 1),), "s", "quantity", unit.scale)
        )
    for m in _RANKING.finditer(work):
        figure = parse_number(_number_group(m))
        found.append(_reading(text, m.start(), m.end(), (figure,), "rank", "ranking"))
    for m in _RATING.finditer(work):
        figure = parse_number(_number_group(m))
        found.append(_reading(text, m.start(), m.end(), (figure,), "rating", "quantity"))
    for m in _COUNT.finditer(work):
        figure = parse_number(m["a"] or m["b"] or m["c"])
        if figure.value >= LEAST_COUNT:
            found.append(_reading(text, m.start(), m.end(), (figure,), None, "quantity"))
    return found


def _readings(text: str) -> list[_Reading]:
    """Every figure in the text, leftmost-longest where two readings overlap."""
    work = _NOT_FIGURES.sub(lambda m: "\0" * len(m.group(0)), text.translate(WIDE))
    found = sorted(
        _quantities(text, work) + _others(text, work),
        key=lambda r: (r.claim.start, -(r.claim.end - r.claim.start)),
    )
    kept: list[_Reading] = []
    for reading in found:
        if not kept or reading.claim.start >= kept[-1].claim.end:
            kept.append(reading)
    return kept


def find_claims(text: str) -> list[Claim]:
    """The figures in a text, English and Chinese alike, in order of appearance."""
    return [reading.claim for reading in _readings(text)]


_ANY_NUMBER = re.compile(f"{ARABIC}|{CN}|{EN}")


@dataclass(frozen=True)
class _Facts:
    values: dict[str, list[float]]  # unit -> every value the facts state in it (range ends too)
    numbers: list[float]  # every number in the facts, with a unit or without
    squashed: tuple[str, ...]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text.translate(WIDE)).casefold()


# Parsing the facts costs more than reading a variant, and every variant of a generation is
# held to the same facts: keep the last few products' readings.
@functools.lru_cache(maxsize=64)
def _index(facts: tuple[str, ...]) -> _Facts:
    values: dict[str, list[float]] = {}
    numbers: list[float] = []
    for fact in facts:
        for reading in _readings(fact):
            claim = reading.claim
            ends = [claim.value] if claim.low is None else [claim.low, claim.value]
            values.setdefault(claim.unit or "", []).extend(ends)
            numbers.extend(f.value for f in reading.figures)
        numbers.extend(parse_number(m.group(0)).value for m in _ANY_NUMBER.finditer(fact))
    return _Facts(values, numbers, tuple(_squash(fact) for fact in facts))


def _agrees(figure: Figure, scale: float, fact: float) -> bool:
    """The claim's written figure, in a unit of `scale`, states the fact's canonical value."""
    if fact == 0:
        return figure.value == 0
    step = 10.0**-figure.places
    rounded = math.floor(fact / scale / step + 0.5) * step
    close = abs(figure.value * scale - fact) <= TOLERANCE * abs(fact)
    return close and math.isclose(rounded, figure.value, rel_tol=1e-9, abs_tol=1e-9)


def _supported(reading: _Reading, facts: _Facts) -> bool:
    claim = reading.claim
    squashed = re.compile(rf"(?<![\d.,]){re.escape(_squash(claim.text))}(?!\d)")
    if any(squashed.search(fact) for fact in facts.squashed):
        return True  # written in the facts as in the copy
    if claim.unit is None:
        return any(_agrees(reading.figures[-1], 1, n) for n in facts.numbers)
    for unit, scale in [(claim.unit, reading.scale), *([reading.also] if reading.also else [])]:
        stated = facts.values.get(unit, [])
        if all(any(_agrees(f, scale, v) for v in stated) for f in reading.figures):
            return True
    # "half the weight" is "50% lighter"; "2x" is "100% more".
    other = {"x": "%", "%": "x"}.get(claim.unit)
    if other and claim.low is None:
        as_other = abs(claim.value - 1) * 100 if other == "%" else None
        for v in facts.values.get(other, []):
            if as_other is not None and math.isclose(as_other, v):
                return True
            if as_other is None and math.isclose(claim.value, abs(v - 1) * 100):
                return True
    return False


def unsupported_claims(text: str, facts: Sequence[str]) -> list[Claim]:
    """The figures in `text` that no fact backs."""
    index = _index(tuple(facts))
    return [r.claim for r in _readings(text) if not _supported(r, index)]


def check_claims(text: str, facts: Sequence[str]) -> CheckResult:
    """Every figure in the variant is backed by the product's facts."""
    missing = unsupported_claims(text, facts)
    detail = "not in the product facts: " + ", ".join(f'"{c.text}"' for c in missing)
    if not missing:
        return CheckResult("unsupported_claim", True, hard=True)
    return CheckResult("unsupported_claim", False, hard=True, detail=detail, span=missing[0].text)
