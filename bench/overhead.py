"""copyforge's own cost as a gateway: the same chat completion sent straight to an
OpenAI-compatible upstream (the official `openai` SDK, AsyncOpenAI) and through copyforge's
`POST /v1/ad-slogans` (n=1, stored in a fresh SQLite file), in one run.

The mock upstream (tests/mock_upstream.py) and a real `copyforge serve` (one uvicorn worker,
`COPYFORGE_EXTRA_ATTEMPTS=0`, auth off) run as their own processes; the load generator runs
here (uvloop; aiohttp for copyforge; for the mock, the SDK over its aiohttp transport, called
exactly as copyforge calls it). The direct requests replay the exact messages and max_tokens
copyforge rendered for the brief. Scenarios:

1. `fixed_rate`: open loop at 100 requests/s; latency counts from each request's *scheduled*
   send time (no coordinated omission). Direct and copyforge alternate in 2 s blocks.
2. `saturation`: 32 requests in flight against a zero-delay upstream; requests/s achieved.
   Direct and copyforge alternate in 2.5 s blocks.
3. `slow_upstream`: upstream model `mock-1+delay=1.5`, 500 in flight, 2,000 requests (or 15 s)
   per side: completed requests/s and errors.

Also reported per scenario: CPU milliseconds per copyforge request of the copyforge, mock and
load-generator processes (on 2 cores, whichever nears 1,000 ms/s caps the rate).

Run: `.venv/bin/python -m bench.overhead` (about a minute; `--quick` for a seconds-long
smoke run). Prints a table and writes bench/results/overhead.json.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import openai
import uvloop

from app.llm.openai_compat import parse_completion
from bench.common import RESULTS_DIR, free_port, machine, serve, wait_for_http, wait_ready

BRIEF = {"product": "Aurora trail running shoes", "key_message": "grip on wet rock", "n": 1}
SLOW_MODEL = "mock-1+delay=1.5"
TARGETS = {
    "fixed_rate_overhead_p50_ms": 3.0,
    "fixed_rate_overhead_p99_ms": 10.0,
    "saturation_copyforge_rps": 400.0,
    "slow_upstream_copyforge_rps": 300.0,
}

Send = Callable[[], Awaitable[str | None]]  # one request; None, or what went wrong


@dataclass(frozen=True)
class Plan:
    """Sizes of one run (the full run, or `--quick`)."""

    rate: float = 100.0
    rate_block_s: float = 2.0
    rate_blocks: int = 5  # per side
    saturation_in_flight: int = 32
    saturation_block_s: float = 2.5
    saturation_blocks: int = 4  # per side
    slow_in_flight: int = 500
    slow_total: int = 2000
    slow_limit_s: float = 15.0


QUICK = Plan(
    rate=50,
    rate_block_s=0.4,
    rate_blocks=1,
    saturation_in_flight=8,
    saturation_block_s=0.4,
    saturation_blocks=1,
    slow_in_flight=20,
    slow_total=20,
    slow_limit_s=5,
)


@dataclass
class Sample:
    """What one side of a scenario measured."""

    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        done = len(self.latencies_s)
        return {
            "requests": done + self.errors,
            "succeeded": done,
            "errors": self.errors,
            "error_kinds": dict(self.error_kinds),
            "seconds": round(self.elapsed_s, 3),
            "rps": round(done / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            **{f"p{q}_ms": percentile_ms(self.latencies_s, q) for q in (50, 95, 99)},
        }


def percentile_ms(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of seconds, in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank] * 1000, 2)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def record(send: Send, scheduled: float, sample: Sample) -> None:
    """Send one request; its latency counts from when it was due, not when it went out."""
    try:
        error = await send()
    except (aiohttp.ClientError, TimeoutError, openai.OpenAIError) as exc:
        error = type(exc).__name__
    if error is None:
        sample.latencies_s.append(time.perf_counter() - scheduled)
    else:
        sample.errors += 1
        sample.error_kinds[error] += 1


async def open_loop(send: Send, rate: float, duration_s: float, sample: Sample) -> None:
    """Send at fixed times (rate per second) whatever the answers do."""
    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * duration_s)):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(record(send, due, sample)))
    await asyncio.gather(*tasks)
    sample.elapsed_s += time.perf_counter() - start


async def closed_loop(
    send: Send, in_flight: int, duration_s: float, sample: Sample, total: int | None = None
) -> None:
    """`in_flight` workers send back to back until `duration_s` or `total` requests."""
    start = time.perf_counter()
    deadline = start + duration_s
    budget = [total if total is not None else 1 << 62]

    async def worker() -> None:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            await record(send, time.perf_counter(), sample)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    sample.elapsed_s += time.perf_counter() - start


@dataclass
class Sides:
    """The two ways of sending the same completion."""

    direct: Callable[[str], Send]  # by upstream model name
    copyforge: Callable[[str], Send]  # by copyforge alias
    serve_pid: int
    mock_pid: int


async def scenario(
    sides: Sides, run: Callable[[Send, Sample], Awaitable[None]], blocks: int, slow: bool
) -> dict[str, Any]:
    """Alternate blocks of `run` direct / through copyforge; summarise both and the overhead."""
    direct, via = Sample(), Sample()
    cpu = {"serve": 0.0, "mock": 0.0, "load_generator": 0.0}
    for _ in range(blocks):
        await run(sides.direct(SLOW_MODEL if slow else "mock-1"), direct)
        before = cpu_s(sides.serve_pid), cpu_s(sides.mock_pid), time.process_time()
        await run(sides.copyforge("slow" if slow else "mock"), via)
        cpu["serve"] += cpu_s(sides.serve_pid) - before[0]
        cpu["mock"] += cpu_s(sides.mock_pid) - before[1]
        cpu["load_generator"] += time.process_time() - before[2]
    result: dict[str, Any] = {"direct": direct.summary(), "copyforge": via.summary()}
    result["overhead_ms"] = {
        f"p{q}": round(result["copyforge"][f"p{q}_ms"] - result["direct"][f"p{q}_ms"], 2)
        if None not in (result["copyforge"][f"p{q}_ms"], result["direct"][f"p{q}_ms"])
        else None
        for q in (50, 95, 99)
    }
    done = max(1, len(via.latencies_s) + via.errors)
    result["cpu_ms_per_request"] = {k: round(v * 1000 / done, 2) for k, v in cpu.items()}
    return result


@contextmanager
def mock_upstream(workdir: Path) -> Iterator[tuple[str, int]]:
    """The mock upstream in its own process (one uvicorn worker); yields its /v1 URL and pid."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.mock_upstream", "--port", str(port)],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "mock.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_http(f"{base}/models", process, "the mock upstream", timeout_s=30)
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def copyforge_env(upstream: str) -> dict[str, str]:
    """copyforge with the mock as its models: `mock` (no delay) and `slow` (1.5 s)."""
    models = {
        alias: {"provider": "openai_compat", "base_url": upstream, "model": model}
        for alias, model in (("mock", "mock-1"), ("slow", SLOW_MODEL))
    }
    return {
        "COPYFORGE_EXTRA_ATTEMPTS": "0",
        "COPYFORGE_MODELS": json.dumps(models),
        "COPYFORGE_DEFAULT_MODEL": "mock",
    }


