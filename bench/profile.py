"""Where copyforge's time goes on the request path: `POST /v1/ad-slogans` under load, sampled.

The mock upstream and a real `copyforge serve` start as in bench/overhead.py (one uvicorn
worker, `COPYFORGE_EXTRA_ATTEMPTS=0`, auth off, a fresh SQLite file). A closed loop of
`--in-flight` concurrent requests (model `mock`, zero delay) warms up for 2 s, then runs for
`--seconds` while `py-spy record --nonblocking -f raw -r 200` samples the serve process.

Each sampled stack (collapsed: `root;...;leaf count`) goes to one category. Only the frames
above the event loop's runner (`Runner.run` / `asyncio_run`) count, or, in a worker thread
(the generation store's, or aiosqlite's), those from the worker loop's frame up. They are
read from the leaf down and the first frame that some category claims decides (categories
are tried in CATEGORIES order on that frame): time spent in a library goes to the library
even when copyforge's code or middleware is further down the stack, while unclaimed frames
(the standard library, pydantic, greenlet) go to whoever called them. Stacks with nothing
above the runner, and a worker thread with nothing above its loop (waiting at its queue),
count as `idle (waiting)` and stay out of the shares. py-spy (without `--idle`) already
drops threads the OS reports as sleeping, so with uvloop, whose loop has no Python frame,
those samples are the loop thread running uvloop's C code or waiting for a CPU rather than
idle.

A category's ms per request is its samples / sample rate / requests completed while
sampling. py-spy samples a thread whenever it is runnable, so on a loaded machine this
includes time spent waiting for a CPU, which gathers where the thread wakes another one
(aiosqlite's `put_nowait`, socket writes). Printed next to it for the same window: the
serve process's CPU time (/proc), its threads' run-queue wait (/proc/<pid>/task/*/schedstat)
and the CPU the mock, the load generator and py-spy used. The top functions are counted by
self samples (the sample's leaf frame), with their inclusive share alongside.

Run: `.venv/bin/python -m bench.profile [--seconds 15] [--in-flight 32]
[--output bench/results/profile.json] [--raw PATH]` (about `--seconds` + 10 s). Prints the
tables and writes the JSON; `--raw` keeps py-spy's collapsed stacks (e.g. for flamegraph.pl).
"""

import argparse
import asyncio
import json
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import uvloop

from bench.common import RESULTS_DIR, machine, serve, wait_ready
from bench.overhead import BRIEF, copyforge_env, cpu_s, mock_upstream

SAMPLE_RATE = 200  # py-spy samples per second
WARMUP_S = 2.0
# Workers (and keep-alive connections) per client: httpcore's pool costs more per request as it
# grows (one client of 32 connections spends ~4x the CPU per request of eight clients of 4).
PER_CLIENT = 4
TOP_FUNCTIONS = 15
IDLE = "idle (waiting)"
NO_PYTHON = "no Python frame"
OTHER = "other"
LOOP = "uvicorn and event loop"
# Tried in this order on each frame, from the leaf down; see `owns` for the needles.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "model call: HTTP transport",
        ("httpx_aiohttp/", "httpx2/", "httpcore2/", "httpx/", "httpcore/", "aiohttp/", "yarl/"),
    ),
    ("model call: openai SDK", ("openai/",)),
    ("database: driver", ("aiosqlite/", "psycopg/", "sqlite3/")),
    ("database: SQLAlchemy", ("sqlalchemy/", "<sqlalchemy")),
    ("prompt rendering", ("app/prompting.py", "jinja2/", ".j2")),
    ("checks and parsing", ("app/checks/", "app/kinds/parsing.py")),
    ("copyforge service", ("app/",)),
    ("FastAPI/Starlette", ("fastapi/", "starlette/")),
    (LOOP, ("uvicorn/", "uvloop/", "asyncio/", "httptools/")),
)
CATEGORY_ORDER = (*(name for name, _ in CATEGORIES), NO_PYTHON, OTHER)
# The frames that run the event loop: everything above them is a callback or a task step.
RUNNER_FRAMES = (
    ("Runner.run", "asyncio/runners.py"),
    ("run", "asyncio/runners.py"),
    ("asyncio_run", "uvicorn/_compat.py"),
    ("run_until_complete", "asyncio/base_events.py"),
)
# The loops of threads that run work handed over by the event loop.
WORKERS = (
    ("_worker", "concurrent/futures/thread.py"),  # app/generation/store.py's thread
    ("_connection_worker_thread", "aiosqlite/core.py"),
)
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


