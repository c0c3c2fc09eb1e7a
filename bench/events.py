"""Events in and assignments out, through a real `copyforge serve` on a fresh SQLite file.

Starts the mock upstream and `copyforge serve` (one worker, auth off), writes three slogans
(three generations through the mock) and runs an experiment over them, then measures:

1. Ingest: `--batches` POST /v1/events of `--batch` new events each (impressions and clicks
   spread over the three variants), sent by `--ingest-in-flight` clients back to back.
   Reported: events stored per second (wall), and the server's CPU ms per 1,000 events.
2. Assignment: GET /v1/experiments/{id}/assignment with a new unit id per request, for
   `--seconds`, first one request at a time (the service time: latency with no queue), then
   `--in-flight` at once (200: latency there is mostly waiting in line behind the others).
   Both without and with `record=true` (the impression stored by group commit before the
   answer). Reported: requests/s, p50/p99 ms, server CPU ms per request.

Run: `.venv/bin/python -m bench.events [--batches 200] [--seconds 5]` (about a minute);
writes bench/results/events.json. Targets from the issue: >= 10,000 events/s ingested on
SQLite with one worker; assignment p99 <= 5 ms of service time.
"""

import argparse
import asyncio
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench.common import RESULTS_DIR, machine, serve, wait_ready
from bench.overhead import BRIEF, Sample, closed_loop, copyforge_env, cpu_s, mock_upstream

TARGET_EVENTS_PER_S = 10_000
TARGET_SERVICE_P99_MS = 5.0


def slogans(base_url: str) -> list[str]:
    """Three variant ids from three generations through the mock."""
    ids = []
    for seed in range(3):
        response = httpx.post(
            f"{base_url}/v1/ad-slogans",
            json={**BRIEF, "seed": seed},
            timeout=30,
        )
        response.raise_for_status()
        ids.append(response.json()["variants"][0]["id"])
    return ids


def running_experiment(base_url: str, variants: list[str]) -> str:
    created = httpx.post(
        f"{base_url}/v1/experiments",
        json={"name": "bench", "variant_ids": variants, "burn_in": 100},
        timeout=30,
    )
    created.raise_for_status()
    experiment_id: str = created.json()["id"]
    httpx.post(f"{base_url}/v1/experiments/{experiment_id}/start", timeout=30).raise_for_status()
    return experiment_id


def event_batches(variants: list[str], batches: int, size: int, seed: int) -> list[bytes]:
    """Bodies of new events: 95% impressions, 5% clicks, each id new."""
    rng = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    bodies = []
    for b in range(batches):
        events = [
            {
                "event_id": f"bench-{b}-{i}",
                "variant_id": rng.choice(variants),
                "type": "click" if rng.random() < 0.05 else "impression",
                "unit_id": f"u-{rng.getrandbits(40):x}",
                "occurred_at": now,
            }
            for i in range(size)
        ]
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


async def ingest(base_url: str, bodies: list[bytes], in_flight: int, pid: int) -> dict[str, Any]:
    queue = list(reversed(bodies))
    stored = [0]
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(base_url=base_url) as http:

        async def client() -> None:
            while queue:
                body = queue.pop()
                async with http.post("/v1/events", data=body, headers=headers) as response:
                    answer = await response.json()
                    if response.status != 200:
                        raise RuntimeError(f"{response.status}: {answer}")
                    stored[0] += answer["recorded"]

        cpu_before, started = cpu_s(pid), time.perf_counter()
        await asyncio.gather(*(client() for _ in range(in_flight)))
        wall, cpu = time.perf_counter() - started, cpu_s(pid) - cpu_before
    return {
        "batches": len(bodies),
        "events_stored": stored[0],
        "seconds": round(wall, 3),
        "events_per_s": round(stored[0] / wall),
        "server_cpu_ms_per_1000_events": round(cpu * 1000 / stored[0] * 1000, 2),
    }


async def assignments(
    base_url: str, experiment_id: str, in_flight: int, seconds: float, record: bool, pid: int
) -> dict[str, Any]:
    path = f"/v1/experiments/{experiment_id}/assignment"
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(base_url=base_url, connector=connector) as http:

        async def send() -> str | None:
            params = {"unit_id": uuid.uuid4().hex, "record": "true" if record else "false"}
            async with http.get(path, params=params) as response:
                await response.read()
                return None if response.status == 200 else str(response.status)

        warm = Sample()
        await closed_loop(send, in_flight, min(1.0, seconds), warm)
        sample = Sample()
        cpu_before = cpu_s(pid)
        await closed_loop(send, in_flight, seconds, sample)
        cpu = cpu_s(pid) - cpu_before
    summary = sample.summary()
    summary["server_cpu_ms_per_request"] = round(cpu * 1000 / max(1, summary["succeeded"]), 3)
    return summary


async def measure(args: argparse.Namespace, base_url: str, pid: int) -> dict[str, Any]:
    variants = slogans(base_url)
    experiment_id = running_experiment(base_url, variants)
    bodies = event_batches(variants, args.batches, args.batch, args.seed)
    results: dict[str, Any] = {
        "ingest": await ingest(base_url, bodies, args.ingest_in_flight, pid),
        "assignment": {},
    }
    for record in (False, True):
        for in_flight in (1, args.in_flight):
            name = f"{'record' if record else 'serve'}_in_flight_{in_flight}"
            results["assignment"][name] = await assignments(
                base_url, experiment_id, in_flight, args.seconds, record, pid
            )
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--ingest-in-flight", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "events.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with (
            mock_upstream(workdir) as (upstream, _),
            serve(workdir, env=copyforge_env(upstream)) as served,
        ):
            wait_ready(served)
            results = asyncio.run(measure(args, served.base_url, served.process.pid))
    service = results["assignment"]["serve_in_flight_1"]
    report = {
        "machine": machine(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "results": results,
        "targets": {
            "events_per_s": {
                "target": TARGET_EVENTS_PER_S,
                "measured": results["ingest"]["events_per_s"],
                "met": results["ingest"]["events_per_s"] >= TARGET_EVENTS_PER_S,
            },
            "assignment_service_p99_ms": {
                "target": TARGET_SERVICE_P99_MS,
                "measured": service["p99_ms"],
                "met": (service["p99_ms"] or 1e9) <= TARGET_SERVICE_P99_MS,
            },
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["results"], indent=2))
    print(json.dumps(report["targets"], indent=2))
    return report


if __name__ == "__main__":
    main()
