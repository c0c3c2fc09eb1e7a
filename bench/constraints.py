"""What constrained decoding costs the embedded model: the same slogan calls with no
constraints, with the one-line grammar, with the bans, and with both, interleaved.

Reports per setting: milliseconds per call, output tokens, tokens per second, and how many
outputs were one line within the limit and free of absolutes; and the cost of building the
grammar and the ban table (done once per limit and term list; llama.cpp parses the grammar
again for every call, which is inside the call time).

With `--prose`, the same for prose: a product description with no grammar and with a
word-range grammar (40 to 120 words, a Han character counting as a word, as the checks
count), on both embedded models: what it would cost to bound prose by grammar instead of by
a minimum length, a token budget and trimming.

Run: `.venv/bin/python -m bench.constraints` (`--calls 3` for a quick run; `--prose`).
Prints a table and writes bench/results/constraints.json (constraints-prose.json).
"""

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from app.checks.ad_law import absolute_claims, banned_terms
from app.llm.base import Constraints, GenerationOptions, Message
from app.llm.grammar import line_grammar
from app.llm.local import LocalClient, builtin_local_models
from bench.common import RESULTS_DIR, machine

PROMPT = [
    Message("system", "You are a senior advertising copywriter. Answer with the slogan alone."),
    Message(
        "user",
        "Write one slogan for Aurora trail running shoes. Stress: grip on wet rock, 210 g. "
        "One line, at most 50 characters.\nSlogan:",
    ),
]
LIMIT = 50
SETTINGS = {
    "none": Constraints(),
    "grammar": Constraints(one_line=True, max_chars=LIMIT),
    "bans": Constraints(banned=banned_terms("en")),
    "both": Constraints(one_line=True, max_chars=LIMIT, banned=banned_terms("en")),
}


PROSE_PROMPTS = {
    "local": [
        Message("system", "You write product descriptions in plain English paragraphs."),
        Message(
            "user",
            "Describe Aurora trail running shoes in 40 to 120 words: grip on wet rock, "
            "210 g, a rock plate. For weekend trail runners.",
        ),
    ],
    "local-zh": [
        Message(
            "user",
            "请为越野跑鞋写一段 40 到 120 字的商品详情文案：湿滑岩石上抓地牢，重 210 克，"
            "有防石板。目标顾客：周末越野跑爱好者。\n文案：",
        )
    ],
}


def word_range_grammar(min_words: int, max_words: int) -> str:
    """GBNF for prose of `min_words` to `max_words` words, each Han character one word."""
    return (
        f"root ::= word (sep? word){{{min_words - 1},{max_words - 1}}} end?\n"
        "word ::= [A-Za-z0-9'-]+ | [\u4e00-\u9fff]\n"
        'sep ::= [ \\n.,;:!?()%"\u3001-\u3003\uff01-\uff1f\u201c\u201d]+\n'
        "end ::= [.!?\u3002\uff01\uff1f]\n"
    )


async def measure_prose(calls: int) -> dict[str, Any]:
    """Per model: a description with and without the word-range grammar, interleaved."""
    from llama_cpp.llama_grammar import LlamaGrammar

    results: dict[str, Any] = {}
    for alias, prompt in PROSE_PROMPTS.items():
        client = LocalClient(alias, builtin_local_models()[alias])
        await client.load()
        llama = client._load()
        samples: dict[str, list[tuple[float, int]]] = {"none": [], "word_range": []}
        for seed in range(calls):
            for name in samples:
                grammar = word_range_grammar(40, 120) if name == "word_range" else None
                text = "\n\n".join(m.content for m in prompt)
                started = time.perf_counter()
                output = llama.create_completion(
                    text,
                    max_tokens=200,
                    seed=seed,
                    temperature=0.8,
                    grammar=LlamaGrammar.from_string(grammar, verbose=False) if grammar else None,
                )
                elapsed = time.perf_counter() - started
                samples[name].append((elapsed, output["usage"]["completion_tokens"]))
        await client.aclose()
        results[alias] = {
            name: {
                "ms_per_call": round(statistics.median(s for s, _ in rows) * 1000, 1),
                "output_tokens": round(statistics.mean(t for _, t in rows), 1),
                "ms_per_token": round(1000 * sum(s for s, _ in rows) / sum(t for _, t in rows), 1),
                "calls": len(rows),
            }
            for name, rows in samples.items()
        }
    return results


async def measure(calls: int) -> dict[str, Any]:
    """Interleave the settings, call by call, on one loaded model."""
    client = LocalClient("local", builtin_local_models()["local"])
    await client.load()
    started = time.perf_counter()
    line_grammar(LIMIT)
    grammar_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    client.banned_tokens(banned_terms("en"))
    bans_ms = (time.perf_counter() - started) * 1000
    samples: dict[str, list[tuple[float, int, str]]] = {name: [] for name in SETTINGS}
    for seed in range(calls):
        for name, constraints in SETTINGS.items():
            options = GenerationOptions(max_tokens=64, seed=seed, constraints=constraints)
            started = time.perf_counter()
            completion = await client.complete(PROMPT, options)
            elapsed = time.perf_counter() - started
            samples[name].append((elapsed, completion.output_tokens, completion.text))
    await client.aclose()
    results = {}
    for name, rows in samples.items():
        seconds = [s for s, _, _ in rows]
        tokens = [t for _, t, _ in rows]
        texts = [text.strip() for _, _, text in rows]
        results[name] = {
            "ms_per_call": round(statistics.median(seconds) * 1000, 1),
            "output_tokens": round(statistics.mean(tokens), 1),
            "tokens_per_s": round(sum(tokens) / sum(seconds), 1),
            "one_line_within_limit": sum("\n" not in t and len(t) <= LIMIT for t in texts),
            "free_of_absolutes": sum(not absolute_claims(t) for t in texts),
            "calls": len(rows),
            "examples": texts[:3],
        }
    return {"grammar_build_ms": round(grammar_ms, 3), "bans_build_ms": round(bans_ms, 1), **results}


def main(argv: list[str] | None = None) -> None:
    """Run and report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=12, help="calls per setting")
    parser.add_argument("--prose", action="store_true", help="prose: word-range grammar")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.prose:
        prose = asyncio.run(measure_prose(args.calls))
        for alias, rows in prose.items():
            for name, row in rows.items():
                print(f"{alias:10} {name:12}", "  ".join(f"{k} {v}" for k, v in row.items()))
        output = args.output or RESULTS_DIR / "constraints-prose.json"
        output.write_text(json.dumps({"machine": machine(), **prose}, indent=2))
        print(f"wrote {output}")
        return
    args.output = args.output or RESULTS_DIR / "constraints.json"
    report = asyncio.run(measure(args.calls))
    print(f"grammar built in {report['grammar_build_ms']} ms, bans in {report['bans_build_ms']} ms")
    columns = ("ms_per_call", "output_tokens", "tokens_per_s", "one_line_within_limit")
    print(f"{'setting':10}" + "".join(f"{c:>24}" for c in (*columns, "free_of_absolutes")))
    for name in SETTINGS:
        row = report[name]
        cells = [row[c] for c in (*columns, "free_of_absolutes")]
        print(f"{name:10}" + "".join(f"{v!s:>24}" for v in cells))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"machine": machine(), **report}, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
