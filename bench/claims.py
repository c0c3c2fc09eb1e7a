"""How well the claims-against-facts check finds invented figures: precision and recall of
unsupported-claim detection on a labelled set, per language, and the time per text.

bench/data/claims.jsonl holds one marketing text a line with its product's facts and the
spans a reader would flag as not backed by them ({"split", "language", "facts", "text",
"unsupported"}). It was written before the check, in two halves: `dev` was looked at while
the check was built, `test` was not run until the check was done, so its figures are the
ones to quote. A labelled span counts as found when a flagged claim overlaps it; a flagged
claim is right when it overlaps a labelled span. Speed: microseconds per `check_claims` call,
warm (the product's facts already parsed, as for every variant after a product's first) and
cold (facts parsed in the call).

Run: `.venv/bin/python -m bench.claims [--split test] [--show] [--output F]`.
Prints a table and writes bench/results/claims.json.
"""

import argparse
import json
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.checks import claims
from app.checks.claims import check_claims, unsupported_claims
from bench.common import RESULTS_DIR, machine

DATA = Path(__file__).resolve().parent / "data" / "claims.jsonl"
TARGETS = {"recall": 0.95, "precision": 0.9}


def load(path: Path = DATA) -> list[dict[str, Any]]:
    """The labelled lines."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def label_spans(text: str, labels: Iterable[str]) -> list[tuple[int, int]]:
    """Where each labelled span is in the text (a repeated label takes the next occurrence)."""
    spans: list[tuple[int, int]] = []
    for label in labels:
        start = text.find(label)
        while (start, start + len(label)) in spans:
            start = text.find(label, start + 1)
        if start < 0:
            raise ValueError(f"label {label!r} is not in {text!r}")
        spans.append((start, start + len(label)))
    return spans


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def score(rows: list[dict[str, Any]], show: bool = False) -> dict[str, Any]:
    """Precision and recall over `rows`; with `show`, print each miss and false alarm."""
    labelled = found = flagged = right = 0
    for row in rows:
        spans = label_spans(row["text"], row["unsupported"])
        claims = unsupported_claims(row["text"], row["facts"])
        hits = [(c.start, c.end) for c in claims]
        labelled += len(spans)
        flagged += len(hits)
        found += sum(any(overlaps(s, h) for h in hits) for s in spans)
        right += sum(any(overlaps(h, s) for s in spans) for h in hits)
        if show:
            for s in spans:
                if not any(overlaps(s, h) for h in hits):
                    print(f"  missed {row['text'][s[0] : s[1]]!r} in {row['text']!r}")
            for claim in claims:
                if not any(overlaps((claim.start, claim.end), s) for s in spans):
                    print(f"  false alarm {claim.text!r} in {row['text']!r}")
    return {
        "texts": len(rows),
        "labelled": labelled,
        "flagged": flagged,
        "recall": round(found / labelled, 3) if labelled else None,
        "precision": round(right / flagged, 3) if flagged else None,
    }


def speed_us(rows: list[dict[str, Any]], rounds: int, cold: bool) -> float:
    """Median microseconds for one `check_claims` call: `cold` parses the facts each time
    (a product's first variant); warm finds them parsed (every later variant)."""
    per_round = []
    for _ in range(rounds):
        elapsed = 0.0
        for row in rows:
            if cold:
                claims._index.cache_clear()
            else:
                check_claims(row["text"], row["facts"])
            started = time.perf_counter()
            check_claims(row["text"], row["facts"])
            elapsed += time.perf_counter() - started
        per_round.append(elapsed / len(rows) * 1e6)
    return round(statistics.median(per_round), 1)


def main(argv: list[str] | None = None) -> None:
    """Score, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--show", action="store_true", help="print each miss and false alarm")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--output", type=Path, help="default: bench/results/claims.json")
    args = parser.parse_args(argv)
    rows = load()
    splits = ("dev", "test") if args.split == "all" else (args.split,)
    results: dict[str, Any] = {}
    for split in splits:
        for language in ("en", "zh"):
            chosen = [r for r in rows if r["split"] == split and r["language"] == language]
            if args.show:
                print(f"{split} {language}:")
            figures = score(chosen, args.show)
            figures["us_per_text"] = speed_us(chosen, args.rounds, cold=False)
            figures["us_per_text_cold"] = speed_us(chosen, args.rounds, cold=True)
            results[f"{split}/{language}"] = figures
    report = {"data": str(DATA.name), "targets": TARGETS, "results": results}
    report["machine"] = machine()
    output = args.output or RESULTS_DIR / "claims.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    print(f"{'split/lang':<10} {'texts':>5} {'labels':>6} {'flagged':>7} {'recall':>6} "
          f"{'precision':>9} {'µs/text':>8} {'µs cold':>8}")  # fmt: skip
    for name, f in results.items():
        print(
            f"{name:<10} {f['texts']:>5} {f['labelled']:>6} {f['flagged']:>7} "
            f"{f['recall']!s:>6} {f['precision']!s:>9} {f['us_per_text']:>8} "
            f"{f['us_per_text_cold']:>8}"
        )


if __name__ == "__main__":
    main()
