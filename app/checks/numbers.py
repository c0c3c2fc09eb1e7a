"""Numbers as copy writes them, in English and Chinese: numerals and the units after them.

A number is read as a `Figure`: its value and how precisely it was written, so that a claim
of "0.35 kg" can be held against a fact of "350 g", and "7.4 oz" against "210 g". Units are
grouped by dimension and converted to one canonical unit per dimension (grams, millilitres,
seconds, ...); prices keep their currency, since exchange rates move.
"""

import math
import re
from dataclasses import dataclass

# Full-width digits and signs, one character each, so offsets stay those of the copy.
WIDE = str.maketrans("０１２３４５６７８９．％＄", "0123456789.%$")

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
CN_DIGITS |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_SMALL = {"十": 10, "百": 100, "千": 1000}
CN_BIG = {"万": 10_000, "亿": 100_000_000}
EN_WORDS = {
    word: n
    for n, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
EN_TENS = {
    w: 10 * n
    for n, w in enumerate(
        ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], 2
    )
}
# A multiplier written after digits: "1.5万", "3千", "10k", "2 million".
MULTIPLIERS = {"万": 10_000, "千": 1000, "亿": 100_000_000, "k": 1000, "million": 1_000_000}
_MULTIPLIED = re.compile(r"(\d.*?)\s?(万|千|亿|k|million)", re.IGNORECASE)

# Thousands grouped by commas ("1,299") or single spaces ("1 299"); a comma before one or two
# digits is a decimal comma ("1,5 L"), as European copy writes it.
ARABIC_BODY = (
    r"(?:\d{1,3}(?:,\d{3}){1,4}(?!\d)(?:\.\d{1,9})?"
    r"|\d{1,3}(?:[ \u00a0\u202f]\d{3}){1,4}(?![\d.,])"
    r"|\d{1,15}(?:\.\d{1,9}|,\d{1,2}(?!\d))?)"
    r"(?:[ ]?[万千亿])?"
)
# Not inside a code or a longer number: X200, SKU-1234 and 3.5 give no "200", "1234" or "5".
ARABIC = rf"(?<![A-Za-z0-9.,]){ARABIC_BODY}"
# A Chinese numeral starts with a digit or 十 ("十二", "两万", "一百二十"); the characters
# before it are those that make 一 part of a word ("统一", "唯一", "每一天", "第一").
CN_BODY = r"[零〇一二两三四五六七八九十][零〇一二两三四五六七八九十百千万亿]{0,12}"
CN = rf"(?<![第每统唯同之某任逐单专均零〇一二两三四五六七八九十百千万亿]){CN_BODY}"
_EN_ONES = "|".join(sorted(EN_WORDS, key=len, reverse=True))
_EN_TENS = "|".join(EN_TENS)
EN = rf"(?<![A-Za-z-])(?i:(?:{_EN_TENS})(?:-(?:{_EN_ONES}))?|{_EN_ONES})(?![A-Za-z])"
NUMBER = rf"(?:{ARABIC}|{CN}|{EN})(?: and a half)?"


@dataclass(frozen=True)
class Figure:
    """A number as written: its value, and the decimal places it was written to (negative for
    "1.5万": thousands)."""

    value: float
    places: int


def parse_number(written: str) -> Figure:
    """The value of a numeral matched by NUMBER."""
    text = written.strip()
    half = re.search(r" and a half$", text)
    if half:
        whole = parse_number(text[: half.start()])
        return Figure(whole.value + 0.5, max(whole.places, 1))
    if text.lower() in EN_WORDS:
        return Figure(EN_WORDS[text.lower()], 0)
    if text.lower().split("-")[0] in EN_TENS:
        tens, _, ones = text.lower().partition("-")
        return Figure(EN_TENS[tens] + EN_WORDS.get(ones, 0), 0)
    scale = 1.0
    if multiplied := _MULTIPLIED.fullmatch(text):
        text, scale = multiplied.group(1), MULTIPLIERS[multiplied.group(2).lower()]
    if text[0].isdigit():
        digits = re.sub(r"[ \u00a0\u202f]|,(?=\d{3})", "", text).replace(",", ".")
        places = len(digits.partition(".")[2]) - round(math.log10(scale))
        return Figure(float(digits) * scale, places)
    return chinese_numeral(text)


