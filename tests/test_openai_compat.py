"""The openai_compat provider through the real `openai` SDK, against tests/mock_upstream.py
served on 127.0.0.1, and the whole service end to end on top of it."""

import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from starlette.applications import Starlette

from app.config import ModelConfig, Settings
from app.kinds import KINDS
from app.llm.base import (
    Completion,
    Constraints,
    GenerationOptions,
    LLMError,
    Message,
    StreamDelta,
)
from app.llm.openai_compat import OpenAICompatClient, parse_completion
from app.main import create_app
from tests.mock_upstream import (
    BLOGS_EN,
    BLOGS_ZH,
    DESCRIPTIONS_EN,
    DESCRIPTIONS_ZH,
    SLOGANS_EN,
    SLOGANS_ZH,
    create_mock_app,
    token_count,
)
from tests.servers import free_port, serve_in_thread

SLOGAN_MESSAGES = [
    Message("system", "You are a senior advertising copywriter."),
    Message("user", "Write one slogan for trail running shoes.\n\nSlogan:"),
]
SLOGAN_PROMPT = "\n".join(m.content for m in SLOGAN_MESSAGES)
KEY_ENV = "COPYFORGE_TEST_UPSTREAM_KEY"
SECRET = "sk-test-0123456789abcdef-do-not-leak"


@dataclass
class Upstream:
    """A running mock upstream: its app (for what it recorded) and its OpenAI base URL."""

    app: Starlette
    base_url: str

    @property
    def calls(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self.app.state.calls)

    @property
    def replies(self) -> list[str]:
        return cast(list[str], self.app.state.replies)

    @property
    def headers(self) -> list[dict[str, str]]:
        return cast(list[dict[str, str]], self.app.state.headers)


@contextmanager
def running_upstream(*, api_key: str | None = None) -> Iterator[Upstream]:
    """Serve a fresh mock upstream on 127.0.0.1 for the duration of the block."""
    mock = create_mock_app(api_key=api_key)
    with serve_in_thread(mock) as base:
        yield Upstream(mock, base + "/v1")


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with running_upstream() as running:
        yield running


@asynccontextmanager
async def compat_client(base_url: str, **config: Any) -> AsyncIterator[OpenAICompatClient]:
    """An OpenAICompatClient for model `mock-1` at `base_url`, closed afterwards."""
    client = OpenAICompatClient(
        "mock",
        ModelConfig(provider="openai_compat", base_url=base_url, model="mock-1", **config),
    )
    try:
        yield client
    finally:
        await client.aclose()