async def measure(plan: Plan, upstream: str, base_url: str, pids: tuple[int, int]) -> Any:
    """Every scenario, against running copyforge and mock processes."""
    connections = max(plan.saturation_in_flight, plan.slow_in_flight)
    timeout = aiohttp.ClientTimeout(total=60, connect=10)
    async with (
        aiohttp.ClientSession(
            base_url=base_url,
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=timeout,
        ) as http,
        openai.AsyncOpenAI(
            base_url=upstream,
            api_key="not-needed",
            max_retries=0,
            timeout=60.0,
            # The SDK's aiohttp transport, as copyforge uses it: the load generator's own cost
            # per request is a third of the default client's, so less of it competes for
            # the 2 cores.
            http_client=openai.DefaultAioHttpClient(
                limits=httpx2.Limits(max_connections=connections)
            ),
        ) as sdk,
    ):
        async with http.post("/v1/ad-slogans", json=BRIEF) as first:
            first.raise_for_status()
            stored = await first.json()
        prompt, options = stored["prompt"], stored["options"]
        messages: Any = [
            {"role": "system", "content": prompt["system"]},
            {"role": "user", "content": prompt["user"]},
        ]
        max_tokens = options["max_tokens"]

        def direct(model: str) -> Send:
            body = {"model": model, "messages": messages, "max_tokens": max_tokens}

            async def send() -> str | None:
                # Exactly copyforge's call (app/llm/openai_compat.py), so the difference
                # between the sides is copyforge and not two ways of using the SDK.
                raw = await sdk.post("/chat/completions", body=body, cast_to=httpx2.Response)
                return None if parse_completion(raw.content).text else "empty answer"

            return send

        def copyforge(alias: str) -> Send:
            async def send() -> str | None:
                async with http.post("/v1/ad-slogans", json={**BRIEF, "model": alias}) as answer:
                    body = await answer.read()
                    if answer.status == 201:
                        return None
                    return f"HTTP {answer.status} {json.loads(body)['error']['type']}"

            return send

        sides = Sides(direct, copyforge, *pids)
        # Warm both paths (connections, caches) before anything is timed.
        await closed_loop(direct("mock-1"), 8, 0.5, Sample())
        await closed_loop(copyforge("mock"), 8, 0.5, Sample())

        async def fixed(send: Send, sample: Sample) -> None:
            await open_loop(send, plan.rate, plan.rate_block_s, sample)

        async def saturate(send: Send, sample: Sample) -> None:
            await closed_loop(send, plan.saturation_in_flight, plan.saturation_block_s, sample)

        async def slow(send: Send, sample: Sample) -> None:
            await closed_loop(send, plan.slow_in_flight, plan.slow_limit_s, sample, plan.slow_total)

        return {
            "fixed_rate": await scenario(sides, fixed, plan.rate_blocks, slow=False),
            "saturation": await scenario(sides, saturate, plan.saturation_blocks, slow=False),
            "slow_upstream": await scenario(sides, slow, 1, slow=True),
        }


