"""Workspaces, API keys, scopes and per-key limits (in memory and in Redis)."""

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth import keys
from app.auth.principal import is_loopback
from app.config import Settings
from app.db import Database
from app.generation.plan import Order, make_plan
from app.kinds.ad_slogan import AD_SLOGAN, AdSloganRequest
from app.llm.registry import ModelRegistry
from app.main import create_app
from tests.fakes import FakeLLM, default_script, failing
from tests.payloads import PATHS, brief
from tests.processes import answers, copyforge_command
from tests.servers import free_port

REDIS_URL = "redis://127.0.0.1:6379/15"


async def new_key(
    settings: Settings, workspace: str, scopes: str = "generate,rate,read,admin", **limits: Any
) -> str:
    database = Database(settings)
    try:
        async with database.write_sessions() as session:
            created = await keys.create_key(
                session, workspace_id=workspace, scopes=keys.parse_scopes(scopes), **limits
            )
            await session.commit()
    finally:
        await database.dispose()
    return created.secret


@pytest.fixture
def auth_settings(database_url: str) -> Settings:
    return Settings(auth_required=True, database_url=database_url, models={})


@asynccontextmanager
async def serving(
    settings: Settings, llm: FakeLLM | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with a fake model (started), and a client over ASGI from loopback."""
    app = create_app(
        settings, registry=ModelRegistry.from_clients({"fake": llm or FakeLLM()}, "fake")
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield app, http


async def started(settings: Settings) -> AsyncGenerator[httpx.AsyncClient, None]:
    async with serving(settings) as (_, http):
        yield http


@pytest.fixture
async def api(auth_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for http in started(auth_settings):
        yield http


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


PROTECTED = [
    ("POST", PATHS["ad_slogan"]),
    ("GET", "/v1/generations"),
    ("GET", "/v1/generations/x"),
    ("DELETE", "/v1/generations/x"),
    ("PUT", "/v1/variants/x/rating"),
    ("GET", "/v1/stats"),
    ("GET", "/v1/models"),
    ("GET", "/v1/templates"),
]


class TestKeys:
    @pytest.mark.parametrize(("method", "path"), PROTECTED)
    async def test_no_key_is_401(self, api: httpx.AsyncClient, method: str, path: str) -> None:
        response = await api.request(method, path, json={"score": 3})
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        "header", ["Bearer nope", "Bearer cf_123456789012_wrong", "Basic abc", "Bearer "]
    )
    async def test_bad_keys_are_401(self, api: httpx.AsyncClient, header: str) -> None:
        response = await api.get("/v1/generations", headers={"Authorization": header})
        assert response.status_code == 401

    async def test_health_and_docs_stay_public(self, api: httpx.AsyncClient) -> None:
        for path in ("/healthz", "/readyz", "/docs", "/openapi.json"):
            assert (await api.get(path)).status_code == 200

    async def test_revoked_key_stops_working(
        self, auth_settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from app.auth import principal

        monkeypatch.setattr(principal, "CACHE_TTL_S", 0.0)
        key = await new_key(auth_settings, "acme")
        async for api in started(auth_settings):
            assert (await api.get("/v1/generations", headers=bearer(key))).status_code == 200
            database = Database(auth_settings)
            async with database.write_sessions() as session:
                await keys.revoke_key(session, key_id_or_prefix=keys.prefix_of(key) or "")
                await session.commit()
            await database.dispose()
            assert (await api.get("/v1/generations", headers=bearer(key))).status_code == 401

    async def test_keys_are_stored_hashed(self, auth_settings: Settings) -> None:
        key = await new_key(auth_settings, "acme")
        database = Database(auth_settings)
        async with database.read_sessions() as session:
            stored = await keys.list_keys(session)
        await database.dispose()
        assert [k.secret_hash for k in stored] == [hashlib.sha256(key.encode()).hexdigest()]
        secret = key.removeprefix("cf_").split("_", 1)[1]  # the part after the prefix
        assert len(secret) >= 30
        assert all(secret not in k.secret_hash and secret not in k.name for k in stored)


class TestWorkspaces:
    async def test_another_workspace_sees_and_touches_nothing(
        self, api: httpx.AsyncClient, auth_settings: Settings
    ) -> None:
        mine = bearer(await new_key(auth_settings, "acme"))
        theirs = bearer(await new_key(auth_settings, "globex"))
        created = (
            await api.post(
                PATHS["ad_slogan"],
                json=brief("ad_slogan"),
                headers={**mine, "Idempotency-Key": "shared-key"},
            )
        ).json()
        gid, vid = created["id"], created["variants"][0]["id"]

        assert (await api.get(f"/v1/generations/{gid}", headers=theirs)).status_code == 404
        assert (await api.get("/v1/generations", headers=theirs)).json()["items"] == []
        replay = await api.post(
            PATHS["ad_slogan"],
            json=brief("ad_slogan"),
            headers={**mine, "Idempotency-Key": "shared-key"},
        )
        assert replay.json()["id"] == gid
        rating = await api.put(f"/v1/variants/{vid}/rating", json={"score": 1}, headers=theirs)
        assert rating.status_code == 404
        assert (await api.delete(f"/v1/generations/{gid}", headers=theirs)).status_code == 404
        assert (await api.get("/v1/stats", headers=theirs)).json()["groups"] == []
        # The same Idempotency-Key in another workspace is another key: with another body
        # it is neither refused (422, as a reuse of mine would be) nor a replay of mine.
        own = await api.post(
            PATHS["ad_slogan"],
            json=brief("ad_slogan", product="Globex kettle"),
            headers={**theirs, "Idempotency-Key": "shared-key"},
        )
        assert own.status_code == 201, own.text
        assert "idempotent-replayed" not in own.headers
        assert own.json()["id"] != gid
        assert own.json()["input"]["product"] == "Globex kettle"
        listed = (await api.get("/v1/generations", headers=theirs)).json()["items"]
        assert [g["id"] for g in listed] == [own.json()["id"]]

        detail = (await api.get(f"/v1/generations/{gid}", headers=mine)).json()
        assert detail["variants"][0]["ratings"] == []
        stats = (await api.get("/v1/stats", headers=mine)).json()["groups"]
        assert [(g["key"], g["count"]) for g in stats] == [("ad_slogan", 1)]

    async def test_rater_defaults_to_the_key(
        self, api: httpx.AsyncClient, auth_settings: Settings
    ) -> None:
        mine = bearer(await new_key(auth_settings, "acme"))
        created = (await api.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=mine)).json()
        url = f"/v1/variants/{created['variants'][0]['id']}/rating"
        first = (await api.put(url, json={"score": 2}, headers=mine)).json()
        second = (await api.put(url, json={"score": 5}, headers=mine)).json()
        assert first["id"] == second["id"]
        assert first["rater"] not in ("anonymous", None)


class TestScopes:
    async def test_read_only_key(self, api: httpx.AsyncClient, auth_settings: Settings) -> None:
        admin = bearer(await new_key(auth_settings, "acme"))
        reader = bearer(await new_key(auth_settings, "acme", "read"))
        created = (
            await api.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=admin)
        ).json()
        vid = created["variants"][0]["id"]
        assert (
            await api.get(f"/v1/generations/{created['id']}", headers=reader)
        ).status_code == 200
        denied = [
            await api.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=reader),
            await api.put(f"/v1/variants/{vid}/rating", json={"score": 3}, headers=reader),
            await api.delete(f"/v1/generations/{created['id']}", headers=reader),
        ]
        assert [r.status_code for r in denied] == [403, 403, 403]
        assert denied[0].json()["error"]["type"] == "forbidden"
        # Refused means untouched: no new generation, no rating, nothing deleted.
        listed = (await api.get("/v1/generations", headers=admin)).json()["items"]
        assert [g["id"] for g in listed] == [created["id"]]
        assert listed[0]["variants"][0]["ratings"] == []

    async def test_delete_needs_admin(
        self, api: httpx.AsyncClient, auth_settings: Settings
    ) -> None:
        writer = bearer(await new_key(auth_settings, "acme", "generate,rate,read"))
        created = (
            await api.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=writer)
        ).json()
        assert (
            await api.delete(f"/v1/generations/{created['id']}", headers=writer)
        ).status_code == 403
        assert (
            await api.get(f"/v1/generations/{created['id']}", headers=writer)
        ).status_code == 200

    def test_unknown_scope_is_refused(self) -> None:
        with pytest.raises(Exception, match="Scopes must be"):
            keys.parse_scopes("generate,superuser")


class TestLimits:
    async def test_requests_per_minute(
        self, api: httpx.AsyncClient, auth_settings: Settings
    ) -> None:
        key = bearer(await new_key(auth_settings, "acme", requests_per_minute=3))
        responses = [await api.get("/v1/generations", headers=key) for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 200, 429]
        assert responses[0].headers["x-ratelimit-limit"] == "3"
        assert responses[0].headers["x-ratelimit-remaining"] == "2"
        limited = responses[3]
        assert limited.json()["error"]["type"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["x-ratelimit-remaining"] == "0"

    async def test_two_instances_share_limits_through_redis(self, database_url: str) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        settings = Settings(
            auth_required=True, database_url=database_url, models={}, redis_url=REDIS_URL
        )
        key = bearer(await new_key(settings, "acme", requests_per_minute=4))
        statuses = []
        first_app, second_app = started(settings), started(settings)
        one, two = await anext(first_app), await anext(second_app)
        for http in (one, two, one, two, one):
            statuses.append((await http.get("/v1/generations", headers=key)).status_code)
        for generator in (first_app, second_app):
            await generator.aclose()
        assert statuses == [200, 200, 200, 200, 429]


class TestTokenBudget:
    """Tokens are reserved before the model runs (every call a request may make, each with
    its prompt and max_tokens) and settled to what was spent afterwards."""

    @staticmethod
    def ceiling(app: FastAPI, body: dict[str, Any]) -> int:
        state = app.state
        order = Order(AD_SLOGAN, AdSloganRequest.model_validate(body))
        plan = make_plan(
            order, registry=state.registry, prompts=state.prompts, settings=state.settings
        )
        return plan.token_ceiling

    @pytest.mark.parametrize("counters", ["memory", "redis"])
    async def test_concurrent_requests_never_overspend(
        self, auth_settings: Settings, counters: str
    ) -> None:
        import redis

        if counters == "redis":
            redis.Redis.from_url(REDIS_URL).flushdb()
            auth_settings.redis_url = REDIS_URL
        # No extra attempts and a small max_tokens: a reservation is close to what a request
        # really spends, so ten requests let through together would spend the budget 2-3 times.
        auth_settings.extra_attempts = 0
        body = brief("ad_slogan", max_tokens=16)
        async with serving(auth_settings, FakeLLM(delay_s=0.3)) as (app, api):
            budget = 3 * self.ceiling(app, body)
            key = await new_key(auth_settings, "acme", tokens_per_day=budget)
            responses = await asyncio.gather(
                *(api.post(PATHS["ad_slogan"], json=body, headers=bearer(key)) for _ in range(10))
            )
            spent = sum(
                r.json()["usage"]["input_tokens"] + r.json()["usage"]["output_tokens"]
                for r in responses
                if r.status_code == 201
            )
            statuses = sorted(r.status_code for r in responses)
            assert statuses == [201] * 3 + [429] * 7
            assert spent <= budget
            refused = next(r for r in responses if r.status_code == 429).json()["error"]
            assert "may use up to" in refused["message"]
            # Settled: the day's count is what the three generations really spent (less
            # than a reservation is left, so the next request is refused and says so).
            after = await api.post(PATHS["ad_slogan"], json=body, headers=bearer(key))
            assert after.status_code == 429
            assert int(after.headers["x-ratelimit-remaining-tokens"]) == budget - spent

    async def test_a_failed_generation_gives_its_reservation_back(
        self, auth_settings: Settings
    ) -> None:
        llm = FakeLLM(script=failing("upstream", "down"))
        async with serving(auth_settings, llm) as (app, api):
            body = brief("ad_slogan")
            budget = self.ceiling(app, body)
            key = bearer(await new_key(auth_settings, "acme", tokens_per_day=budget))
            for _ in range(3):
                assert (
                    await api.post(PATHS["ad_slogan"], json=body, headers=key)
                ).status_code == 502
            llm.script = default_script
            ok = await api.post(PATHS["ad_slogan"], json=body, headers=key)
            assert ok.status_code == 201
            assert ok.headers["x-ratelimit-remaining-tokens"] == "0"

    @pytest.mark.parametrize(
        ("tokens_per_day", "status", "message"),
        [
            (10, 429, "more than the key's daily limit of 10: lower n or max_tokens"),
            (0, 403, "may not spend model tokens (its daily limit is 0)"),
        ],
        ids=["smaller-than-one-request", "zero"],
    )
    async def test_a_budget_no_request_fits(
        self,
        api: httpx.AsyncClient,
        auth_settings: Settings,
        tokens_per_day: int,
        status: int,
        message: str,
    ) -> None:
        key = bearer(await new_key(auth_settings, "acme", tokens_per_day=tokens_per_day))
        refused = await api.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
        assert refused.status_code == status
        assert message in refused.json()["error"]["message"]
        listed = await api.get("/v1/generations", headers=key)
        assert (listed.status_code, listed.json()["items"]) == (200, [])

    async def test_no_limit_given_means_the_default(
        self, api: httpx.AsyncClient, auth_settings: Settings
    ) -> None:
        key = bearer(await new_key(auth_settings, "acme"))
        response = await api.get("/v1/generations", headers=key)
        assert response.headers["x-ratelimit-limit"] == "120"

    async def test_a_replay_is_answered_when_the_budget_is_spent(
        self, auth_settings: Settings
    ) -> None:
        async with serving(auth_settings) as (app, api):
            body = brief("ad_slogan")
            # Room for one reservation: after the first request, less than one is left.
            key = bearer(
                await new_key(auth_settings, "acme", tokens_per_day=self.ceiling(app, body))
            )
            headers = {**key, "Idempotency-Key": "spent-1"}
            first = await api.post(PATHS["ad_slogan"], json=body, headers=headers)
            assert first.status_code == 201
            fresh = await api.post(PATHS["ad_slogan"], json=body, headers=key)
            assert fresh.status_code == 429
            replay = await api.post(PATHS["ad_slogan"], json=body, headers=headers)
            assert replay.status_code == 201
            assert replay.json()["id"] == first.json()["id"]
            assert replay.headers["idempotent-replayed"] == "true"


def own_network_address() -> str | None:
    """This machine's address on its default route, if it has one (a UDP connect sends
    nothing; it only asks the routing table)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.255", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("::ffff:192.0.2.7", False),
        ("192.0.2.7", False),
        ("testserver", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


class TestOpenMode:
    """With auth off, only requests made on this machine to a loopback address are served,
    however the app was started."""

    @pytest.mark.parametrize(
        ("client", "base_url", "headers"),
        [
            (("203.0.113.7", 5000), "http://127.0.0.1", {}),
            (("127.0.0.1", 5000), "http://192.0.2.10", {}),
            (("127.0.0.1", 5000), "http://127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}),
            (("127.0.0.1", 5000), "http://127.0.0.1", {"Forwarded": "for=203.0.113.7"}),
        ],
        ids=["remote-client", "public-interface", "x-forwarded-for", "forwarded"],
    )
    async def test_anything_but_direct_loopback_is_refused(
        self,
        settings: Settings,
        client: tuple[str, int],
        base_url: str,
        headers: dict[str, str],
    ) -> None:
        async with serving(settings) as (app, here):
            transport = httpx.ASGITransport(app=app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as remote:
                write = await remote.post(
                    PATHS["ad_slogan"], json=brief("ad_slogan"), headers=headers
                )
                read = await remote.get("/v1/generations", headers=headers)
            stored = (await here.get("/v1/generations")).json()["items"]
        assert (write.status_code, read.status_code) == (403, 403)
        assert "only requests made on this machine" in write.json()["error"]["message"]
        assert stored == []

    def test_an_app_served_on_every_interface_answers_only_loopback(
        self, database_url: str, tmp_path: Path
    ) -> None:
        port = free_port()
        env = {
            **os.environ,
            "COPYFORGE_DATABASE_URL": database_url,
            "COPYFORGE_AUTH_REQUIRED": "false",
            "COPYFORGE_MODELS": "{}",
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
        server = subprocess.Popen(
            [*command, "--host", "0.0.0.0", "--port", str(port), "--log-level", "warning"],
            env=env,
            cwd=tmp_path,
        )
        try:
            assert answers(f"http://127.0.0.1:{port}/healthz", server, 60), "uvicorn did not start"
            assert httpx.get(f"http://127.0.0.1:{port}/v1/templates").status_code == 200
            # A local proxy's request: uvicorn trusts 127.0.0.1 and takes the forwarded client.
            proxied = httpx.get(
                f"http://127.0.0.1:{port}/v1/templates",
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
            assert proxied.status_code == 403
            address = own_network_address()
            if address is not None:
                # This machine's own network address: the traffic stays on the machine.
                outside = httpx.get(f"http://{address}:{port}/v1/templates", timeout=10)
                assert outside.status_code == 403
                assert outside.json()["error"]["type"] == "forbidden"
        finally:
            server.terminate()
            server.wait(timeout=30)


class TestCommandLine:
    def run(self, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [copyforge_command(), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        )

    def test_create_list_revoke(self, tmp_path: Path) -> None:
        env = {"COPYFORGE_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
        created = self.run("keys", "create", "--workspace", "acme", "--scopes", "read", env=env)
        assert created.returncode == 0, created.stderr
        secret = next(
            line.split()[-1] for line in created.stdout.splitlines() if line.startswith("key:")
        )
        assert secret.startswith("cf_")
        listed = self.run("keys", "list", env=env)
        assert "acme" in listed.stdout
        assert "active" in listed.stdout
        assert secret not in listed.stdout
        prefix = keys.prefix_of(secret) or ""
        assert self.run("keys", "revoke", prefix, env=env).returncode == 0
        assert "revoked" in self.run("keys", "list", env=env).stdout
        bad = self.run("keys", "create", "--workspace", "acme", "--scopes", "root", env=env)
        assert bad.returncode == 2
        assert "Scopes must be" in bad.stderr

    @pytest.mark.parametrize(
        ("flags", "error"),
        [
            (["--rpm", "0"], "rpm must be at least 1"),
            (["--rpm", "-5"], "rpm must be at least 1"),
            (["--tokens-per-day", "-1"], "tokens_per_day must be 0"),
        ],
    )
    def test_limits_that_mean_nothing_are_refused(
        self, tmp_path: Path, flags: list[str], error: str
    ) -> None:
        env = {"COPYFORGE_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"}
        refused = self.run("keys", "create", "--workspace", "acme", *flags, env=env)
        assert refused.returncode == 2
        assert error in refused.stderr
        assert "acme" not in self.run("keys", "list", env=env).stdout

    def test_serve_refuses_a_public_bind_without_auth(self, tmp_path: Path) -> None:
        env = {
            "COPYFORGE_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "COPYFORGE_AUTH_REQUIRED": "false",
            "COPYFORGE_HOST": "0.0.0.0",
        }
        refused = self.run("serve", env=env)
        assert refused.returncode == 2
        assert "refusing to serve on 0.0.0.0" in refused.stderr
