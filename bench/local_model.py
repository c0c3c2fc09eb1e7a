"""The embedded model through copyforge versus llama-cpp-python called directly.

Measures, in one run on one machine:
- tokens per second of one generation through the HTTP API vs a direct llama-cpp-python call
  with the same messages, seed, temperature, max_tokens and thread count (interleaved);
- resident memory of `copyforge serve` with the model loaded;
- seconds from process start to ready, and to the first answered generation;
- the queue at 4 and 16 concurrent requests: wait (latency) percentiles and 503s.

Run: `.venv/bin/python -m bench.local_model` (add `--rounds 2` for a quick run).
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from app.llm.local import default_threads, extra_buffer_types_off, smollm2_path
from bench.common import RESULTS_DIR, machine, rss_mib, serve, wait_ready

BRIEF = {
    "product_name": "Kettle One",
    "features": ["boils a litre in three minutes", "keeps water warm for two hours"],
    "specs": {"capacity": "1.7 L", "power": "2200 W"},
    "target_customer": "tea drinkers in small flats",
    "min_words": 10,
    "max_words": 2000,
    "temperature": 0.8,
}


def direct_rate(messages: list[dict[str, str]], max_tokens: int, seed: int) -> tuple[float, int]:
    """Tokens/s of llama-cpp-python itself on the same prompt (model loaded beforehand)."""
    llama = direct_rate.llama  # type: ignore[attr-defined]
    started = time.perf_counter()
    result = llama.create_chat_completion(
        messages=messages, max_tokens=max_tokens, seed=seed, temperature=0.8
    )
    elapsed = time.perf_counter() - started
    tokens = int(result["usage"]["completion_tokens"])
    return tokens / elapsed, tokens


def api_rate(base_url: str, max_tokens: int, seed: int) -> tuple[float, int, list[dict[str, str]]]:
    """Tokens/s of one generation through POST /v1/product-descriptions, timed by the client."""
    body = {**BRIEF, "max_tokens": max_tokens, "seed": seed}
    started = time.perf_counter()
    response = httpx.post(f"{base_url}/v1/product-descriptions", json=body, timeout=300)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    data = response.json()
    prompt = data["prompt"]
    messages = [
        {"role": "system", "content": prompt["system"]},
        {"role": "user", "content": prompt["user"]},
    ]
    tokens = int(data["usage"]["output_tokens"])
    return tokens / elapsed, tokens, messages


async def queue_run(base_url: str, concurrency: int) -> dict[str, Any]:
    """`concurrency` slogan requests at once: latency percentiles and how many got 503."""
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:

        async def one(seed: int) -> tuple[int, float]:
            started = time.perf_counter()
            response = await client.post(
                "/v1/ad-slogans",
                json={"product": "Aurora shoes", "key_message": "grip", "seed": seed},
            )
            return response.status_code, time.perf_counter() - started

        results = await asyncio.gather(*(one(s) for s in range(concurrency)))
    ok = sorted(t for status, t in results if status == 201)
    return {
        "concurrency": concurrency,
        "succeeded": len(ok),
        "rejected_503": sum(1 for status, _ in results if status == 503),
        "other": sum(1 for status, _ in results if status not in (201, 503)),
        "latency_p50_s": round(statistics.median(ok), 3) if ok else None,
        "latency_max_s": round(ok[-1], 3) if ok else None,
    }


def main() -> None:
    """Run everything and print a table; write bench/results/local_model.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()

    from llama_cpp import Llama

    model = smollm2_path()
    assert model is not None, "install the [local] extra"
    threads = default_threads()
    report: dict[str, Any] = {
        "machine": machine(),
        "model": model.name,
        "threads": threads,
        "rounds": args.rounds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        # One attempt per variant, so the API does exactly the work of one direct call.
        env = {"COPYFORGE_EXTRA_ATTEMPTS": "0"}
        with serve(Path(tmp), env) as served:
            report["seconds_to_ready"] = round(wait_ready(served), 3)
            first = httpx.post(
                f"{served.base_url}/v1/ad-slogans",
                json={"product": "Aurora", "key_message": "grip"},
                timeout=300,
            )
            first.raise_for_status()
            report["seconds_to_first_generation"] = round(
                time.perf_counter() - served.started_at, 3
            )
            report["serve_rss_mib_model_loaded"] = round(rss_mib(served.process.pid), 1)

            with extra_buffer_types_off():  # as the service loads it
                direct_rate.llama = Llama(  # type: ignore[attr-defined]
                    model_path=str(model), n_ctx=2048, n_threads=threads, verbose=False
                )
            api_rates, direct_rates = [], []
            for round_ in range(args.rounds):
                seed = 100 + round_
                rate, api_tokens, messages = api_rate(served.base_url, args.max_tokens, seed)
                api_rates.append(rate)
                rate, direct_tokens = direct_rate(messages, args.max_tokens, seed)
                direct_rates.append(rate)
                # Same seed, prompt and settings: both wrote the same number of tokens.
                assert api_tokens == direct_tokens, (api_tokens, direct_tokens)
            del direct_rate.llama  # type: ignore[attr-defined]
            report["api_tokens_per_s"] = round(statistics.median(api_rates), 1)
            report["direct_tokens_per_s"] = round(statistics.median(direct_rates), 1)
            report["api_share_of_direct"] = round(
                report["api_tokens_per_s"] / report["direct_tokens_per_s"], 3
            )
            report["queue"] = [asyncio.run(queue_run(served.base_url, c)) for c in (4, 16)]
            report["serve_rss_mib_after_load"] = round(rss_mib(served.process.pid), 1)

    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "local_model.json").write_text(json.dumps(report, indent=2))
    print(f"model {report['model']}, {threads} threads, {args.rounds} rounds")
    rows = [
        ("seconds to /readyz 200", report["seconds_to_ready"]),
        ("seconds to first generation", report["seconds_to_first_generation"]),
        ("serve RSS with model loaded (MiB)", report["serve_rss_mib_model_loaded"]),
        ("tokens/s through the API (median)", report["api_tokens_per_s"]),
        ("tokens/s llama-cpp-python direct (median)", report["direct_tokens_per_s"]),
        ("API / direct", report["api_share_of_direct"]),
    ]
    for name, value in rows:
        print(f"{name:<44} {value}")
    print(f"{'concurrency':>11} {'ok':>4} {'503':>4} {'p50 s':>7} {'max s':>7}")
    for q in report["queue"]:
        print(
            f"{q['concurrency']:>11} {q['succeeded']:>4} {q['rejected_503']:>4} "
            f"{q['latency_p50_s']!s:>7} {q['latency_max_s']!s:>7}"
        )


if __name__ == "__main__":
    main()
