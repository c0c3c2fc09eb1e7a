"""What importing and exporting a product catalog costs, through real HTTP.

Generates `--rows` products (default 10,000: features, specs, claims, a Chinese name and
features each) as one CSV file, starts `copyforge serve` on a fresh SQLite file (or the
`bench_catalog` PostgreSQL database with `--database postgres`, created and dropped) and
times, from the client:

1. `first_import`: POST /v1/products/import of the file, every row created;
2. `second_import`: the same file again, every row unchanged;
3. `changed_import`: the file with every price changed, every row updated;
4. `export_csv` and `export_jsonl`: GET /v1/products/export, whole body read.

Also the server's resident memory once ready and its peak (VmHWM) at the end, and the
machine yardstick.

Run: `.venv/bin/python -m bench.catalog [--rows 10000] [--database sqlite|postgres]`.
"""

import argparse
import csv
import io
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from app.knowledge.catalog import CSV_COLUMNS
from bench.common import machine, rss_mib, serve, wait_ready
from tests.databases import scratch_postgres


def catalog_csv(rows: int, price_offset: int = 0) -> bytes:
    """A CSV file of `rows` distinct products, about 500 bytes each."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for n in range(rows):
        writer.writerow(
            {
                "sku": f"AUR-{n:06d}",
                "name": f"Aurora trail running shoe {n}",
                "category": "running shoes",
                "features": f"grippy outsole for wet rock | rock plate | {n % 7 + 3} mm lugs",
                "specs": f"weight={200 + n % 50} g | drop={n % 10} mm | size=EU {36 + n % 12}",
                "price": f"{99 + price_offset + n % 60}.00",
                "currency": "USD",
                "approved_claims": "30% more grip on wet rock — lab test 2026-03 | recycled upper",
                "forbidden_claims": "waterproof | injury-proof",
                "url": f"https://shop.example.com/p/{n}",
                "name_zh": f"极光越野跑鞋 {n}",
                "features_zh": "湿滑岩石上抓地稳 | 防石板",
            }
        )
    return buffer.getvalue().encode()


def peak_rss_mib(pid: int) -> float:
    """The highest resident memory a process has had, MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def timed(client: httpx.Client, method: str, url: str, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.request(method, url, **kwargs)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return round(elapsed, 3), response


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "postgres":
        with scratch_postgres("bench_catalog") as url:
            yield url
    else:
        yield f"sqlite:///{workdir / 'bench.db'}"


def run(rows: int, kind: str) -> dict[str, Any]:
    first, changed = catalog_csv(rows), catalog_csv(rows, price_offset=1)
    results: dict[str, Any] = {"rows": rows, "database": kind}
    results["file_mib"] = round(len(first) / 2**20, 2)
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(kind, Path(tmp)) as url,
        serve(Path(tmp), database_url=url) as served,
    ):
        wait_ready(served)
        results["server_rss_at_ready_mib"] = round(rss_mib(served.process.pid), 1)
        with httpx.Client(base_url=served.base_url, timeout=600) as client:
            results.update(measure(client, rows, first, changed))
        results["server_peak_rss_mib"] = round(peak_rss_mib(served.process.pid), 1)
    return results


def measure(client: httpx.Client, rows: int, first: bytes, changed: bytes) -> dict[str, float]:
    """Seconds of each import and export, each checked to have done what it should."""
    seconds: dict[str, float] = {}
    imports = {
        "first_import": (first, (0, rows, 0, 0)),
        "second_import": (first, (0, 0, 0, rows)),
        "changed_import": (changed, (0, 0, rows, 0)),
    }
    for name, (body, expected) in imports.items():
        took, response = timed(
            client,
            "POST",
            "/v1/products/import",
            content=body,
            headers={"Content-Type": "text/csv"},
        )
        report = response.json()
        got = tuple(report[k] for k in ("refused", "created", "updated", "unchanged"))
        assert got == expected, (name, report["errors"][:3])
        seconds[f"{name}_s"] = took
    for fmt in ("csv", "jsonl"):
        took, response = timed(client, "GET", "/v1/products/export", params={"format": fmt})
        lines = response.text.count("\n")
        assert lines == rows + (fmt == "csv"), (fmt, lines)
        seconds[f"export_{fmt}_s"] = took
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    print(json.dumps({"machine": machine(), **run(args.rows, args.database)}, indent=2))


if __name__ == "__main__":
    main()
