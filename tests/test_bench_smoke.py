"""The overhead benchmark runs end to end in its quickest mode (no timing assertions)."""

import json
from pathlib import Path

from bench import overhead


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
