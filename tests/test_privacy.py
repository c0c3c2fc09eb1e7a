"""Redaction before non-local models, the prompt-size cap, and retention."""

from datetime import UTC, datetime, timedelta
from typing import Literal

import httpx
import pytest
from sqlalchemy import update

from app.config import ModelConfig, Settings
from app.db import Database
from app.llm.registry import ModelRegistry
from app.main import create_app
from app.models import Generation
from app.privacy import redact_text
from app.retention import purge_once
from tests.fakes import FakeLLM
from tests.payloads import PATHS, brief

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
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = (
                await http.post(PATHS["ad_slogan"], json=brief("ad_slogan", key_message=PII))
            ).json()
    sent = llm.calls[0][0][-1].content
    assert ("jo@example.com" in sent) is not redacted
    assert ("4111 1111 1111 1111" in sent) is not redacted
    assert ("jo@example.com" in body["input"]["key_message"]) is not redacted


async def test_prompt_size_cap(client: httpx.AsyncClient, settings: Settings) -> None:
    settings.max_prompt_chars = 1000
    features = ["x" * 190] * 10
    response = await client.post(
        PATHS["product_description"], json=brief("product_description", features=features)
    )
    assert response.status_code == 422
    assert "prompt over 1000 characters" in response.json()["error"]["message"]


async def test_retention_purges_only_old_generations(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    old = (await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"))).json()
    new = (await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"))).json()
    await client.put(f"/v1/variants/{old['variants'][0]['id']}/rating", json={"score": 4})
    database = Database(settings)
    async with database.write_sessions() as session:
        await session.execute(
            update(Generation)
            .where(Generation.id == old["id"])
            .values(created_at=datetime.now(UTC) - timedelta(days=31))
        )
        await session.commit()
    assert await purge_once(database, 30) == 1
    await database.dispose()
    assert (await client.get(f"/v1/generations/{old['id']}")).status_code == 404
    assert (await client.get(f"/v1/generations/{new['id']}")).status_code == 200
    assert (
        await client.put(f"/v1/variants/{old['variants'][0]['id']}/rating", json={"score": 4})
    ).status_code == 404
