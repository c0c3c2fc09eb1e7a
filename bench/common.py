"""Helpers shared by the benchmarks: run `copyforge serve` or another server as a real process
and wait for it, read memory and speed."""

import functools
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# A yardstick already taken (by the test run that starts a benchmark as a subprocess).
SPEED_ENV = "COPYFORGE_BENCH_PYTHON_SPEED_S"


@functools.cache
def python_speed_s(rounds: int = 3) -> float:
    """Seconds one core takes for 10 million Python additions (best of `rounds`).

    A yardstick for comparing runs on different machines: the same code measured here in
    different sessions ran between 0.5 s and 2 s per loop, and every CPU figure scales with it.
    Measured once per process (several seconds), or taken from COPYFORGE_BENCH_PYTHON_SPEED_S."""
    if given := os.environ.get(SPEED_ENV):
        return float(given)
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "python_speed_s": python_speed_s(),
    }


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Served:
    """A running `copyforge serve` process."""

    process: subprocess.Popen[bytes]
    base_url: str
    started_at: float


@contextmanager
def serve(
    workdir: Path, env: dict[str, str] | None = None, database_url: str | None = None
) -> Iterator[Served]:
    """Start `copyforge serve` on a free port; stop it afterwards.

    It uses `database_url` when given, else a fresh SQLite file `bench.db` in `workdir`.
    """
    port = free_port()
    full_env = {
        **os.environ,
        "COPYFORGE_PORT": str(port),
        "COPYFORGE_DATABASE_URL": database_url or f"sqlite:///{workdir / 'bench.db'}",
        "COPYFORGE_LOG_LEVEL": "warning",
        # Loopback only, so the benchmarks need no API keys.
        "COPYFORGE_AUTH_REQUIRED": "false",
        **(env or {}),
    }
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "copyforge"), "serve"],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "serve.log").open("wb"),
    )
    served = Served(process, f"http://127.0.0.1:{port}", started)
    try:
        yield served
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for_http(
    url: str, process: "subprocess.Popen[Any]", what: str, timeout_s: float, poll_s: float = 0.02
) -> None:
    """Return once GET `url` answers 200; RuntimeError if `process` exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited before it answered")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within {timeout_s:g} s")
        time.sleep(poll_s)


def wait_ready(served: Served, timeout_s: float = 120) -> float:
    """Seconds from process start until /readyz answers 200."""
    wait_for_http(f"{served.base_url}/readyz", served.process, "copyforge serve", timeout_s)
    return time.perf_counter() - served.started_at
