"""The cost floor of copyforge's stack: what a do-nothing service built from the same parts
costs per request on this machine, next to copyforge itself.

The mock upstream (tests/mock_upstream.py) runs for the whole run; then, one at a time, each
server below runs as its own process (uvicorn, one worker, uvloop + httptools, on a free
loopback port) and gets `POST /v1/ad-slogans` with bench.overhead.BRIEF:

1. `bare`: FastAPI, a pydantic body, a small JSON answer; no upstream call
   (bench/floor_app.py).
2. `sdk`: the same plus one chat completion to the mock as copyforge makes it (the `openai`
   SDK over its aiohttp transport, `client.post(..., cast_to=httpx2.Response)`, the answer
   read by copyforge's `parse_completion`).
3. `sdk_default_create`: the same completion with the SDK's default HTTP client and
   `chat.completions.create`, as most apps make it.
4. `aiohttp`: the same completion with plain aiohttp and no SDK (what a thinner client costs).
5. `copyforge`: the real `copyforge serve` as bench/overhead.py runs it (model `mock`, a fresh
   SQLite file, auth off, no extra attempts).

The minimal apps run with log level warning and the access log off. Each server is warmed up
for 1 s, then gets a closed loop of `--in-flight` concurrent requests for `--seconds` from this
process (uvloop, one aiohttp session), then a sequential pass (one request in flight) for as
long. Reported per pass: requests/s, p50/p99 latency, and CPU milliseconds per request of the
server, the mock and the load generator (/proc and time.process_time). `1-core req/s` is
1000 / the server's CPU ms per request under load: the rate the server could reach with a
core to itself, whatever else shares the machine.

Run: `.venv/bin/python -m bench.floor [--seconds 5] [--in-flight 32]
[--output bench/results/floor.json]` (about 10 x `--seconds` + 30 s). Prints a table and
writes the JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.common import RESULTS_DIR, Served, free_port, machine, serve, wait_ready
from bench.floor_app import UPSTREAM_ENV
from bench.overhead import (
    BRIEF,
    Sample,
    Send,
    closed_loop,
    copyforge_env,
    cpu_s,
    mock_upstream,
)

ROOT = Path(__file__).resolve().parent.parent
PATH = "/v1/ad-slogans"
WARMUP_S = 1.0
# The minimal apps: name -> factory in bench/floor_app.py. `copyforge` runs after them.
FACTORIES = {
    "bare": "create_bare_app",
    "sdk": "create_sdk_app",
    "sdk_default_create": "create_sdk_default_create_app",
    "aiohttp": "create_aiohttp_app",
}
SERVERS = (*FACTORIES, "copyforge")
STACK = ("fastapi", "starlette", "pydantic", "uvicorn", "uvloop", "httptools", "openai", "aiohttp")


@dataclass(frozen=True)
class Pids:
    """The processes whose CPU time is counted besides this one."""

    server: int
    mock: int


def busy_s() -> float:
    """CPU seconds all cores of the machine have spent busy since boot (Linux /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    idle = int(fields[3]) + int(fields[4])  # idle, iowait
    return (sum(int(f) for f in fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@contextmanager
def floor_server(name: str, upstream: str, workdir: Path) -> Iterator[Served]:
    """One of bench/floor_app.py's apps under uvicorn on a free port; stopped afterwards."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", f"bench.floor_app:{FACTORIES[name]}", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        *("--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log"),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, UPSTREAM_ENV: upstream},
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"{name}.log").open("wb"),
    )
    try:
        yield Served(process, f"http://127.0.0.1:{port}", started)
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def server(name: str, upstream: str, workdir: Path) -> Iterator[Served]:
    """Server `name` (one of SERVERS), running and ready; stopped afterwards."""
    if name == "copyforge":
        running = serve(workdir, copyforge_env(upstream))
    else:
        running = floor_server(name, upstream, workdir)
    with running as served:
        try:
            wait_ready(served, timeout_s=60)
        except RuntimeError as exc:
            log = workdir / ("serve.log" if name == "copyforge" else f"{name}.log")
            raise RuntimeError(f"{name}: {exc}\n{log.read_text()[-2000:]}") from None
        yield served


def poster(http: aiohttp.ClientSession, body: dict[str, object]) -> Send:
    """One `POST /v1/ad-slogans`: None when answered 201, else what went wrong."""

    async def send() -> str | None:
        async with http.post(PATH, json=body) as answer:
            await answer.read()
            return None if answer.status == 201 else f"HTTP {answer.status}"

    return send


async def metered(send: Send, in_flight: int, seconds: float, pids: Pids) -> dict[str, Any]:
    """A closed loop of `in_flight` requests for `seconds`: its summary and CPU per request."""
    sample = Sample()
    machine_before = busy_s()
    before = cpu_s(pids.server), cpu_s(pids.mock), time.process_time()
    await closed_loop(send, in_flight, seconds, sample)
    after = cpu_s(pids.server), cpu_s(pids.mock), time.process_time()
    machine_busy = busy_s() - machine_before
    summary = sample.summary()
    done = max(1, summary["requests"])
    spent = [end - start for start, end in zip(before, after, strict=True)]
    summary["cpu_ms_per_request"] = {
        who: round(used * 1000 / done, 3)
        for who, used in zip(("server", "mock", "load_generator"), spent, strict=True)
    }
    # CPU the rest of the machine used meanwhile, in % of one core: a busy neighbour shows here.
    summary["other_cpu_pct"] = round(max(0.0, machine_busy - sum(spent)) * 100 / seconds, 1)
    return summary


async def measure(
    base_url: str, body: dict[str, object], pids: Pids, in_flight: int, seconds: float
) -> dict[str, Any]:
    """Warm up, then the loaded and the sequential pass against one running server."""
    async with aiohttp.ClientSession(
        base_url=base_url,
        connector=aiohttp.TCPConnector(limit=in_flight),
        timeout=aiohttp.ClientTimeout(total=60, connect=10),
    ) as http:
        send = poster(http, body)
        warm = Sample()
        await closed_loop(send, in_flight, WARMUP_S, warm)
        if not warm.latencies_s:
            raise RuntimeError(f"no request succeeded while warming up: {dict(warm.error_kinds)}")
        loaded = await metered(send, in_flight, seconds, pids)
        sequential = await metered(send, 1, seconds, pids)
    server_ms = loaded["cpu_ms_per_request"]["server"]
    return {
        "loaded": loaded,
        "sequential": sequential,
        "one_core_rps": round(1000 / server_ms, 1) if server_ms else None,
    }


def run_server(
    name: str, upstream: str, mock_pid: int, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Start server `name`, measure it, stop it."""
    body: dict[str, object] = {**BRIEF, "model": "mock"} if name == "copyforge" else dict(BRIEF)
    with server(name, upstream, workdir) as served:
        pids = Pids(served.process.pid, mock_pid)
        result: dict[str, Any] = uvloop.run(
            measure(served.base_url, body, pids, args.in_flight, args.seconds)
        )
    return result


def print_table(report: dict[str, Any]) -> None:
    """One row per server: the loaded pass, then the sequential pass; CPU in ms per request."""
    print(
        f"{'':<19} {'--- ' + str(report['settings']['in_flight']) + ' in flight ':-<61} "
        f"{'--- 1 in flight ':-<24} {'other':>6}"
    )
    print(
        f"{'server':<19} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'server':>7} "
        f"{'mock':>6} {'loadgen':>7} {'1-core':>7} {'p50 ms':>7} {'server':>7} {'mock':>8} "
        f"{'CPU %':>6}"
    )
    for name, result in report["servers"].items():
        loaded, sequential = result["loaded"], result["sequential"]
        cpu, seq_cpu = loaded["cpu_ms_per_request"], sequential["cpu_ms_per_request"]
        errors = loaded["errors"] + sequential["errors"]
        other = max(loaded["other_cpu_pct"], sequential["other_cpu_pct"])
        print(
            f"{name:<19} {loaded['rps']:>7} {loaded['p50_ms']!s:>7} {loaded['p99_ms']!s:>7} "
            f"{errors:>6} {cpu['server']:>7} {cpu['mock']:>6} {cpu['load_generator']:>7} "
            f"{result['one_core_rps']!s:>7} {sequential['p50_ms']!s:>7} "
            f"{seq_cpu['server']:>7} {seq_cpu['mock']:>8} {other:>6}"
        )
    seconds, info = report["settings"]["seconds"], report["machine"]
    print(
        f"\n{seconds} s per pass; {info['cpus']} CPUs, python_speed_s {info['python_speed_s']}.\n"
        "server, mock, loadgen: CPU ms per request. 1-core: 1000 / the server's CPU ms per\n"
        "request under load (req/s). other CPU %: the rest of the machine meanwhile, in % of\n"
        "one core (the busier pass)."
    )


def main(argv: list[str] | None = None) -> None:
    """Measure every server, print the table and write the JSON report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each pass")
    parser.add_argument("--in-flight", type=int, default=32, help="concurrent requests")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "floor.json")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.in_flight < 1:
        parser.error("--seconds must be positive and --in-flight at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with mock_upstream(workdir) as (upstream, mock_pid):
            servers = {
                name: run_server(name, upstream, mock_pid, workdir, args) for name in SERVERS
            }
    report = {
        "settings": {"seconds": args.seconds, "in_flight": args.in_flight, "warmup_s": WARMUP_S},
        "machine": machine(),
        "stack": {package: version(package) for package in STACK},
        "servers": servers,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print_table(report)


if __name__ == "__main__":
    main()
