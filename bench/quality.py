"""The quality of the copy a model writes through copyforge, per kind and language.

A brief set of our own (realistic products and topics, every kind, English and Chinese) is
sent through `POST /v1/<kind>` of a real `copyforge serve` (the embedded defaults unless
`--base-url` points at another server, or `--model` names an alias), one request at a time.
Per kind and language (and per platform or ad format) it reports:

- `succeeded`: share of requests answered `succeeded` (n variants passed every hard check);
- `first_try`: share of requests that succeeded without a replacement attempt;
- `hard_ok`: share of returned variants that meet every hard check;
- `absolutes`: returned variants that passed their hard checks yet hold an advertising-law
  absolute (`app.checks.ad_law`), counted whatever the server's own checks said;
- `s_per_ok` / `tok_per_ok`: seconds and model tokens per accepted variant;
- `rep3`: share of variants in which a three-word (three-character in Chinese) phrase
  occurs three times or more;
- `kw`: keyword coverage, share of (variant, wanted keyword) pairs where it appears;
- `distinct2`: distinct bigrams over all bigrams of a request's variants, averaged.

Run: `.venv/bin/python -m bench.quality` (`--per-cell 1` for a quick run; `--kinds
ad_slogan`). Prints a table and writes bench/results/quality.json. No figure here is a test
threshold; docs/quality.md records the runs.
"""

import argparse
import collections
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from app.checks.ad_law import absolute_claims
from app.checks.text import contains_phrase, repeated_phrase, tokens
from app.kinds import KINDS
from bench.common import RESULTS_DIR, machine, serve, wait_ready

PATHS = {kind.name: kind.path for kind in KINDS.values()}

