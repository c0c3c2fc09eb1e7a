"""Workspaces, API keys, scopes and per-key limits (in memory and in Redis)."""

import os
import subprocess
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth import keys
from app.config import Settings
from app.db import Database
from app.llm.registry import ModelRegistry
from app.main import create_app
from tests.fakes import FakeLLM
from tests.payloads import PATHS, brief
from tests.processes import copyforge_command

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


async def started(settings: Settings) -> AsyncGenerator[httpx.AsyncClient, None]:
    app: FastAPI = create_app(
        settings, registry=ModelRegistry.from_clients({"fake": FakeLLM()}, "fake")
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
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
        assert key not in {k.secret_hash for k in stored}
        secret = key.removeprefix("cf_").split("_", 1)[1]  # the part after the prefix
        assert len(secret) >= 30
        assert all(secret not in k.secret_hash and secret not in k.name for k in stored)


class TestWorkspaces:
    async def test_another_workspace_sees_and_touches_nothing(
        self, api: httpx.AsyncClient, auth_settings: Settings
    ) -> None:
        mine = bearer(await new_key(auth_settings, "acme"))
        theirs = bearer(await new_key(auth_settings, "globex"))
        created = (await api.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=mine)).json()
        gid, vid = created["id"], created["variants"][0]["id"]

        assert (await api.get(f"/v1/generations/{gid}", headers=theirs)).status_code == 404
        assert (await api.get("/v1/generations", headers=theirs)).json()["items"] == []
        rating = await api.put(f"/v1/variants/{vid}/rating", json={"score": 1}, headers=theirs)
        assert rating.status_code == 404
        assert (await api.delete(f"/v1/generations/{gid}", headers=theirs)).status_code == 404
        assert (await api.get("/v1/stats", headers=theirs)).json()["groups"] == []
        replay = await api.post(
            PATHS["ad_slogan"],
            json=brief("ad_slogan"),
            headers={**theirs, "Idempotency-Key": "k1"},
        )
        assert replay.status_code == 201

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

    async def test_tokens_per_day(self, api: httpx.AsyncClient, auth_settings: Settings) -> None:
        key = bearer(await new_key(auth_settings, "acme", tokens_per_day=10))
        first = await api.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
        assert first.status_code == 201
        assert first.json()["usage"]["input_tokens"] > 10
        second = await api.post(PATHS["ad_slogan"], json=brief("ad_slogan"), headers=key)
        assert second.status_code == 429
        assert "tokens per day" in second.json()["error"]["message"]
        assert second.headers["x-ratelimit-remaining-tokens"] == "0"

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

    def test_serve_refuses_a_public_bind_without_auth(self, tmp_path: Path) -> None:
        env = {
            "COPYFORGE_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}",
            "COPYFORGE_AUTH_REQUIRED": "false",
            "COPYFORGE_HOST": "0.0.0.0",
        }
        refused = self.run("serve", env=env)
        assert refused.returncode == 2
        assert "refusing to serve on 0.0.0.0" in refused.stderr
