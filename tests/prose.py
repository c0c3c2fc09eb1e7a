"""Filler copy for test doubles: sentences that never repeat a phrase (the loop check would
refuse a paragraph written by repeating one sentence), seeded, in English or Chinese."""

import random

_EN = [
    "grip",
    "weight",
    "fit",
    "cushion",
    "heel",
    "toe",
    "sole",
    "lugs",
    "upper",
    "lace",
    "trail",
    "rock",
    "mud",
    "root",
    "climb",
    "stride",
    "pace",
    "comfort",
    "support",
    "drainage",
    "mesh",
    "foam",
    "rubber",
    "stack",
    "drop",
    "width",
    "tongue",
    "collar",
    "runner",
    "morning",
    "hill",
    "valley",
    "river",
    "forest",
    "summit",
    "ridge",
    "gravel",
    "puddle",
    "mile",
    "minute",
    "water",
    "kettle",
    "litre",
    "boil",
    "warm",
    "tea",
    "flat",
    "handle",
    "lid",
    "base",
    "cord",
    "steel",
    "glass",
    "quiet",
    "quick",
    "simple",
    "light",
    "steady",
    "firm",
    "soft",
    "bright",
    "clean",
    "fresh",
]
_ZH = (
    "抓地重量合脚缓冲鞋跟脚尖鞋底齿纹鞋面鞋带山路岩石泥土树根攀爬下坡步幅配速舒适支撑"
    "排水网布泡棉橡胶宽度水壶烧开保温茶叶厨房把手壶盖底座安静快速简单轻巧稳定柔软明亮"
    "干净清新早晨河流森林山顶碎石"
)


def prose(words: int, seed: int = 0, *, language: str = "en") -> str:
    """About `words` words (Han characters in Chinese) of sentences, ten words each."""
    pick = random.Random(seed)
    if language == "zh":
        sentences = ["".join(pick.choices(_ZH, k=10)) + "。" for _ in range(max(1, words // 10))]
        return "".join(sentences)
    sentences = []
    for _ in range(max(1, words // 10)):
        sentence = " ".join(pick.choices(_EN, k=10))
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(sentences)
