"""Redaction before non-local models, the prompt-size cap, and retention."""

import asyncio
import os
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
import pytest
from sqlalchemy import select, update

from app import retention
from app.config import ModelConfig, Settings
from app.db import Database
from app.llm.registry import ModelRegistry
from app.main import create_app
from app.models import Generation
from app.privacy import redact_text
from app.retention import purge_once
from tests.fakes import FakeLLM
from tests.mock_upstream import create_mock_app
from tests.payloads import PATHS, brief
from tests.processes import copyforge_command
from tests.servers import serve_in_thread

PII = "Mail jo@example.com or call +86 138 0013 8000, card 4111 1111 1111 1111, SKU 12345."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PII, "Mail [email] or call [phone], card [card number], SKU 12345."),
        ("订购请拨 021-6234-5678 或发邮件 a.b@shop.cn", "订购请拨 [phone] 或发邮件 [email]"),
        ("Order 4111 1111 1111 1112 is not a card", "Order 4111 1111 1111 1112 is not a card"),
        ("Boils 1.7 L in 3 minutes at 2200 W", "Boils 1.7 L in 3 minutes at 2200 W"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def registry_with(
    redact: bool | None, provider: Literal["openai_compat", "local"], llm: FakeLLM
) -> ModelRegistry:
    config = ModelConfig.model_construct(
        provider=provider, redact_pii=redact, prompt_mode="chat", languages=[], fallback=None
    )
    return ModelRegistry({"m": config}, "m", clients={"m": llm})


@pytest.mark.parametrize(
    ("redact", "provider", "redacted"),
    [(None, "openai_compat", True), (None, "local", False), (False, "openai_compat", False)],
)
async def test_briefs_are_redacted_for_remote_models(
    settings: Settings,
    redact: bool | None,
    provider: Literal["openai_compat", "local"],
    redacted: bool,
) -> None:
    llm = FakeLLM()
    app = create_app(settings, registry=registry_with(redact, provider, llm))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            body = (
                await http.post(PATHS["ad_slogan"], json=brief("ad_slogan", key_message=PII))
            ).json()
    sent = llm.calls[0][0][-1].content
    assert ("jo@example.com" in sent) is not redacted
    assert ("4111 1111 1111 1111" in sent) is not redacted
    assert ("jo@example.com" in body["input"]["key_message"]) is not redacted


async def test_spec_names_are_redacted_too(settings: Settings) -> None:
    llm = FakeLLM()
    app = create_app(settings, registry=registry_with(None, "openai_compat", llm))
    specs = {"jo@example.com": "support", "ann@example.com": "sales", "capacity": "1.7 L"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            body = (
                await http.post(
                    PATHS["product_description"], json=brief("product_description", specs=specs)
                )
            ).json()
    sent = llm.calls[0][0][-1].content
    assert "example.com" not in sent
    # Both redacted names are kept, told apart, with their values.
    assert body["input"]["specs"] == {
        "[email]": "support",
        "[email] 2": "sales",
        "capacity": "1.7 L",
    }


@pytest.mark.real_model
async def test_a_remote_fallback_of_a_local_model_gets_redacted_briefs(
    settings: Settings,
) -> None:
    """The embedded model serves first and fails for real (its 256-token context cannot hold
    the prompt), so the remote fallback writes the copy: it must never see the PII."""
    mock = create_mock_app()
    with serve_in_thread(mock) as upstream:
        settings.models = {
            "local": ModelConfig(provider="local", context_length=256, fallback="remote"),
            "remote": ModelConfig(
                provider="openai_compat", base_url=upstream + "/v1", model="mock-1"
            ),
        }
        settings.default_model = "local"
        app = create_app(settings)
        key_message = f"{PII} " + "Grip that holds on wet rock and mud. " * 40
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                response = await http.post(
                    PATHS["ad_slogan"], json=brief("ad_slogan", key_message=key_message[:2000])
                )
                models = (await http.get("/v1/models")).json()["models"]
    # The embedded model was really loaded and tried first.
    assert next(m for m in models if m["alias"] == "local")["loaded"] is True
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["fallback_model"] == "remote"
    sent = "\n".join(m["content"] for call in mock.state.calls for m in call["messages"])
    assert "Grip that holds" in sent
    for secret in ("jo@example.com", "138 0013 8000", "4111 1111 1111 1111"):
        assert secret not in sent
        assert secret not in body["input"]["key_message"]


async def test_prompt_size_cap(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.max_prompt_chars = 1000
    features = ["x" * 190] * 10
    response = await client.post(
        PATHS["product_description"], json=brief("product_description", features=features)
    )
    assert response.status_code == 422
    assert "prompt over 1000 characters" in response.json()["error"]["message"]


async def age(settings: Settings, generation_id: str, days: int) -> None:
    """Make a stored generation `days` days old."""
    database = Database(settings)
    async with database.write_sessions() as session:
        await session.execute(
            update(Generation)
            .where(Generation.id == generation_id)
            .values(created_at=datetime.now(UTC) - timedelta(days=days))
        )
        await session.commit()
    await database.dispose()


async def test_the_retention_loop_keeps_purging_while_serving(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PURGE_INTERVAL_S", 0.05)
    settings.retention_days = 30
    app = create_app(settings, registry=ModelRegistry.from_clients({"f": FakeLLM()}, "f"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            kept = (await http.post(PATHS["ad_slogan"], json=brief("ad_slogan"))).json()["id"]
            # Two rounds: each generation made old after startup is erased by a later pass.
            for _ in range(2):
                old = (await http.post(PATHS["ad_slogan"], json=brief("ad_slogan"))).json()["id"]
                await age(settings, old, 31)
                for _ in range(200):  # bounded: 10 s at most
                    if (await http.get(f"/v1/generations/{old}")).status_code == 404:
                        break
                    await asyncio.sleep(0.05)
                assert (await http.get(f"/v1/generations/{old}")).status_code == 404
            assert (await http.get(f"/v1/generations/{kept}")).status_code == 200


def test_copyforge_purge_erases_old_generations_once(settings: Settings) -> None:
    async def seed() -> str:
        """An old and a new generation; the new one's id."""
        app = create_app(settings, registry=ModelRegistry.from_clients({"f": FakeLLM()}, "f"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                old, new = [
                    str((await http.post(PATHS["ad_slogan"], json=brief("ad_slogan"))).json()["id"])
                    for _ in range(2)
                ]
        await age(settings, old, 91)
        return new

    new = asyncio.run(seed())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COPYFORGE_")},
        "COPYFORGE_DATABASE_URL": settings.database_url,
    }

    def purge(*args: str) -> subprocess.CompletedProcess[str]:
        command = [copyforge_command(), "purge", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    refused = purge()
    assert refused.returncode == 2
    assert "give --days N" in refused.stderr
    done = purge("--days", "90")
    assert done.returncode == 0, done.stderr
    assert "erased 1 generations older than 90 days" in done.stdout
    assert "erased 0" in purge("--days", "90").stdout

    async def remaining() -> set[str]:
        database = Database(settings)
        async with database.read_sessions() as session:
            ids = set((await session.scalars(select(Generation.id))).all())
        await database.dispose()
        return ids

    assert asyncio.run(remaining()) == {new}


async def test_retention_purges_only_old_generations(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    old = (await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"))).json()
    new = (await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"))).json()
    await client.put(f"/v1/variants/{old['variants'][0]['id']}/rating", json={"score": 4})
    await age(settings, old["id"], 31)
    database = Database(settings)
    assert await purge_once(database, 30) == 1
    await database.dispose()
    assert (await client.get(f"/v1/generations/{old['id']}")).status_code == 404
    assert (await client.get(f"/v1/generations/{new['id']}")).status_code == 200
    assert (
        await client.put(f"/v1/variants/{old['variants'][0]['id']}/rating", json={"score": 4})
    ).status_code == 404