# Briefs per (kind, language): products and topics a shop would really have.
BRIEFS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("ad_slogan", "en"): [
        {
            "product": "Aurora trail running shoes",
            "key_message": "grip on wet rock, weighs 210 g",
            "tone": "energetic",
            "keywords": ["grip"],
            "max_chars": 50,
        },
        {"product": "Nimbus noise-cancelling headphones", "key_message": "40 hours per charge"},
        {"product": "Harbor cold brew coffee", "key_message": "steeped for 18 hours, smooth"},
        {"product": "Fern organic face cream", "key_message": "calms dry skin overnight"},
        {"product": "Atlas carry-on suitcase", "key_message": "fits every airline's cabin"},
        {"product": "Pebble smart thermostat", "key_message": "cuts heating bills"},
    ],
    ("ad_slogan", "zh"): [
        {"product": "极光越野跑鞋", "key_message": "湿滑岩面抓地稳，仅重210克", "max_chars": 20},
        {"product": "云朵降噪耳机", "key_message": "一次充电听40小时", "max_chars": 20},
        {"product": "山泉冷萃咖啡", "key_message": "冷萃18小时，口感顺滑", "max_chars": 20},
        {"product": "蕨类有机面霜", "key_message": "一夜舒缓干燥肌肤", "max_chars": 20},
        {"product": "阿特拉斯登机箱", "key_message": "符合各航空公司登机尺寸", "max_chars": 20},
        {"product": "鹅卵石智能温控器", "key_message": "省下暖气费", "max_chars": 20},
    ],
    ("product_description", "en"): [
        {
            "product_name": "Kettle One",
            "features": ["boils 1 L in 3 minutes", "keeps water warm for 2 hours"],
            "specs": {"capacity": "1.7 L", "power": "2200 W"},
            "target_customer": "tea drinkers in small flats",
            "keywords": ["kettle"],
            "min_words": 50,
            "max_words": 120,
        },
        {
            "product_name": "Nimbus headphones",
            "features": ["active noise cancelling", "40-hour battery", "folds flat"],
            "specs": {"weight": "250 g"},
            "target_customer": "commuters on trains",
            "min_words": 40,
            "max_words": 120,
        },
        {
            "product_name": "Atlas carry-on",
            "features": ["polycarbonate shell", "four spinner wheels", "TSA lock"],
            "specs": {"size": "55 x 40 x 20 cm", "weight": "2.9 kg"},
            "target_customer": "business travellers",
            "min_words": 40,
            "max_words": 120,
        },
    ],
    ("product_description", "zh"): [
        {
            "product_name": "一号水壶",
            "features": ["三分钟烧开一升水", "保温两小时"],
            "specs": {"容量": "1.7 升", "功率": "2200 瓦"},
            "target_customer": "住小户型的爱茶人",
            "min_words": 60,
            "max_words": 200,
        },
        {
            "product_name": "云朵降噪耳机",
            "features": ["主动降噪", "续航40小时", "可折叠"],
            "specs": {"重量": "250 克"},
            "target_customer": "坐地铁通勤的上班族",
            "min_words": 60,
            "max_words": 200,
        },
        {
            "product_name": "阿特拉斯登机箱",
            "features": ["聚碳酸酯外壳", "四个万向轮", "海关锁"],
            "specs": {"尺寸": "55 x 40 x 20 厘米"},
            "target_customer": "经常出差的商务人士",
            "min_words": 60,
            "max_words": 200,
        },
    ],
    ("blog_post", "en"): [
        {
            "topic": "How to choose a trail running shoe",
            "outline": ["grip", "weight", "fit"],
            "keywords": ["trail running shoes"],
            "min_words": 300,
            "max_words": 600,
        },
        {
            "topic": "Five ways to make cold brew coffee at home",
            "outline": ["beans", "ratio", "steeping time"],
            "keywords": ["cold brew"],
            "min_words": 300,
            "max_words": 600,
        },
    ],
    ("blog_post", "zh"): [
        {
            "topic": "如何挑选越野跑鞋",
            "outline": ["抓地力", "重量", "合脚"],
            "keywords": ["越野跑鞋"],
            "min_words": 300,
            "max_words": 800,
        },
        {
            "topic": "在家做冷萃咖啡的五个方法",
            "outline": ["咖啡豆", "比例", "浸泡时间"],
            "keywords": ["冷萃"],
            "min_words": 300,
            "max_words": 800,
        },
    ],
    # One brief per platform: each platform's own template, fields and limits.
    ("social_post", "en"): [
        {"platform": "x", "product": "Aurora trail running shoes", "goal": "launch"},
        {
            "platform": "linkedin",
            "topic": "what we learned shipping 10,000 kettles",
            "goal": "engagement",
        },
        {
            "platform": "instagram",
            "product": "Fern organic face cream",
            "goal": "promotion",
            "call_to_action": "Tap the link in bio",
        },
        {"platform": "facebook", "topic": "our spring trail run meetup", "goal": "event"},
        {"platform": "weibo", "product": "Harbor cold brew coffee", "goal": "launch"},
        {"platform": "xiaohongshu", "product": "Atlas carry-on suitcase", "goal": "promotion"},
        {
            "platform": "wechat",
            "topic": "how to pack a carry-on for a week",
            "goal": "engagement",
            "max_chars": 800,
        },
    ],
    ("social_post", "zh"): [
        {
            "platform": "weibo",
            "product": "极光越野跑鞋",
            "key_message": "湿滑岩面抓地稳，仅重210克",
            "goal": "launch",
        },
        {
            "platform": "xiaohongshu",
            "product": "山泉冷萃咖啡",
            "key_message": "冷萃18小时，口感顺滑",
            "goal": "promotion",
        },
        {
            "platform": "wechat",
            "topic": "冬天如何挑选保温杯",
            "goal": "engagement",
            "max_chars": 600,
        },
        {
            "platform": "x",
            "product": "云朵降噪耳机",
            "key_message": "一次充电听40小时",
            "goal": "launch",
        },
        {"platform": "linkedin", "topic": "小团队如何做好新品发布", "goal": "engagement"},
        {"platform": "instagram", "product": "蕨类有机面霜", "goal": "promotion"},
        {"platform": "facebook", "topic": "春季越野跑聚会", "goal": "event"},
    ],
    ("email", "en"): [
        {
            "purpose": "launch",
            "product": "Aurora trail running shoes",
            "key_message": "grip on wet rock, 210 g",
            "call_to_action": "See the shoe",
        },
        {
            "purpose": "abandoned_cart",
            "product": "Nimbus noise-cancelling headphones",
            "offer": "free shipping this week",
        },
        {
            "purpose": "welcome",
            "topic": "the Harbor coffee club",
            "min_words": 50,
            "max_words": 150,
        },
    ],
    ("email", "zh"): [
        {
            "purpose": "promotion",
            "product": "山泉冷萃咖啡",
            "offer": "本周第二件半价",
            "subject_max_chars": 25,
        },
        {"purpose": "re_engagement", "topic": "极光跑步俱乐部", "min_words": 60, "max_words": 200},
    ],
    ("ad_set", "en"): [
        {
            "format": "google_rsa",
            "product": "Aurora trail running shoes",
            "key_message": "grip on wet rock, 210 g",
            "keywords": ["trail running shoes"],
            "headlines": 8,
            "descriptions": 3,
        },
        {
            "format": "meta",
            "product": "Pebble smart thermostat",
            "key_message": "cuts heating bills",
        },
    ],
    ("ad_set", "zh"): [
        {
            "format": "google_rsa",
            "product": "云朵降噪耳机",
            "key_message": "一次充电听40小时",
            "keywords": ["降噪耳机"],
            "headlines": 6,
            "descriptions": 2,
        },
        {"format": "meta", "product": "极光越野跑鞋", "key_message": "湿滑岩面抓地稳"},
    ],
}
VARIANTS = {
    "ad_slogan": 3,
    "product_description": 1,
    "blog_post": 1,
    "social_post": 1,
    "email": 1,
    "ad_set": 1,
}


def distinct_2(texts: list[str]) -> float | None:
    """Distinct bigrams over all bigrams of a set of texts."""
    grams = [g for t in texts for g in zip(tokens(t), tokens(t)[1:], strict=False)]
    return len(set(grams)) / len(grams) if grams else None


def _hard_ok(variant: dict[str, Any]) -> bool:
    return all(c["passed"] for c in variant["checks"] if c["hard"])


