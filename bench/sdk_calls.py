"""What one chat completion costs the caller, by the way the `openai` SDK is called.

The mock upstream (tests/mock_upstream.py, its own process) answers; this process sends
`--calls` completions, `--in-flight` at a time, each way in turn, and reports this process's
CPU milliseconds per call and the calls per second:

1. `create, default client`: `chat.completions.create` on the SDK's default HTTP client;
2. `create, aiohttp`: the same on the SDK's aiohttp transport (`DefaultAioHttpClient`);
3. `post, aiohttp, typed`: `client.post("/chat/completions", cast_to=ChatCompletion)`;
4. `post, aiohttp, raw`: `cast_to=httpx2.Response`, read by `parse_completion` (copyforge's way);
5. `aiohttp, no SDK`: the same request with plain aiohttp (what a thinner client would cost).

Run: `.venv/bin/python -m bench.sdk_calls [--calls 3000] [--in-flight 32]`. Prints a table
and writes bench/results/sdk_calls.json.
"""

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx2
import openai
import uvloop
from openai.types.chat import ChatCompletion

from app.llm.openai_compat import parse_completion
from bench.common import RESULTS_DIR, machine
from bench.overhead import mock_upstream

MESSAGES: Any = [
    {"role": "system", "content": "You write advertising slogans. " * 20},
    {"role": "user", "content": "Aurora trail running shoes: grip on wet rock. " * 8},
]
BODY = {"model": "mock-1", "messages": MESSAGES, "max_tokens": 60}
Call = Callable[[], Awaitable[str]]


async def timed(call: Call, calls: int, in_flight: int) -> dict[str, float]:
    """CPU ms per call and calls per second for `calls` calls, `in_flight` at a time."""
    remaining = iter(range(calls))

    async def worker() -> None:
        for _ in remaining:
            if not await call():
                raise RuntimeError("empty answer")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    elapsed = time.perf_counter() - wall
    return {
        "cpu_ms_per_call": round((time.process_time() - cpu) * 1000 / calls, 3),
        "calls_per_s": round(calls / elapsed, 1),
    }


def sdk(upstream: str, aio: bool) -> openai.AsyncOpenAI:
    """An SDK client for the mock, on its default or its aiohttp transport."""
    extra: dict[str, Any] = {"http_client": openai.DefaultAioHttpClient()} if aio else {}
    return openai.AsyncOpenAI(base_url=upstream, api_key="x", max_retries=0, **extra)


async def measure(upstream: str, calls: int, in_flight: int) -> dict[str, dict[str, float]]:
    """Every way, warmed up first, in one run."""
    async with (
        sdk(upstream, aio=False) as default,
        sdk(upstream, aio=True) as aio,
        aiohttp.ClientSession() as session,
    ):

        async def create_default() -> str:
            answer = await default.chat.completions.create(**BODY)
            return answer.choices[0].message.content or ""

        async def create_aio() -> str:
            answer = await aio.chat.completions.create(**BODY)
            return answer.choices[0].message.content or ""

        async def post_typed() -> str:
            answer = await aio.post("/chat/completions", body=BODY, cast_to=ChatCompletion)
            return answer.choices[0].message.content or ""

        async def post_raw() -> str:
            raw = await aio.post("/chat/completions", body=BODY, cast_to=httpx2.Response)
            return parse_completion(raw.content).text

        async def plain() -> str:
            async with session.post(f"{upstream}/chat/completions", json=BODY) as response:
                response.raise_for_status()
                return parse_completion(await response.read()).text

        ways = {
            "create, default client": create_default,
            "create, aiohttp": create_aio,
            "post, aiohttp, typed": post_typed,
            "post, aiohttp, raw": post_raw,
            "aiohttp, no SDK": plain,
        }
        results = {}
        for name, call in ways.items():
            await timed(call, min(300, calls), in_flight)
            results[name] = await timed(call, calls, in_flight)
        return results


def main(argv: list[str] | None = None) -> None:
    """Measure, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "sdk_calls.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, mock_upstream(Path(tmp)) as (upstream, _):
        results = uvloop.run(measure(upstream, args.calls, args.in_flight))
    report = {"calls": args.calls, "in_flight": args.in_flight, "results": results}
    report["machine"] = machine()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(f"{'way':<24} {'CPU ms/call':>11} {'calls/s':>8}")
    for name, figures in results.items():
        print(f"{name:<24} {figures['cpu_ms_per_call']:>11} {figures['calls_per_s']:>8}")


if __name__ == "__main__":
    main()
