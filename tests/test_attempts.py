"""Replacement attempts: a retry tells a chat model why the last variant failed, and no
attempt starts that the time budget has no room for."""

from collections.abc import Sequence

import httpx
import pytest

from app.config import Settings
from app.llm.base import GenerationOptions, Message
from tests.fakes import FakeLLM
from tests.payloads import PATHS, brief

TOO_LONG = "Grip that holds on wet rock, on every single trail, in every weather."
FITS = "Grip that holds."


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.generation_budget_s = 0.5
    return settings


def until_told(messages: Sequence[Message], options: GenerationOptions) -> str:
    """Too long until the conversation says why."""
    return FITS if "That one fails" in messages[-1].content else TOO_LONG


async def test_a_retry_says_what_failed(client: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    fake_llm.script = until_told
    response = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", max_chars=20))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "succeeded"
    assert [v["text"] for v in body["variants"]] == [FITS]
    assert body["options"]["attempts"] == 2
    assert body["options"]["feedback"] is True
    retry = fake_llm.calls[1][0]
    assert retry[:-2] == fake_llm.calls[0][0]  # the original prompt, then the exchange
    assert retry[-2] == Message("assistant", TOO_LONG)
    assert f"max_chars: {len(TOO_LONG)} characters (limit 20)" in retry[-1].content
    # What is stored is the prompt as rendered, not the exchange.
    assert body["prompt"]["user"] == fake_llm.calls[0][0][-1].content


async def test_no_attempt_starts_that_the_budget_cannot_fit(
    client: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    # Each call takes 0.3 s of a 0.5 s budget: after the first, a second would overrun.
    fake_llm.script = lambda messages, options: TOO_LONG
    fake_llm.delay_s = 0.3
    response = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", max_chars=20))
    body = response.json()
    assert response.status_code == 201, body
    assert body["status"] == "partial"
    assert body["options"]["attempts"] == 1
    assert len(fake_llm.calls) == 1
    assert "1 attempts" in body["error"]["message"]
    assert "0.5 s time budget" in body["error"]["message"]


async def test_without_pressure_every_attempt_is_made(
    client: httpx.AsyncClient, fake_llm: FakeLLM, settings: Settings
) -> None:
    fake_llm.script = lambda messages, options: TOO_LONG
    response = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", max_chars=20))
    body = response.json()
    assert body["status"] == "partial"
    assert body["options"]["attempts"] == 1 + settings.extra_attempts