def cells_of(
    kind: str, language: str, briefs: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """The briefs by cell: one per platform or ad format where a kind has them (each has its
    own template and limits), else one per kind and language."""
    cells: dict[str, list[dict[str, Any]]] = {}
    for brief in briefs:
        where = brief.get("platform") or brief.get("format")
        name = f"{kind}/{where}/{language}" if where else f"{kind}/{language}"
        cells.setdefault(name, []).append(brief)
    return cells


def run_cell(
    http: httpx.Client, kind: str, language: str, briefs: list[dict[str, Any]], model: str | None
) -> dict[str, Any]:
    """Send each brief once; gather the answers' figures."""
    answers = []
    for brief in briefs:
        body = {**brief, "language": language, "n": VARIANTS[kind], "seed": 7}
        if model:
            body["model"] = model
        started = time.perf_counter()
        response = http.post(PATHS[kind], json=body)
        seconds = time.perf_counter() - started
        generation = response.json()
        if response.status_code != 201:
            # A failed generation answers with its error; its row has the figures.
            generation_id = generation.get("error", {}).get("generation_id")
            if generation_id is None:
                answers.append({"status": f"http {response.status_code}", "seconds": seconds})
                continue
            generation = http.get(f"/v1/generations/{generation_id}").json()
        answers.append({**generation, "seconds": seconds, "brief": brief})
    return summarise(kind, answers)


def summarise(kind: str, answers: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one (kind, language) cell."""
    stored = [a for a in answers if "variants" in a]
    variants = [v for a in stored for v in a["variants"]]
    accepted = [v for v in variants if _hard_ok(v)]
    wanted = [(v, k) for a in stored for v in a["variants"] for k in a["brief"].get("keywords", [])]
    usage = [a["usage"]["input_tokens"] + a["usage"]["output_tokens"] for a in stored]
    first_try = [
        a
        for a in stored
        if a["status"] == "succeeded" and a["options"]["attempts"] == a["options"]["n"]
    ]
    distincts = [d for a in stored if (d := distinct_2([v["text"] for v in a["variants"]]))]
    return {
        "requests": len(answers),
        "succeeded": _share(sum(a.get("status") == "succeeded" for a in answers), len(answers)),
        "first_try": _share(len(first_try), len(answers)),
        "variants": len(variants),
        "hard_ok": _share(len(accepted), len(variants)),
        "absolutes": sum(bool(absolute_claims(v["text"])) for v in accepted),
        "s_per_ok": _ratio(sum(a["seconds"] for a in answers), len(accepted)),
        "tok_per_ok": _ratio(sum(usage), len(accepted)),
        "rep3": _share(
            sum(repeated_phrase(v["text"], 3, 3) is not None for v in variants), len(variants)
        ),
        "kw": _share(sum(contains_phrase(v["text"], k) for v, k in wanted), len(wanted)),
        "distinct2": round(statistics.mean(distincts), 3) if distincts else None,
        "attempts": sum(a["options"]["attempts"] for a in stored),
        # Which hard checks the variants that were returned still failed, and how often.
        "failed": dict(
            collections.Counter(
                c["name"] for v in variants for c in v["checks"] if c["hard"] and not c["passed"]
            )
        ),
        "examples": [v["text"][:160] for v in variants[:3]],
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _ratio(total: float, count: int) -> float | None:
    return round(total / count, 2) if count else None


COLUMNS = (
    "requests",
    "succeeded",
    "first_try",
    "variants",
    "hard_ok",
    "absolutes",
    "s_per_ok",
    "tok_per_ok",
    "rep3",
    "kw",
    "distinct2",
)


def print_table(cells: dict[str, dict[str, Any]]) -> None:
    """One row per (kind, language)."""
    print(f"{'cell':28}" + "".join(f"{c:>11}" for c in COLUMNS))
    for name, cell in cells.items():
        values = ("-" if cell[c] is None else str(cell[c]) for c in COLUMNS)
        print(f"{name:28}" + "".join(f"{v:>11}" for v in values))


def main(argv: list[str] | None = None) -> None:
    """Run the brief set and report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", help="a running copyforge (default: start one)")
    parser.add_argument("--model", help="alias to write with (default: the server's)")
    parser.add_argument("--per-cell", type=int, default=None, help="briefs per kind and language")
    parser.add_argument("--kinds", nargs="*", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--languages", nargs="*", default=["en", "zh"], choices=["en", "zh"])
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "quality.json")
    args = parser.parse_args(argv)

    def measure(base_url: str) -> dict[str, dict[str, Any]]:
        cells = {}
        with httpx.Client(base_url=base_url, timeout=900) as http:
            for kind in args.kinds:
                for language in args.languages:
                    briefs = BRIEFS[(kind, language)][: args.per_cell]
                    for name, group in cells_of(kind, language, briefs).items():
                        cells[name] = run_cell(http, kind, language, group, args.model)
        return cells

    if args.base_url:
        cells = measure(args.base_url)
    else:
        with tempfile.TemporaryDirectory() as workdir, serve(Path(workdir)) as served:
            wait_ready(served, timeout_s=300)
            cells = measure(served.base_url)
    print_table(cells)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine(), "model": args.model, "cells": cells}
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
