"""Prometheus metrics, with the official client library.

With several server processes, each writes its samples to files in PROMETHEUS_MULTIPROC_DIR
(`copyforge serve --workers N` sets one up before the workers start) and a scrape of any
worker adds up all of them; with one process, the samples live in memory. The library picks
its storage when it is first imported, which is why the directory must be set before.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Milliseconds to a minute: routes answer in ms, generations with a local model in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter(
    "copyforge_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "copyforge_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
MODEL_CALLS = Counter(
    "copyforge_model_calls",
    "Model calls, by alias and outcome (`ok` or the error kind).",
    ["alias", "outcome"],
)
MODEL_TOKENS = Counter(
    "copyforge_model_tokens",
    "Model tokens, by alias and direction (`input` or `output`).",
    ["alias", "direction"],
)
LOCAL_QUEUE_DEPTH = Gauge(
    "copyforge_local_model_queue_depth",
    "Requests waiting for the embedded model, by alias (summed over processes).",
    ["alias"],
    multiprocess_mode="livesum",
)
LOCAL_QUEUE_WAIT = Histogram(
    "copyforge_local_model_wait_seconds",
    "Time a request waited for its turn on the embedded model, by alias.",
    ["alias"],
    buckets=LATENCY_BUCKETS,
)
STORE_BATCH = Histogram(
    "copyforge_store_batch_size",
    "Rows written per group-commit transaction, by store: generations (`store`) or "
    "events (`events`).",
    ["store"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
STORE_COMMIT_SECONDS = Histogram(
    "copyforge_store_commit_seconds",
    "Time of one group-commit transaction, by store.",
    ["store"],
    buckets=LATENCY_BUCKETS,
)
EVENTS = Counter(
    "copyforge_events_ingested",
    "Engagement events received, by result (`recorded`, `duplicate`, `refused`).",
    ["result"],
)


def render() -> tuple[bytes, str]:
    """The exposition text of every metric (of all processes in multiprocess mode)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Drop a finished process's live gauges (its counters stay in the sums)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
