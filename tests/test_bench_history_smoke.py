"""bench/history.py runs end to end on a tiny SQLite database (no timing assertions)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import SPEED_ENV, python_speed_s
from bench.history import PAGES


def test_history_benchmark_runs_and_writes_its_report(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.history", "--rows", "200", "--samples", "5"]
    # The yardstick this test run already took (once, for every benchmark smoke test).
    env = {**os.environ, SPEED_ENV: str(python_speed_s())}
    subprocess.run([*command, "--results-dir", str(tmp_path)], check=True, timeout=120, env=env)

    report = json.loads((tmp_path / "history-sqlite.json").read_text())
    assert report["database"] == "sqlite"
    assert report["rows"] == 200
    assert report["seed_seconds"] >= 0
    assert report["machine"]["python_speed_s"] == python_speed_s()
    queries = report["queries"]
    for name in (
        *PAGES,
        "kind",
        "q_product",
        "q_absent",
        "poll_updated_since_1d",
        "not_modified_304",
    ):
        assert {"p50_ms", "p95_ms", "p99_ms", "samples"} <= set(queries[name]), name
    assert "stats_group_by_kind" in queries
    assert set(report["targets"]) == {"every_page_p99_le_15ms", "deep_p50_le_2x_first"}