@dataclass(frozen=True)
class Frame:
    """One frame of a sampled stack."""

    function: str
    file: str
    line: int | None

    @property
    def key(self) -> tuple[str, str]:
        """The function without its line number."""
        return self.function, self.file

    def is_(self, key: tuple[str, str]) -> bool:
        """Whether this is function `key[0]` in a file whose path ends with `key[1]`."""
        return self.function == key[0] and self.file.endswith(key[1])


Stack = tuple[Frame, ...]


@dataclass
class Load:
    """What the closed loop has done so far."""

    done: int = 0
    errors: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)
    succeeded: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first success


@dataclass(frozen=True)
class Meters:
    """Counters read at each end of the sampled window."""

    at: float  # perf_counter
    done: int
    errors: int
    error_kinds: Counter[str]
    serve_cpu_s: float
    serve_wait_s: float | None  # run-queue wait of the serve process's threads
    mock_cpu_s: float
    load_generator_cpu_s: float  # this process
    children_cpu_s: float  # waited-for children of this process: py-spy once it has exited


@dataclass(frozen=True)
class Window:
    """The sampled stretch of the run: the counters at its two ends and py-spy's output."""

    before: Meters
    after: Meters
    py_spy_output: str


def parse_frame(text: str) -> Frame:
    """`function (file:line)` as a Frame (py-spy's raw format)."""
    match = FRAME.match(text)
    if match is None:
        return Frame(text, "", None)
    line = match["line"]
    return Frame(match["function"], match["file"], int(line) if line else None)


def parse_raw(text: str) -> Counter[Stack]:
    """py-spy's collapsed stacks (`root;...;leaf count` a line) as counts per stack.

    A thread sampled with no Python frame at all comes as a bare count: the empty stack.
    """
    stacks: Counter[Stack] = Counter()
    for row in text.splitlines():
        frames, _, count = row.rpartition(" ")
        if count.isdigit():
            stack = tuple(parse_frame(f) for f in frames.split(";")) if frames.strip() else ()
            stacks[stack] += int(count)
    return stacks


def above_runner(stack: Stack) -> Stack | None:
    """The frames above the innermost event-loop runner frame; None if there is none."""
    last = None
    for index, frame in enumerate(stack):
        if any(frame.is_(key) for key in RUNNER_FRAMES):
            last = index
    return None if last is None else stack[last + 1 :]


def from_worker(stack: Stack) -> Stack | None:
    """A worker thread's loop frame and those above it; None if not such a thread."""
    for index, frame in enumerate(stack):
        if any(frame.is_(key) for key in WORKERS):
            return stack[index:]
    return None


def relevant(stack: Stack) -> tuple[str, Stack]:
    """Which thread the stack is from ('loop', 'worker' or 'other') and its telling frames."""
    loop = above_runner(stack)
    if loop is not None:
        return "loop", loop
    worker = from_worker(stack)
    if worker is not None:
        return "worker", worker
    return "other", stack


def owns(needle: str, file: str) -> bool:
    """Whether a CATEGORIES needle matches a file: `.ext` as a suffix, else at a `/` boundary."""
    if needle.startswith("."):
        return file.endswith(needle)
    return f"/{needle}" in f"/{file}"


def claim(frame: Frame) -> str | None:
    """The first category with a needle that matches the frame's file, if any."""
    for name, needles in CATEGORIES:
        if any(owns(needle, frame.file) for needle in needles):
            return name
    return None


def categorize(stack: Stack) -> str:
    """The one category of a sampled stack, or IDLE (see the module docstring)."""
    if not stack:
        return NO_PYTHON
    thread, frames = relevant(stack)
    if (thread == "loop" and not frames) or (thread == "worker" and len(frames) == 1):
        return IDLE
    for frame in reversed(frames):
        name = claim(frame)
        if name is not None:
            return name
    return LOOP if thread == "loop" else OTHER


def tally(stacks: Counter[Stack]) -> Counter[str]:
    """Samples per category (IDLE included)."""
    counts: Counter[str] = Counter()
    for stack, count in stacks.items():
        counts[categorize(stack)] += count
    return counts


def top_functions(stacks: Counter[Stack], busy: int, limit: int) -> list[dict[str, Any]]:
    """The functions busy samples end in most (self), with the share they appear in at all."""
    own: Counter[tuple[str, str]] = Counter()
    inclusive: Counter[tuple[str, str]] = Counter()
    for stack, count in stacks.items():
        if not stack or categorize(stack) == IDLE:
            continue
        frames = relevant(stack)[1]
        own[frames[-1].key] += count
        for key in {frame.key for frame in frames}:
            inclusive[key] += count
    return [
        {
            "function": function,
            "file": file,
            "self_samples": samples,
            "self_share": round(samples / busy, 4),
            "inclusive_share": round(inclusive[function, file] / busy, 4),
        }
        for (function, file), samples in own.most_common(limit)
    ]