def verdicts(scenarios: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of the issue with the measured value and whether it is met."""
    rate, sat, slow = (scenarios[k] for k in ("fixed_rate", "saturation", "slow_upstream"))
    measured = {
        "fixed_rate_overhead_p50_ms": rate["overhead_ms"]["p50"],
        "fixed_rate_overhead_p99_ms": rate["overhead_ms"]["p99"],
        "saturation_copyforge_rps": sat["copyforge"]["rps"],
        "slow_upstream_copyforge_rps": slow["copyforge"]["rps"],
    }
    out = {}
    for name, target in TARGETS.items():
        value = measured[name]
        met = value is not None and (value <= target if name.endswith("_ms") else value >= target)
        if name.startswith("slow_upstream"):
            met = met and slow["copyforge"]["errors"] == 0
        out[name] = {"target": target, "measured": value, "met": met}
    return out


def print_table(report: dict[str, Any]) -> None:
    """The scenarios side by side, then the targets."""
    head = f"{'scenario':<14} {'side':<10} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    print(f"{head} {'req/s':>7} {'errors':>6} {'cpu ms/req':>10}")
    for name, result in report["scenarios"].items():
        for side in ("direct", "copyforge", "overhead"):
            if side == "overhead":
                row = {f"p{q}_ms": result["overhead_ms"][f"p{q}"] for q in (50, 95, 99)}
                cpu = f"{result['cpu_ms_per_request']['serve']} serve"
            else:
                row, cpu = result[side], ""
            cells = " ".join(f"{row[f'p{q}_ms']!s:>8}" for q in (50, 95, 99))
            rps, errors = row.get("rps", ""), row.get("errors", "")
            print(f"{name:<14} {side:<10} {cells} {rps!s:>7} {errors!s:>6} {cpu:>10}")
    for name, verdict in report["targets"].items():
        mark = "met" if verdict["met"] else "MISSED"
        target, measured = verdict["target"], verdict["measured"]
        print(f"{name:<30} target {target:>6} measured {measured!s:>8} {mark}")


def main(argv: list[str] | None = None) -> None:
    """Run every scenario, print the table and write bench/results/overhead.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "overhead.json")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else Plan()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with (
            mock_upstream(workdir) as (upstream, mock_pid),
            serve(workdir, copyforge_env(upstream)) as served,
        ):
            wait_ready(served)
            pids = (served.process.pid, mock_pid)
            scenarios = uvloop.run(measure(plan, upstream, served.base_url, pids))
    report = {
        "quick": args.quick,
        "plan": plan.__dict__,
        "machine": machine(),
        "scenarios": scenarios,
        "targets": verdicts(scenarios),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print_table(report)


if __name__ == "__main__":
    main()
