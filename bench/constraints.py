"""What constrained decoding costs the embedded model: the same slogan calls with no
constraints, with the one-line grammar, with the bans, and with both, interleaved.

Reports per setting: milliseconds per call, output tokens, tokens per second, and how many
outputs were one line within the limit and free of absolutes; and the cost of building the
grammar and the ban table (done once per limit and term list; llama.cpp parses the grammar
again for every call, which is inside the call time).

Run: `.venv/bin/python -m bench.constraints` (`--calls 3` for a quick run). Prints a table
and writes bench/results/constraints.json.
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
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "constraints.json")
    args = parser.parse_args(argv)
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