def per_request_ms(seconds: float | None, requests: int) -> float | None:
    """Seconds spread over requests, in ms per request (None if either is unknown)."""
    if seconds is None or not requests:
        return None
    return round(seconds * 1000 / requests, 3)


def category_rows(counts: Counter[str], requests: int, rate: float) -> list[dict[str, Any]]:
    """Samples, share of busy samples and sampled ms per request of every busy category."""
    busy = sum(n for name, n in counts.items() if name != IDLE)
    return [
        {
            "category": name,
            "samples": counts[name],
            "share": round(counts[name] / busy, 4) if busy else 0.0,
            "ms_per_request": per_request_ms(counts[name] / rate, requests),
        }
        for name in CATEGORY_ORDER
        if counts[name]
    ]


def runqueue_wait_s(pid: int) -> float | None:
    """Seconds the process's threads have waited for a CPU while runnable; None if unknown."""
    total = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(path.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a thread that just ended, or a kernel without schedstats
    return total / 1e9 if total else None


def py_spy_path() -> Path:
    """py-spy next to this interpreter (it is a dev dependency of the venv)."""
    path = Path(sys.executable).parent / "py-spy"
    if not path.exists():
        raise RuntimeError(f"py-spy not found at {path}; install it in the venv")
    return path


async def send(client: httpx.AsyncClient, load: Load) -> None:
    """One copyforge request; counts it as done or as an error of some kind."""
    try:
        response = await client.post("/v1/ad-slogans", json={**BRIEF, "model": "mock"})
    except httpx.HTTPError as exc:
        kind = type(exc).__name__
    else:
        if response.status_code == 201:
            load.done += 1
            load.succeeded.set()
            return
        kind = f"HTTP {response.status_code}"
    load.errors += 1
    load.error_kinds[kind] += 1


async def worker(client: httpx.AsyncClient, load: Load, stop: asyncio.Event, until: float) -> None:
    """Send back to back until `stop` is set (or the `until` perf_counter time passes)."""
    while not stop.is_set() and time.perf_counter() < until:
        await send(client, load)


async def sample(pid: int, seconds: int, raw: Path) -> str:
    """Run py-spy on `pid` for `seconds`, writing collapsed stacks to `raw`; its output."""
    process = await asyncio.create_subprocess_exec(
        str(py_spy_path()),
        "record",
        *("-p", str(pid), "-d", str(seconds), "-f", "raw", "-o", str(raw)),
        *("-r", str(SAMPLE_RATE), "--nonblocking"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=seconds + 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"py-spy failed ({process.returncode}):\n{text}")
    return text


async def warm_up(load: Load, limit_s: float = 60.0) -> None:
    """Let the loop run WARMUP_S, and on until a request has succeeded (at most `limit_s`)."""
    await asyncio.sleep(WARMUP_S)
    try:
        await asyncio.wait_for(load.succeeded.wait(), timeout=limit_s)
    except TimeoutError:
        kinds = dict(load.error_kinds)
        raise RuntimeError(f"no request succeeded while warming up: {kinds}") from None


def read_meters(load: Load, serve_pid: int, mock_pid: int) -> Meters:
    """The load's counts and the CPU (and run-queue wait) of every process involved, now."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Meters(
        at=time.perf_counter(),
        done=load.done,
        errors=load.errors,
        error_kinds=Counter(load.error_kinds),
        serve_cpu_s=cpu_s(serve_pid),
        serve_wait_s=runqueue_wait_s(serve_pid),
        mock_cpu_s=cpu_s(mock_pid),
        load_generator_cpu_s=time.process_time(),
        children_cpu_s=children.ru_utime + children.ru_stime,
    )


async def profile(
    base_url: str, pids: tuple[int, int], in_flight: int, seconds: int, raw: Path
) -> Window:
    """Warm up, then keep `in_flight` requests going while py-spy samples the serve process.

    `pids` are the serve and mock processes'.
    """
    stop = asyncio.Event()
    load = Load()
    until = time.perf_counter() + WARMUP_S + seconds + 120  # a hard bound on the loop
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=base_url,
                    limits=httpx.Limits(
                        max_connections=PER_CLIENT, max_keepalive_connections=PER_CLIENT
                    ),
                    timeout=httpx.Timeout(60.0, connect=10.0),
                )
            )
            for _ in range(-(-in_flight // PER_CLIENT))
        ]
        tasks = [
            asyncio.create_task(worker(clients[i // PER_CLIENT], load, stop, until))
            for i in range(in_flight)
        ]
        try:
            await warm_up(load)
            before = read_meters(load, *pids)
            output = await sample(pids[0], seconds, raw)
            after = read_meters(load, *pids)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
    return Window(before, after, output)


def py_spy_samples(output: str) -> int | None:
    """The sample count py-spy reports on its closing line (`Samples: N Errors: M`)."""
    match = re.search(r"Samples: (\d+)", output)
    return int(match[1]) if match else None


def analyse(window: Window, raw_text: str, args: argparse.Namespace) -> dict[str, Any]:
    """The report: categories, top functions, rates and CPU per request."""
    stacks = parse_raw(raw_text)
    counts = tally(stacks)
    busy = sum(n for name, n in counts.items() if name != IDLE)
    before, after = window.before, window.after
    requests, seconds = after.done - before.done, after.at - before.at

    def spent(meter: str) -> float | None:
        """Milliseconds per request that one Meters field grew by over the window."""
        start, end = getattr(before, meter), getattr(after, meter)
        return None if start is None or end is None else per_request_ms(end - start, requests)

    return {
        "seconds": args.seconds,
        "in_flight": args.in_flight,
        "sample_rate_hz": SAMPLE_RATE,
        "py_spy_samples": py_spy_samples(window.py_spy_output),
        "window_s": round(seconds, 3),
        "requests": requests,
        "errors": after.errors - before.errors,
        "error_kinds": dict(after.error_kinds - before.error_kinds),
        "rps": round(requests / seconds, 1),
        "cpu_ms_per_request": spent("serve_cpu_s"),
        "runqueue_wait_ms_per_request": spent("serve_wait_s"),
        "sampled_ms_per_request": per_request_ms(busy / SAMPLE_RATE, requests),
        "other_cpu_ms_per_request": {
            "mock": spent("mock_cpu_s"),
            "load_generator": spent("load_generator_cpu_s"),
            "py_spy": spent("children_cpu_s"),
        },
        "samples": {"busy": busy, "idle": counts[IDLE]},
        "categories": category_rows(counts, requests, SAMPLE_RATE),
        "top_functions": top_functions(stacks, busy, TOP_FUNCTIONS) if busy else [],
        "machine": {**machine(), "uvloop": version("uvloop"), "py_spy": version("py-spy")},
    }


def print_report(report: dict[str, Any]) -> None:
    """The category table, the rates and the top functions."""
    print(f"{'category':<32} {'samples':>8} {'share':>7} {'ms/req':>8}")
    for row in report["categories"]:
        share = f"{row['share'] * 100:.1f}%"
        print(f"{row['category']:<32} {row['samples']:>8} {share:>7} {row['ms_per_request']!s:>8}")
    busy, idle = report["samples"]["busy"], report["samples"]["idle"]
    sampled = report["sampled_ms_per_request"]
    print(f"{'busy, total':<32} {busy:>8} {'100.0%':>7} {sampled!s:>8}")
    print(f"{IDLE + ', left out':<32} {idle:>8}")
    print(
        f"\n{report['requests']} requests in {report['window_s']} s: {report['rps']} req/s, "
        f"{report['errors']} errors. Serve process per request: {sampled} ms sampled, "
        f"{report['cpu_ms_per_request']} ms on a CPU (/proc), "
        f"{report['runqueue_wait_ms_per_request']} ms runnable but waiting for one (schedstat)."
    )
    others = ", ".join(f"{k} {v} ms" for k, v in report["other_cpu_ms_per_request"].items())
    print(f"CPU per request of the other processes: {others} ({report['machine']['cpus']} CPUs).")
    print(f"\n{'top functions by self samples':<64} {'self':>6} {'incl.':>6}")
    for row in report["top_functions"]:
        name = f"{row['function']} ({row['file']})"
        own, incl = f"{row['self_share'] * 100:.1f}%", f"{row['inclusive_share'] * 100:.1f}%"
        print(f"{name[:64]:<64} {own:>6} {incl:>6}")


def main(argv: list[str] | None = None) -> None:
    """Profile the request path, print the tables and write the JSON report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=15, help="sampling time, whole seconds")
    parser.add_argument("--in-flight", type=int, default=32, help="concurrent requests")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "profile.json")
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks in this file")
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.in_flight < 1:
        parser.error("--seconds and --in-flight must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        raw = args.raw or workdir / "profile.raw"
        raw.parent.mkdir(parents=True, exist_ok=True)
        with (
            mock_upstream(workdir) as (upstream, mock_pid),
            serve(workdir, copyforge_env(upstream)) as served,
        ):
            wait_ready(served)
            pids = (served.process.pid, mock_pid)
            window = uvloop.run(profile(served.base_url, pids, args.in_flight, args.seconds, raw))
        report = analyse(window, raw.read_text(), args)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print_report(report)


if __name__ == "__main__":
    main()
