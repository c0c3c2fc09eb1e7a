"""The benchmarks run end to end in their quickest mode (no timing assertions)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.llm.registry import ModelRegistry
from app.main import create_app
from bench import constraints, floor, overhead, quality, sdk_calls, store
from tests.fakes import FakeLLM
from tests.servers import serve_in_thread


def test_overhead_quick_run_writes_every_key(tmp_path: Path) -> None:
    output = tmp_path / "overhead.json"
    overhead.main(["--quick", "--output", str(output)])
    report = json.loads(output.read_text())
    assert set(report) >= {"quick", "plan", "machine", "scenarios", "targets"}
    assert set(report["scenarios"]) == {"fixed_rate", "saturation", "slow_upstream"}
    for result in report["scenarios"].values():
        assert set(result) == {"direct", "copyforge", "overhead_ms", "cpu_ms_per_request"}
        for side in ("direct", "copyforge"):
            assert set(result[side]) >= {"requests", "errors", "rps", "p50_ms", "p95_ms", "p99_ms"}
            assert result[side]["succeeded"] > 0
        assert set(result["overhead_ms"]) == {"p50", "p95", "p99"}
    assert set(report["targets"]) == set(overhead.TARGETS)
    assert all(isinstance(t["met"], bool) for t in report["targets"].values())


def test_floor_quick_run_measures_every_server(tmp_path: Path) -> None:
    output = tmp_path / "floor.json"
    floor.main(["--seconds", "0.3", "--in-flight", "4", "--output", str(output)])
    report = json.loads(output.read_text())
    assert set(report["servers"]) == set(floor.SERVERS)
    for result in report["servers"].values():
        for phase in ("loaded", "sequential"):
            assert result[phase]["succeeded"] > 0
            assert result[phase]["errors"] == 0
            assert result[phase]["cpu_ms_per_request"]["server"] > 0


def test_store_quick_run_times_every_way(tmp_path: Path) -> None:
    output = tmp_path / "store.json"
    store.main(["--count", "5", "--output", str(output)])
    report = json.loads(output.read_text())
    assert set(report["results"]) == {"lone", "together", "async_engine"}
    assert all(figures["wall_ms"] > 0 for figures in report["results"].values())


def test_sdk_calls_quick_run_times_every_way(tmp_path: Path) -> None:
    output = tmp_path / "sdk_calls.json"
    sdk_calls.main(["--calls", "20", "--in-flight", "4", "--output", str(output)])
    results = json.loads(output.read_text())["results"]
    assert len(results) == 5
    assert all(figures["calls_per_s"] > 0 for figures in results.values())


def test_quality_run_reports_every_cell(settings: Settings, tmp_path: Path) -> None:
    # The fake model writes passing slogans: the figures follow from what it wrote.
    registry = ModelRegistry.from_clients({"fake": FakeLLM()}, "fake")
    output = tmp_path / "quality.json"
    with serve_in_thread(create_app(settings, registry=registry)) as base_url:
        quality.main(
            [
                "--base-url",
                base_url,
                "--per-cell",
                "2",
                "--kinds",
                "ad_slogan",
                "--output",
                str(output),
            ]
        )
    cells = json.loads(output.read_text())["cells"]
    assert set(cells) == {"ad_slogan/en", "ad_slogan/zh"}
    for cell in cells.values():
        assert set(cell) >= set(quality.COLUMNS)
        assert cell["requests"] == 2
        assert cell["variants"] == 2 * quality.VARIANTS["ad_slogan"]
        assert cell["succeeded"] == cell["hard_ok"] == 1.0
        assert cell["absolutes"] == 0
        assert cell["s_per_ok"] is not None  # one accepted variant at least


@pytest.mark.real_model
def test_constraints_run_measures_every_setting(tmp_path: Path) -> None:
    output = tmp_path / "constraints.json"
    constraints.main(["--calls", "1", "--output", str(output)])
    report = json.loads(output.read_text())
    assert set(report) >= {"machine", "grammar_build_ms", "bans_build_ms", *constraints.SETTINGS}
    for name in constraints.SETTINGS:
        assert report[name]["calls"] == 1
        assert report[name]["tokens_per_s"] > 0
    # Under the grammar the one call is a line within the limit whatever it says.
    assert report["grammar"]["one_line_within_limit"] == 1
    assert report["both"]["free_of_absolutes"] == 1


def run_benchmark(module: str, *args: str) -> None:
    """A benchmark as its users run it: `python -m bench.<module>`, in its own process."""
    subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        check=True,
        timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
    )


def test_events_quick_run_measures_ingest_and_assignment(tmp_path: Path) -> None:
    output = tmp_path / "events.json"
    run_benchmark(
        "events",
        *("--batches", "4", "--batch", "50", "--seconds", "0.3", "--in-flight", "8"),
        *("--output", str(output)),
    )
    report = json.loads(output.read_text())
    assert report["results"]["ingest"]["events_stored"] == 200
    assignment = report["results"]["assignment"]
    assert set(assignment) == {
        "serve_in_flight_1",
        "serve_in_flight_8",
        "record_in_flight_1",
        "record_in_flight_8",
    }
    assert all(run["succeeded"] > 0 and run["errors"] == 0 for run in assignment.values())
    assert set(report["targets"]) == {"events_per_s", "assignment_service_p99_ms"}


def test_score_quick_run_trains_on_the_embedded_models_slogans(tmp_path: Path) -> None:
    output = tmp_path / "score.json"
    run_benchmark("score", "--generations", "10", "--impressions", "20", "--output", str(output))
    results = json.loads(output.read_text())["results"]
    assert results["variants"] >= 30
    assert sum(results["rating_histogram"].values()) == results["variants"]
    model = results["model"]
    assert model["version"] == 1
    assert model["rated_variants"] == results["variants"]
    assert model["click_variants"] == results["variants"]