@contextmanager
def dropping_server() -> Iterator[tuple[str, list[int]]]:
    """A TCP port that accepts connections and closes them at once; yields (URL, accepts)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    accepted: list[int] = []
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", accepted
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


async def call_model(client: OpenAICompatClient, *, streamed: bool) -> str:
    """Ask for a slogan with `complete` or `stream`; the text either way."""
    options = GenerationOptions(max_tokens=64)
    if not streamed:
        return (await client.complete(SLOGAN_MESSAGES, options)).text
    return "".join(
        [
            e.text
            async for e in client.stream(SLOGAN_MESSAGES, options)
            if isinstance(e, StreamDelta)
        ]
    )


class TestComplete:
    async def test_returns_text_usage_and_resolved_model(self, upstream: Upstream) -> None:
        async with compat_client(upstream.base_url) as client:
            completion = await client.complete(SLOGAN_MESSAGES, GenerationOptions(max_tokens=64))

        assert completion.text in SLOGANS_EN
        assert upstream.replies == [completion.text]
        assert completion.finish_reason == "stop"
        assert completion.input_tokens == token_count(SLOGAN_PROMPT)
        assert completion.output_tokens == token_count(completion.text)
        assert completion.resolved_model == "mock-1"

    async def test_request_carries_model_messages_and_options(self, upstream: Upstream) -> None:
        options = GenerationOptions(
            max_tokens=77, temperature=0.3, top_p=0.9, seed=42, stop=("\n\n", "END")
        )
        async with compat_client(upstream.base_url) as client:
            await client.complete(SLOGAN_MESSAGES, options)

        [call] = upstream.calls
        assert call["model"] == "mock-1"
        assert call["messages"] == [{"role": m.role, "content": m.content} for m in SLOGAN_MESSAGES]
        assert call["max_tokens"] == 77
        assert call["temperature"] == 0.3
        assert call["top_p"] == 0.9
        assert call["seed"] == 42
        assert call["stop"] == ["\n\n", "END"]
        assert not call.get("stream")

    async def test_unset_options_are_left_to_the_upstream(self, upstream: Upstream) -> None:
        async with compat_client(upstream.base_url) as client:
            await client.complete(SLOGAN_MESSAGES, GenerationOptions(max_tokens=5))

        [call] = upstream.calls
        assert call["max_tokens"] == 5
        for absent in ("temperature", "top_p", "seed", "stop"):
            assert absent not in call

    @pytest.mark.parametrize("form", ["json_schema", "json_object"])
    async def test_structured_copy_sends_the_schema_in_the_servers_form(
        self, upstream: Upstream, form: str
    ) -> None:
        # A bound a llama.cpp-class sampler cannot hold (it recurses once per character) is
        # left out; the checks hold the field to it.
        asked = {"type": "string", "maxLength": 20000}
        schema = {"type": "object", "properties": {"body": {"type": "string"}}}
        options = GenerationOptions(
            max_tokens=50,
            constraints=Constraints(
                json_schema=json.dumps({**schema, "properties": {"body": asked}})
            ),
        )
        async with compat_client(upstream.base_url, response_format=form) as client:
            completion = await client.complete(SLOGAN_MESSAGES, options)
        [call] = upstream.calls
        if form == "json_schema":
            assert call["response_format"] == {
                "type": "json_schema",
                "json_schema": {"name": "copy", "schema": schema, "strict": True},
            }
        else:
            assert call["response_format"] == {"type": "json_object", "schema": schema}
        assert set(json.loads(completion.text)) == {"body"}

    async def test_without_the_capability_no_schema_is_sent(self, upstream: Upstream) -> None:
        options = GenerationOptions(max_tokens=50, constraints=Constraints(json_schema="{}"))
        async with compat_client(upstream.base_url) as client:
            await client.complete(SLOGAN_MESSAGES, options)
        [call] = upstream.calls
        assert "response_format" not in call


class TestStream:
    async def test_deltas_join_to_the_text_and_end_with_usage(self, upstream: Upstream) -> None:
        messages = [Message("user", "Write a product description of a kettle.\n\nDescription:")]
        async with compat_client(upstream.base_url) as client:
            events = [e async for e in client.stream(messages, GenerationOptions(max_tokens=400))]

        *deltas, last = events
        assert len(deltas) > 1
        assert all(isinstance(d, StreamDelta) for d in deltas)
        joined = "".join(d.text for d in deltas if isinstance(d, StreamDelta))
        assert joined in DESCRIPTIONS_EN
        assert upstream.replies == [joined]
        assert isinstance(last, Completion)
        assert last.text == joined
        assert last.finish_reason == "stop"
        assert last.input_tokens == token_count(messages[0].content)
        assert last.output_tokens == token_count(joined)
        assert last.resolved_model == "mock-1"
        [call] = upstream.calls
        assert call["stream"] is True
        assert call["stream_options"] == {"include_usage": True}
        assert call["max_tokens"] == 400


class TestApiKey:
    @pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
    async def test_key_from_the_named_env_var_is_sent_as_bearer(
        self, monkeypatch: pytest.MonkeyPatch, streamed: bool
    ) -> None:
        monkeypatch.setenv(KEY_ENV, SECRET)
        with running_upstream(api_key=SECRET) as upstream:
            async with compat_client(upstream.base_url, api_key_env=KEY_ENV) as client:
                answer = await call_model(client, streamed=streamed)
                described = repr(client.describe())

        assert answer in SLOGANS_EN
        [headers] = upstream.headers
        assert headers["authorization"] == f"Bearer {SECRET}"
        assert SECRET not in described

    async def test_without_the_env_var_no_real_key_is_sent(
        self, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(KEY_ENV, raising=False)
        async with compat_client(upstream.base_url, api_key_env=KEY_ENV) as client:
            await client.complete(SLOGAN_MESSAGES, GenerationOptions(max_tokens=64))

        [headers] = upstream.headers
        assert headers["authorization"] == "Bearer not-needed"

    @pytest.mark.parametrize("streamed", [False, True], ids=["complete", "stream"])
    async def test_rejected_key_echoed_upstream_never_appears_in_the_error(
        self, monkeypatch: pytest.MonkeyPatch, streamed: bool
    ) -> None:
        monkeypatch.setenv(KEY_ENV, SECRET)
        with running_upstream(api_key="sk-the-right-one") as upstream:
            async with compat_client(
                upstream.base_url, api_key_env=KEY_ENV, max_retries=2
            ) as client:
                with pytest.raises(LLMError) as caught:
                    await call_model(client, streamed=streamed)

        error = caught.value
        # The upstream got the key and echoed it in its 401 body, so there was something to hide.
        assert [h["authorization"] for h in upstream.headers] == [f"Bearer {SECRET}"]
        assert error.status_code == 401
        assert error.attempts == 1  # a 401 is never retried
        assert "***" in error.message
        for text in (str(error), error.message, repr(error), repr(error.details)):
            assert SECRET not in text


class TestConnectionErrors:
    @pytest.mark.parametrize("max_retries", [0, 2])
    async def test_nothing_listening_gives_connection_error_after_all_attempts(
        self, monkeypatch: pytest.MonkeyPatch, max_retries: int
    ) -> None:
        monkeypatch.setenv(KEY_ENV, SECRET)
        base_url = f"http://127.0.0.1:{free_port()}/v1"
        async with compat_client(
            base_url, api_key_env=KEY_ENV, max_retries=max_retries, connect_timeout_s=5
        ) as client:
            with pytest.raises(LLMError) as caught:
                await client.complete(SLOGAN_MESSAGES, GenerationOptions(max_tokens=64))

        error = caught.value
        assert error.kind == "connection"
        assert error.attempts == max_retries + 1
        assert error.status_code is None
        assert SECRET not in str(error)

    async def test_each_attempt_is_one_real_connection(self) -> None:
        # Our retry loop owns retries: the SDK must not multiply them with its own.
        with dropping_server() as (base_url, accepted):
            async with compat_client(base_url, max_retries=2) as client:
                with pytest.raises(LLMError) as caught:
                    await client.complete(SLOGAN_MESSAGES, GenerationOptions(max_tokens=64))

        assert caught.value.kind == "connection"
        assert caught.value.attempts == 3
        assert len(accepted) == 3


BRIEFS: dict[str, dict[str, dict[str, Any]]] = {
    "ad_slogan": {
        "en": {"product": "Aurora trail running shoes", "key_message": "grip on wet rock"},
        "zh": {"product": "极光越野跑鞋", "key_message": "湿滑岩面抓地稳"},
    },
    "product_description": {
        "en": {
            "product_name": "Kettle One",
            "features": ["boils 1 L in 3 minutes", "keeps water warm for 2 hours"],
            "specs": {"capacity": "1.7 L"},
            "target_customer": "tea drinkers in small flats",
        },
        "zh": {
            "product_name": "一号电水壶",
            "features": ["三分钟烧开一升水", "保温两小时"],
            "specs": {"容量": "1.7 升"},
            "target_customer": "住小户型的爱茶人",
        },
    },
    "blog_post": {
        "en": {"topic": "How to choose a trail running shoe", "outline": ["grip", "fit"]},
        "zh": {"topic": "如何挑选越野跑鞋", "outline": ["抓地力", "贴合度"]},
    },
}
CANNED_COPY = {
    ("ad_slogan", "en"): SLOGANS_EN,
    ("ad_slogan", "zh"): SLOGANS_ZH,
    ("product_description", "en"): DESCRIPTIONS_EN,
    ("product_description", "zh"): DESCRIPTIONS_ZH,
    ("blog_post", "en"): BLOGS_EN,
    ("blog_post", "zh"): BLOGS_ZH,
}


@pytest.mark.parametrize(("kind_name", "language"), sorted(CANNED_COPY))
async def test_end_to_end_through_the_real_app(
    database_url: str, upstream: Upstream, kind_name: str, language: str
) -> None:
    kind = KINDS[kind_name]
    settings = Settings(
        database_url=database_url,
        models={
            "mock": ModelConfig(
                provider="openai_compat", base_url=upstream.base_url, model="mock-1"
            )
        },
        default_model="mock",
    )
    app = create_app(settings)
    brief = {**BRIEFS[kind_name][language], "language": language, "n": 2, "seed": 7}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            created = await http.post(kind.path, json=brief)
            assert created.status_code == 201, created.text
            body = created.json()
            fetched = await http.get(f"/v1/generations/{body['id']}")

    assert body["kind"] == kind_name
    assert body["language"] == language
    assert body["status"] == "succeeded"
    assert body["error"] is None
    assert body["model"] == "mock"
    assert body["provider"] == "openai_compat"
    assert body["resolved_model"] == "mock-1"
    assert body["usage"]["output_tokens"] == sum(token_count(r) for r in upstream.replies)
    assert body["usage"]["input_tokens"] > 0
    # Parsing leaves the canned copy exactly as the upstream sent it: nothing added, nothing cut.
    texts = [v["text"] for v in body["variants"]]
    assert sorted(texts) == sorted(upstream.replies)
    assert len(set(texts)) == 2
    assert set(texts) <= set(CANNED_COPY[(kind_name, language)])
    for variant in body["variants"]:
        hard = [c for c in variant["checks"] if c["hard"]]
        assert hard
        assert all(c["passed"] for c in hard), variant["checks"]

    # What the upstream received is what the generation says it sent.
    assert len(upstream.calls) == 2
    assert sorted(c["seed"] for c in upstream.calls) == [7, 8]
    for call in upstream.calls:
        assert call["model"] == "mock-1"
        # Derived from the brief's limits (here its max_chars or max_words).
        assert call["max_tokens"] == kind.token_budget(kind.brief_model.model_validate(brief))
        assert call["messages"] == [
            {"role": "system", "content": body["prompt"]["system"]},
            {"role": "user", "content": body["prompt"]["user"]},
        ]

    assert fetched.status_code == 200
    stored = fetched.json()
    assert stored["id"] == body["id"]
    assert stored["status"] == "succeeded"
    assert stored["resolved_model"] == "mock-1"
    assert stored["variants"] == body["variants"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"null",
        b"[]",
        b"{}",
        b'{"choices": null}',
        b'{"choices": [null]}',
        b'{"choices": ["text"]}',
        b'{"choices": [{"message": {"content": 42}}]}',
        b'{"choices": [{"message": {"content": "ok"}}], "model": 7}',
        b'{"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": "many"}}',
    ],
)
def test_a_malformed_answer_is_an_upstream_error(body: bytes) -> None:
    with pytest.raises(LLMError) as caught:
        parse_completion(body)
    assert caught.value.kind == "upstream"
    assert "malformed" in caught.value.message


def test_an_answer_without_choices_says_so() -> None:
    with pytest.raises(LLMError, match="no choices"):
        parse_completion(b'{"choices": [], "model": "m"}')


def test_the_kept_fields_of_an_answer() -> None:
    body = (
        '{"id": "x", "model": "m-2", "choices": [{"index": 0, "finish_reason": "stop", '
        '"message": {"role": "assistant", "content": "抓地有力"}}], '
        '"usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}}'
    ).encode()
    assert parse_completion(body) == Completion(
        text="抓地有力",
        finish_reason="stop",
        input_tokens=12,
        output_tokens=4,
        resolved_model="m-2",
    )
    # A model may leave out usage and content (a refusal, a tool call): zero, empty text.
    assert parse_completion(b'{"choices": [{"message": {}}]}') == Completion(
        text="", finish_reason=None, input_tokens=0, output_tokens=0, resolved_model=None
    )