def chinese_numeral(text: str) -> Figure:
    """A Chinese numeral's value: "一百二十" = 120, "两万" = 20000; "二〇二五" digit by digit."""
    if len(text) > 1 and all(ch in CN_DIGITS for ch in text):
        return Figure(float("".join(str(CN_DIGITS[ch]) for ch in text)), 0)
    total = section = digit = 0
    for ch in text:
        if ch in CN_DIGITS:
            digit = CN_DIGITS[ch]
        elif ch in CN_SMALL:
            section += (digit or 1) * CN_SMALL[ch]
            digit = 0
        else:
            total += (section + digit) * CN_BIG[ch]
            section = digit = 0
    last = text[-1]
    places = -round(math.log10(CN_BIG.get(last, CN_SMALL.get(last, 1)))) if last in "千万亿" else 0
    return Figure(float(total + section + digit), places)


@dataclass(frozen=True)
class Unit:
    """A unit as written, its canonical unit, how many canonical units it is, and the claim kind."""

    canon: str
    scale: float
    kind: str = "quantity"


def _units(canon: str, scale: float, written: str, kind: str = "quantity") -> dict[str, Unit]:
    return dict.fromkeys(written.split("|"), Unit(canon, scale, kind))


MINUTE, HOUR, DAY = 60.0, 3600.0, 86_400.0
# Matched as written (case matters: "g" is grams, "G" is 5G; "m" metres, "M" millions).
EXACT: dict[str, Unit] = {
    **_units("g", 1, "g|克"),
    **_units("g", 0.001, "mg|毫克"),
    **_units("g", 1000, "kg|千克|公斤"),
    **_units("g", 500, "斤"),
    **_units("ml", 1, "ml|mL|毫升"),
    **_units("ml", 10, "cl"),
    **_units("ml", 1000, "L|升|公升"),
    **_units("mm", 1, "mm|毫米"),
    **_units("mm", 10, "cm|厘米|公分"),
    **_units("mm", 1000, "m|米"),
    **_units("mm", 1e6, "km|公里|千米"),
    **_units("mm", 25.4, "英寸|寸"),
    **_units("m2", 1, "m²|㎡|平方米|平米"),
    **_units("s", 1, "秒"),
    **_units("s", MINUTE, "min|分钟"),
    **_units("s", HOUR, "h|hr|hrs|小时|个小时|钟头|个钟头"),
    **_units("s", DAY, "天|日"),
    **_units("s", 7 * DAY, "周|个星期|星期|个礼拜"),
    **_units("s", 365 / 12 * DAY, "个月"),
    **_units("s", 365 * DAY, "年|周年"),
    **_units("mah", 1, "mAh|毫安|毫安时"),
    **_units("mah", 1000, "Ah"),
    **_units("wh", 1, "Wh|瓦时"),
    **_units("wh", 1000, "kWh"),
    **_units("w", 1, "W|瓦|瓦特"),
    **_units("w", 1000, "kW|千瓦"),
    **_units("v", 1, "V|伏"),
    **_units("kmh", 1, "km/h|公里/小时|公里每小时|千米/小时"),
    **_units("pa", 1, "Pa|帕"),
    **_units("pa", 1000, "kPa"),
    **_units("pa", 100_000, "bar"),
    **_units("db", 1, "dB|分贝"),
    **_units("hz", 1, "Hz|赫兹"),
    **_units("hz", 1000, "kHz"),
    **_units("gb", 1, "GB"),
    **_units("gb", 1000, "TB"),
    **_units("deg", 1, "°C|℃|ºC|°|摄氏度|度"),
    **_units("nit", 1, "nits|尼特"),
    **_units("lm", 1, "lm|流明"),
    **_units("%", 1, "%", "percent"),
    **_units("x", 1, "x|X|×|倍", "multiple"),
    **_units("cny", 1, "元|块钱|块", "price"),
}
# Matched in any case ("Hours", "ML", "Percent").
FOLDED: dict[str, Unit] = {
    **_units("g", 1, "gram|grams|gramme|grammes"),
    **_units("g", 1000, "kilo|kilos|kilogram|kilograms"),
    **_units("g", 453.59237, "lb|lbs|pound|pounds"),
    **_units("g", 28.349523, "oz|ounce|ounces"),
    **_units("ml", 1, "millilitre|millilitres|milliliter|milliliters"),
    **_units("ml", 1000, "litre|litres|liter|liters|ltr"),
    **_units("ml", 29.5735, "fl oz|fl. oz|fluid ounce|fluid ounces"),
    **_units("mm", 1, "millimetre|millimetres|millimeter|millimeters"),
    **_units("mm", 10, "centimetre|centimetres|centimeter|centimeters"),
    **_units("mm", 1000, "metre|metres|meter|meters"),
    **_units("mm", 1e6, "kilometre|kilometres|kilometer|kilometers"),
    **_units("mm", 25.4, "inch|inches"),
    **_units("mm", 304.8, "ft|foot|feet"),
    **_units("mm", 1_609_344, "mile|miles"),
    **_units("s", 1, "sec|secs|second|seconds"),
    **_units("s", MINUTE, "mins|minute|minutes"),
    **_units("s", HOUR, "hour|hours"),
    **_units("s", DAY, "day|days"),
    **_units("s", 7 * DAY, "week|weeks|wk|wks"),
    **_units("s", 365 / 12 * DAY, "month|months|mo"),
    **_units("s", 365 * DAY, "year|years|yr|yrs"),
    **_units("w", 1, "watt|watts"),
    **_units("kmh", 1, "kph|kmh"),
    **_units("kmh", 1.609344, "mph"),
    **_units("deg", 1, "degrees|degree"),
    **_units("atm", 1, "atm"),
    **_units("rpm", 1, "rpm"),
    **_units("%", 1, "percent|per cent|pct", "percent"),
    **_units("x", 1, "times", "multiple"),
    **_units("cny", 1, "yuan|rmb|cny", "price"),
    **_units("usd", 1, "usd|dollar|dollars|bucks", "price"),
    **_units("eur", 1, "eur|euro|euros", "price"),
    **_units("gbp", 1, "gbp", "price"),
}
# Ounces are mass or, on a bottle, volume: "1 oz" of serum may state its 30 ml.
ALSO = {"oz": ("ml", 29.5735), "ounce": ("ml", 29.5735), "ounces": ("ml", 29.5735)}
# After a unit: Latin units must end the word ("5 min", not "5 mint"); a few Chinese ones
# must not start a longer word (米色 is beige, 周末 the weekend, 元素 an element).
_AFTER = {"x": "(?![A-Za-z0-9])", "X": "(?![A-Za-z0-9])", "×": r"(?!\d)", "米": "(?!色)"}
_AFTER |= {"周": "(?!末)", "元": "(?![素旦宵气])", "块": "(?![\u4e00-\u9fff])", "°": "(?![CF])"}


def _alternative(unit: str) -> str:
    body = re.escape(unit).replace(r"\ ", r"\s?")
    after = _AFTER.get(unit, "(?![A-Za-z])" if unit[-1].isascii() else "")
    return body + after


# Longest first across both tables: a regex takes the first alternative that matches.
UNIT = "|".join(
    alternative
    for _, alternative in sorted(
        [(len(u), _alternative(u)) for u in EXACT]
        + [(len(u), f"(?i:{_alternative(u)})") for u in FOLDED],
        key=lambda pair: -pair[0],
    )
)


def unit_of(written: str) -> Unit:
    """The unit a UNIT match names."""
    key = re.sub(r"\s+", " ", written)
    return EXACT.get(key) or FOLDED[key.lower()]
