"""GET /metrics: the Prometheus text format, counting what happened, for admins only, and
summed over every worker process of `copyforge serve --workers 2`."""

import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from tests.mock_upstream import create_mock_app
from tests.payloads import PATHS, brief
from tests.processes import running_server
from tests.servers import serve_in_thread
from tests.test_auth import bearer, new_key, serving
from tests.test_events import event, variant_ids

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(all_samples: Samples, name: str, **labels: str) -> float:
    return all_samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    answer = await client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


async def test_metrics_count_requests_model_calls_stores_and_events(
    client: httpx.AsyncClient,
) -> None:
    # The metrics live in this test process, shared by every test: compare before and after.
    before = await scrape(client)
    made = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", n=1))
    assert made.status_code == 201, made.text
    usage = made.json()["usage"]
    variant = made.json()["variants"][0]["id"]
    answer = await client.post(
        "/v1/events",
        json={"events": [event("m1", variant), event("m2", variant, "click"), event("m3", "none")]},
    )
    assert answer.json()["recorded"] == 2
    assert (await client.get("/no/such/path")).status_code == 404
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    route = {"route": "/v1/ad-slogans", "method": "POST"}
    assert delta("copyforge_http_requests_total", **route, status="201") == 1
    assert delta("copyforge_http_request_duration_seconds_count", **route) == 1
    assert (
        delta("copyforge_http_requests_total", route="unmatched", method="GET", status="404") == 1
    )
    assert delta("copyforge_model_calls_total", alias="fake", outcome="ok") >= 1
    assert (
        delta("copyforge_model_tokens_total", alias="fake", direction="input")
        == usage["input_tokens"]
    )
    assert (
        delta("copyforge_model_tokens_total", alias="fake", direction="output")
        == usage["output_tokens"]
    )
    assert delta("copyforge_store_batch_size_count", store="store") >= 1
    assert delta("copyforge_store_batch_size_sum", store="events") == 2
    assert delta("copyforge_store_commit_seconds_count", store="events") == 1
    assert delta("copyforge_events_ingested_total", result="recorded") == 2
    assert delta("copyforge_events_ingested_total", result="refused") == 1


async def test_only_admin_keys_read_metrics(database_url: str) -> None:
    settings = Settings(auth_required=True, database_url=database_url, models={})
    async with serving(settings) as (_, api):
        reader = bearer(await new_key(settings, "acme", scopes="read"))
        admin = bearer(await new_key(settings, "acme", scopes="admin"))
        assert (await api.get("/metrics")).status_code == 401
        assert (await api.get("/metrics", headers=reader)).status_code == 403
        assert (await api.get("/metrics", headers=admin)).status_code == 200


async def test_ids_never_become_labels(client: httpx.AsyncClient) -> None:
    [variant, *_] = await variant_ids(client)
    await client.get(f"/v1/generations/{variant}")
    text = (await client.get("/metrics")).text
    assert variant not in text
    assert 'route="/v1/generations/{generation_id}"' in text


def _worker_metrics_dirs(parent_pid: int) -> set[str]:
    """The metrics directory the server's worker processes were started with (Linux /proc:
    the parent sets it after its own start, so only its children show it)."""
    children = Path(f"/proc/{parent_pid}/task/{parent_pid}/children").read_text().split()
    found = set()
    for child in children:
        for entry in Path(f"/proc/{child}/environ").read_bytes().split(b"\0"):
            if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                found.add(entry.split(b"=", 1)[1].decode())
    return found


def test_every_worker_is_counted(tmp_path: Path) -> None:
    with serve_in_thread(create_mock_app()) as upstream:
        models = {"mock": {"provider": "openai_compat", "base_url": f"{upstream}/v1",
                           "model": "mock-1"}}  # fmt: skip
        env = {
            "COPYFORGE_WORKERS": "2",
            "COPYFORGE_AUTH_REQUIRED": "false",
            "COPYFORGE_MODELS": json.dumps(models),
            "COPYFORGE_DEFAULT_MODEL": "mock",
        }
        url = f"sqlite:///{tmp_path / 'metrics.db'}"
        with running_server(url, tmp_path / "serve.log", env) as served:
            for n in range(20):
                # A new connection each time, so both workers take some.
                answer = httpx.post(
                    f"{served.base_url}{PATHS['ad_slogan']}",
                    json=brief("ad_slogan", n=1, seed=n),
                    timeout=30,
                )
                assert answer.status_code == 201, answer.text
            for _ in range(6):
                # Whichever worker answers the scrape, it sums both.
                scraped = httpx.get(f"{served.base_url}/metrics", timeout=30).text
                total = value(
                    samples(scraped),
                    "copyforge_http_requests_total",
                    route="/v1/ad-slogans",
                    method="POST",
                    status="201",
                )
                assert total == 20, scraped[-2000:]
            [directory] = _worker_metrics_dirs(served.process.pid)
            # One file of counters per worker process that counted something.
            writers = {
                path.stem.rsplit("_", 1)[-1] for path in Path(directory).glob("counter_*.db")
            }
            assert len(writers) == 2, writers


async def test_impressions_recorded_by_an_assignment_count_as_events(
    client: httpx.AsyncClient,
) -> None:
    variants = await variant_ids(client)
    created = await client.post("/v1/experiments", json={"name": "m", "variant_ids": variants})
    experiment = created.json()["id"]
    assert (await client.post(f"/v1/experiments/{experiment}/start")).status_code == 200
    before = await scrape(client)
    path = f"/v1/experiments/{experiment}/assignment"
    for _ in range(2):  # the same unit on the same day: one impression, then a duplicate
        assert (await client.get(path, params={"unit_id": "u", "record": "true"})).is_success
    after = await scrape(client)
    for result in ("recorded", "duplicate"):
        name = "copyforge_events_ingested_total"
        assert value(after, name, result=result) - value(before, name, result=result) == 1
