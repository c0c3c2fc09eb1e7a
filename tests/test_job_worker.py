"""The job seam scaled out: `copyforge serve` sends review analysis through a real Redis
broker, and a separate `copyforge worker` process runs it.

Its own SQLite file (not the database under test): a test of processes, run once."""

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.migrations import upgrade
from tests.processes import copyforge_command, running_server, server_env
from tests.servers import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _import(http: httpx.Client, import_id: str) -> dict[str, Any]:
    body: dict[str, Any] = http.get(f"/v1/reviews/imports/{import_id}").json()
    return body


@pytest.mark.skipif(not _redis_up(), reason="needs Redis on 127.0.0.1:6379")
def test_a_worker_process_analyses_what_the_server_sends(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'copyforge.db'}"
    upgrade(database_url)
    env = {
        "COPYFORGE_JOB_BROKER_URL": REDIS_URL,
        # A queue of its own: another run's tasks on the same Redis never reach this worker.
        "COPYFORGE_JOB_QUEUE": f"copyforge-test:{uuid.uuid4().hex}",
        "COPYFORGE_AUTH_REQUIRED": "false",
    }
    with running_server(database_url, tmp_path / "serve.log", env) as server:
        http = httpx.Client(base_url=server.base_url, timeout=30)
        assert http.post("/v1/products", json={"sku": "AUR-1", "name": "Aurora"}).is_success
        reviews = [
            {"sku": "AUR-1", "text": "Great grip on wet rock, I love them."},
            {"sku": "AUR-1", "text": "鞋底一个月就开胶了，太失望。"},
            {"sku": "AUR-1", "text": "Comfortable and light."},
        ]
        answer = http.post("/v1/reviews", json={"reviews": reviews})
        assert answer.status_code == 202, answer.text
        import_id = answer.json()["id"]
        # No worker yet: the server only sends; nothing analyses in its process.
        time.sleep(2)
        assert _import(http, import_id)["analysed"] == 0
        log = (tmp_path / "worker.log").open("ab")
        worker = subprocess.Popen(
            [copyforge_command(), "worker"],
            env=server_env(database_url, free_port(), env),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                body = _import(http, import_id)
                if body["status"] != "analysing" or worker.poll() is not None:
                    break
                time.sleep(0.2)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
            log.close()
        worker_log = (tmp_path / "worker.log").read_text(errors="replace")
        assert body["status"] == "analysed", f"{body}\n{worker_log[-3000:]}"
        assert body["analysed"] == 3
