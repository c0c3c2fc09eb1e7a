"""Upstream faults, chosen per request through the mock's model syntax (tests/mock_upstream.py):
what OpenAICompatClient raises through the real `openai` SDK, what copyforge answers and
stores, and how many attempts the upstream saw."""

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from starlette.applications import Starlette

from app.config import ModelConfig, Settings
from app.llm.base import Completion, GenerationOptions, LLMError, Message, StreamDelta
from app.llm.openai_compat import OpenAICompatClient
from app.main import create_app
from tests.mock_upstream import SLOGANS_EN, MockModel, create_mock_app, parse_model
from tests.servers import serve_in_thread

KEY_ENV = "COPYFORGE_TEST_FAULTS_KEY"
SECRET = "sk-faults-0123456789abcdef-do-not-leak"
MAX_RETRIES = 2
# Deadline for aliases whose upstream never answers. The others get a roomy deadline, so
# that full-jitter backoff can never cut the retries short and the attempt counts are exact.
HANG_TIMEOUT_S = 1.0
ROOMY_TIMEOUT_S = 10.0
SLOGAN_MESSAGES = [
    Message("system", "You are a senior advertising copywriter."),
    Message("user", "Write one slogan for trail running shoes.\n\nSlogan:"),
]
OPTIONS = GenerationOptions(max_tokens=64)
BRIEF = {
    "product": "Aurora trail running shoes",
    "key_message": "grip on wet rock",
    "language": "en",
    "n": 1,
    "seed": 7,
}


@dataclass
class Mock:
    """A running mock upstream (it wants SECRET as its key) and its OpenAI base URL."""

    app: Starlette
    base_url: str

    def attempts(self, model: str) -> int:
        """Completion requests the mock got with exactly this model string."""
        return cast(int, self.app.state.attempts[model])

    def arrivals(self, model: str) -> list[float]:
        """When they arrived (time.monotonic())."""
        return cast(list[float], self.app.state.arrivals.get(model, []))


@pytest.fixture
def mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mock]:
    monkeypatch.setenv(KEY_ENV, SECRET)
    app = create_mock_app(api_key=SECRET)
    with serve_in_thread(app) as base:
        yield Mock(app, base + "/v1")


@pytest.fixture
def unanswered_url() -> Iterator[str]:
    """A loopback address whose TCP handshake never completes: a listener that accepts
    nothing, its backlog already full, so the kernel drops further SYNs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        for sock in (*fillers, listener):
            sock.close()


def alias_config(mock: Mock, model: str, **overrides: Any) -> ModelConfig:
    """An openai_compat alias for `model` at the mock, with its key from KEY_ENV."""
    config: dict[str, Any] = {
        "provider": "openai_compat",
        "base_url": mock.base_url,
        "model": model,
        "api_key_env": KEY_ENV,
        "timeout_s": ROOMY_TIMEOUT_S,
        "connect_timeout_s": 1.0,
        "max_retries": MAX_RETRIES,
        **overrides,
    }
    return ModelConfig.model_validate(config)


@asynccontextmanager
async def compat_client(
    mock: Mock, model: str, **overrides: Any
) -> AsyncIterator[OpenAICompatClient]:
    """An OpenAICompatClient for `model` at the mock, closed afterwards."""
    client = OpenAICompatClient("faulty", alias_config(mock, model, **overrides))
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def copyforge(
    database_url: str, models: dict[str, ModelConfig], *, extra_attempts: int = 0
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI, serving `models` (the first is the default)."""
    settings = Settings(
        database_url=database_url,
        models=models,
        default_model=next(iter(models)),
        extra_attempts=extra_attempts,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield http


async def stream_slogan(client: OpenAICompatClient, deltas: list[str]) -> Completion:
    """Stream a slogan, collecting the deltas as they come; the final Completion."""
    final = None
    async for event in client.stream(SLOGAN_MESSAGES, OPTIONS):
        if isinstance(event, StreamDelta):
            deltas.append(event.text)
        else:
            final = event
    assert final is not None
    return final


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        assert SECRET not in str(text)


class TestModelSyntax:
    def test_plain_name_has_no_fault(self) -> None:
        assert parse_model("mock-1") == MockModel("mock-1")

    def test_options_in_any_order(self) -> None:
        expected = MockModel("m", fault="429", delay_s=1.5, retry_after="2", fail_first=3)
        assert parse_model("m+fault=429+delay=1.5+retry_after=2+fail_first=3") == expected
        assert parse_model("m+fail_first=3+retry_after=2+delay=1.5+fault=429") == expected

    @pytest.mark.parametrize(
        "model",
        ["m+fault=nope", "m+fault=200", "m+fault=600", "m+delay=-1", "m+delay=x", "m+color=red"],
    )
    def test_bad_options_are_refused(self, model: str) -> None:
        with pytest.raises(ValueError, match="bad option"):
            parse_model(model)

    async def test_upstream_answers_a_bad_option_with_400_never_retried(self, mock: Mock) -> None:
        async with compat_client(mock, "mock-1+fault=teapot") as client:
            with pytest.raises(LLMError) as caught:
                await client.complete(SLOGAN_MESSAGES, OPTIONS)

        assert caught.value.kind == "bad_request"
        assert caught.value.status_code == 400
        assert mock.attempts("mock-1+fault=teapot") == 1


# fault -> (kind, status code, attempts) OpenAICompatClient.complete reports.
CLIENT_FAULTS: list[Any] = [
    pytest.param("+fault=500", "upstream", 500, MAX_RETRIES + 1, id="500"),
    pytest.param("+fault=503", "upstream", 503, MAX_RETRIES + 1, id="503"),
    pytest.param("+fault=429", "rate_limited", 429, MAX_RETRIES + 1, id="429"),
    pytest.param("+fault=408", "upstream", 408, MAX_RETRIES + 1, id="408"),
    pytest.param("+fault=409", "upstream", 409, MAX_RETRIES + 1, id="409"),
    pytest.param("+fault=reset", "connection", None, MAX_RETRIES + 1, id="reset"),
    pytest.param("+fault=cut", "connection", None, MAX_RETRIES + 1, id="cut"),
    pytest.param("+fault=400", "bad_request", 400, 1, id="400"),
    pytest.param("+fault=404", "bad_request", 404, 1, id="404"),
    pytest.param("+fault=422", "bad_request", 422, 1, id="422"),
    # A wrong key is not the request's fault (another alias may serve it), but retrying
    # the same key cannot help.
    pytest.param("+fault=401", "upstream", 401, 1, id="401"),
    pytest.param(
        "+fault=malformed",
        "upstream",
        None,
        1,
        id="malformed",
    ),
]


class TestClientFaults:
    @pytest.mark.parametrize(("fault", "kind", "status_code", "attempts"), CLIENT_FAULTS)
    async def test_complete_raises_llm_error_after_the_right_attempts(
        self, mock: Mock, fault: str, kind: str, status_code: int | None, attempts: int
    ) -> None:
        model = "mock-1" + fault
        async with compat_client(mock, model) as client:
            with pytest.raises(LLMError) as caught:
                await client.complete(SLOGAN_MESSAGES, OPTIONS)

        error = caught.value
        assert (error.kind, error.status_code, error.attempts) == (kind, status_code, attempts)
        assert mock.attempts(model) == attempts
        assert_no_secret(error, repr(error))

    async def test_status_errors_quote_the_key_upstream_but_not_in_the_error(
        self, mock: Mock
    ) -> None:
        async with compat_client(mock, "mock-1+fault=503", max_retries=0) as client:
            with pytest.raises(LLMError) as caught:
                await client.complete(SLOGAN_MESSAGES, OPTIONS)

        assert "(key ***)" in caught.value.message

    async def test_empty_completion_is_not_an_error(self, mock: Mock) -> None:
        async with compat_client(mock, "mock-1+fault=empty") as client:
            completion = await client.complete(SLOGAN_MESSAGES, OPTIONS)

        assert completion.text == ""
        assert completion.finish_reason == "stop"
        assert mock.attempts("mock-1+fault=empty") == 1

    @pytest.mark.parametrize("fault", ["+fault=500", "+fault=reset", "+fault=cut", "+fault=429"])
    async def test_fail_first_then_success_within_the_retries(self, mock: Mock, fault: str) -> None:
        model = f"mock-1{fault}+fail_first={MAX_RETRIES}"
        async with compat_client(mock, model) as client:
            completion = await client.complete(SLOGAN_MESSAGES, OPTIONS)

        assert completion.text in SLOGANS_EN
        assert completion.resolved_model == "mock-1"
        assert mock.attempts(model) == MAX_RETRIES + 1

    @pytest.mark.parametrize("fault", ["+fault=hang", "+fault=stall", "+delay=30"])
    async def test_no_answer_ends_within_the_deadline(self, mock: Mock, fault: str) -> None:
        model = "mock-1" + fault
        async with compat_client(mock, model, timeout_s=HANG_TIMEOUT_S) as client:
            started = time.monotonic()
            with pytest.raises(LLMError) as caught:
                await client.complete(SLOGAN_MESSAGES, OPTIONS)
            elapsed = time.monotonic() - started

        assert elapsed < HANG_TIMEOUT_S + 1
        assert caught.value.kind == "timeout"
        assert mock.attempts(model) == 1  # the deadline is spent: nothing left to retry with

    async def test_a_handshake_that_never_completes_fails_at_the_connect_timeout(
        self, mock: Mock, unanswered_url: str
    ) -> None:
        config = alias_config(
            mock, "mock-1", base_url=unanswered_url, timeout_s=30.0, connect_timeout_s=0.5
        )
        client = OpenAICompatClient("blackhole", config.model_copy(update={"max_retries": 0}))
        try:
            started = time.monotonic()
            with pytest.raises(LLMError) as caught:
                await client.complete(SLOGAN_MESSAGES, OPTIONS)
            elapsed = time.monotonic() - started
        finally:
            await client.aclose()
        assert caught.value.kind == "timeout"
        # Well short of the 30 s deadline the connect timeout would otherwise be lost in.
        assert elapsed < 10

    async def test_a_hanging_request_does_not_block_the_others(self, mock: Mock) -> None:
        async with (
            compat_client(mock, "mock-1+fault=hang", timeout_s=HANG_TIMEOUT_S) as hanging,
            compat_client(mock, "mock-1") as healthy,
        ):
            hung = asyncio.create_task(hanging.complete(SLOGAN_MESSAGES, OPTIONS))
            # The count is kept by the mock's thread, so there is no event to await; the loop
            # is bounded because the hanging call times out.
            while mock.attempts("mock-1+fault=hang") == 0 and not hung.done():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            answered = asyncio.create_task(healthy.complete(SLOGAN_MESSAGES, OPTIONS))
            done, _ = await asyncio.wait({hung, answered}, return_when=asyncio.FIRST_COMPLETED)
            assert done == {answered}
            assert answered.result().text in SLOGANS_EN
            with pytest.raises(LLMError):
                await hung


class TestStreamFaults:
    async def test_cut_mid_stream_raises_after_some_deltas(self, mock: Mock) -> None:
        deltas: list[str] = []
        async with compat_client(mock, "mock-1+fault=cut") as client:
            with pytest.raises(LLMError) as caught:
                await stream_slogan(client, deltas)

        assert caught.value.kind in ("upstream", "connection")
        assert deltas
        text = "".join(deltas)
        assert any(s.startswith(text) and s != text for s in SLOGANS_EN)
        # Text was already passed on, so the stream is not retried.
        assert mock.attempts("mock-1+fault=cut") == 1
        assert_no_secret(caught.value)

    @pytest.mark.parametrize(("fault", "some_deltas"), [("hang", False), ("stall", True)])
    async def test_silence_ends_within_the_deadline(
        self, mock: Mock, fault: str, some_deltas: bool
    ) -> None:
        deltas: list[str] = []
        async with compat_client(mock, f"mock-1+fault={fault}", timeout_s=HANG_TIMEOUT_S) as client:
            started = time.monotonic()
            with pytest.raises(LLMError) as caught:
                await stream_slogan(client, deltas)
            elapsed = time.monotonic() - started

        assert elapsed < HANG_TIMEOUT_S + 1
        assert caught.value.kind == "timeout"
        assert bool(deltas) is some_deltas
        assert mock.attempts(f"mock-1+fault={fault}") == 1

    async def test_slow_stream_ends_within_the_deadline(self, mock: Mock) -> None:
        # Each delta comes well within the read timeout, but all of them take about 3 s.
        deltas: list[str] = []
        async with compat_client(mock, "mock-1+drip=0.5", timeout_s=HANG_TIMEOUT_S) as client:
            started = time.monotonic()
            with pytest.raises(LLMError) as caught:
                await stream_slogan(client, deltas)
            elapsed = time.monotonic() - started

        assert elapsed < HANG_TIMEOUT_S + 1
        assert caught.value.kind == "timeout"

    async def test_errors_before_the_first_delta_are_retried(self, mock: Mock) -> None:
        async with compat_client(mock, "mock-1+fault=503") as client:
            with pytest.raises(LLMError) as caught:
                await stream_slogan(client, [])

        assert caught.value.status_code == 503
        assert caught.value.attempts == MAX_RETRIES + 1
        assert mock.attempts("mock-1+fault=503") == MAX_RETRIES + 1

    async def test_fail_first_then_a_whole_stream(self, mock: Mock) -> None:
        deltas: list[str] = []
        model = "mock-1+fault=reset+fail_first=1"
        async with compat_client(mock, model) as client:
            final = await stream_slogan(client, deltas)

        assert final.text == "".join(deltas)
        assert final.text in SLOGANS_EN
        assert final.finish_reason == "stop"
        assert mock.attempts(model) == 2

    async def test_malformed_event_raises_llm_error(self, mock: Mock) -> None:
        async with compat_client(mock, "mock-1+fault=malformed") as client:
            with pytest.raises(LLMError) as caught:
                await stream_slogan(client, [])

        assert caught.value.kind == "upstream"


# fault -> (HTTP status, API error type, stored error type, upstream attempts), with
# max_retries=MAX_RETRIES and extra_attempts=0 (one model call for n=1).
APP_FAULTS: list[Any] = [
    pytest.param("+fault=500", 502, "upstream_error", "upstream", MAX_RETRIES + 1, id="500"),
    pytest.param("+fault=503", 502, "upstream_error", "upstream", MAX_RETRIES + 1, id="503"),
    pytest.param("+fault=reset", 502, "upstream_error", "connection", MAX_RETRIES + 1, id="reset"),
    pytest.param("+fault=cut", 502, "upstream_error", "connection", MAX_RETRIES + 1, id="cut"),
    pytest.param(
        "+fault=429+retry_after=0.1",
        429,
        "upstream_rate_limited",
        "rate_limited",
        MAX_RETRIES + 1,
        id="429",
    ),
    pytest.param("+fault=400", 502, "upstream_error", "bad_request", 1, id="400"),
    pytest.param(
        "+fault=malformed",
        502,
        "upstream_error",
        "upstream",
        1,
        id="malformed",
    ),
]


async def failed_generation(
    http: httpx.AsyncClient, response: httpx.Response, status: int, error_type: str
) -> dict[str, Any]:
    """Check an error answer and return the generation row it names."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == error_type
    fetched = await http.get(f"/v1/generations/{error['generation_id']}")
    assert fetched.status_code == 200
    stored: dict[str, Any] = fetched.json()
    assert stored["status"] == "failed"
    assert stored["variants"] == []
    assert stored["error"]["message"] == error["message"]
    assert_no_secret(response.text, json.dumps(stored))
    return stored


class TestAppFaults:
    @pytest.mark.parametrize(("fault", "status", "api_type", "stored_type", "attempts"), APP_FAULTS)
    async def test_failure_is_answered_stored_and_counted(
        self,
        database_url: str,
        mock: Mock,
        fault: str,
        status: int,
        api_type: str,
        stored_type: str,
        attempts: int,
    ) -> None:
        model = "mock-1" + fault
        async with copyforge(database_url, {"faulty": alias_config(mock, model)}) as http:
            response = await http.post("/v1/ad-slogans", json=BRIEF)
            stored = await failed_generation(http, response, status, api_type)

        assert stored["error"]["type"] == stored_type
        assert stored["model"] == "faulty"
        assert stored["resolved_model"] is None
        assert mock.attempts(model) == attempts
        if status == 429:
            assert response.headers["retry-after"] == "1"  # 0.1 s, rounded up to whole seconds
        if (parse_model(model).fault or "").isdigit():
            # The upstream quoted the key in its error; copyforge passed on the message scrubbed.
            assert "(key ***)" in stored["error"]["message"]

    @pytest.mark.parametrize("fault", ["+fault=hang", "+fault=stall"])
    async def test_hanging_upstream_answers_504_within_the_deadline(
        self, database_url: str, mock: Mock, fault: str
    ) -> None:
        model = "mock-1" + fault
        config = alias_config(mock, model, timeout_s=HANG_TIMEOUT_S)
        async with copyforge(database_url, {"faulty": config}) as http:
            started = time.monotonic()
            response = await http.post("/v1/ad-slogans", json=BRIEF)
            elapsed = time.monotonic() - started
            stored = await failed_generation(http, response, 504, "upstream_timeout")

        assert elapsed < HANG_TIMEOUT_S + 1
        assert stored["error"]["type"] == "timeout"
        assert mock.attempts(model) == 1

    async def test_empty_completions_fail_after_the_extra_attempts(
        self, database_url: str, mock: Mock
    ) -> None:
        model = "mock-1+fault=empty"
        async with copyforge(
            database_url, {"faulty": alias_config(mock, model)}, extra_attempts=2
        ) as http:
            response = await http.post("/v1/ad-slogans", json=BRIEF)
            stored = await failed_generation(http, response, 502, "upstream_error")

        # An empty completion is an answer, not an upstream error: it is not retried as one,
        # but n + extra_attempts calls gave no text, so there is no copy to answer with.
        assert stored["error"]["type"] == "empty_output"
        assert "3 times" in stored["error"]["message"]
        assert stored["variants"] == []
        assert stored["options"]["attempts"] == 3
        assert mock.attempts(model) == 3

    async def test_fail_first_within_the_retries_succeeds(
        self, database_url: str, mock: Mock
    ) -> None:
        model = f"mock-1+fault=503+fail_first={MAX_RETRIES}"
        async with copyforge(database_url, {"faulty": alias_config(mock, model)}) as http:
            response = await http.post("/v1/ad-slogans", json=BRIEF)

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "succeeded"
        assert body["error"] is None
        assert body["resolved_model"] == "mock-1"
        assert [v["text"] for v in body["variants"]] == mock.app.state.replies
        assert mock.attempts(model) == MAX_RETRIES + 1


class TestRetryAfter:
    async def test_retry_after_is_waited_for_before_the_next_attempt(
        self, database_url: str, mock: Mock
    ) -> None:
        model = "mock-1+fault=429+retry_after=1"
        config = alias_config(mock, model, max_retries=1)
        async with copyforge(database_url, {"limited": config}) as http:
            response = await http.post("/v1/ad-slogans", json=BRIEF)

        assert response.status_code == 429
        assert response.json()["error"]["type"] == "upstream_rate_limited"
        assert response.headers["retry-after"] == "1"
        first, second = mock.arrivals(model)
        assert second - first >= 0.95

    async def test_retry_after_beyond_the_deadline_fails_at_once(
        self, database_url: str, mock: Mock
    ) -> None:
        model = "mock-1+fault=429+retry_after=30"
        timeout_s = 2.0
        config = alias_config(mock, model, max_retries=3, timeout_s=timeout_s)
        async with copyforge(database_url, {"limited": config}) as http:
            started = time.monotonic()
            response = await http.post("/v1/ad-slogans", json=BRIEF)
            elapsed = time.monotonic() - started
            stored = await failed_generation(http, response, 429, "upstream_rate_limited")

        assert elapsed < timeout_s
        assert response.headers["retry-after"] == "30"
        assert stored["error"]["type"] == "rate_limited"
        assert mock.attempts(model) == 1


class TestFallback:
    @pytest.mark.parametrize(
        ("fault", "primary_attempts"),
        [("+fault=500", 2), ("+fault=reset", 2), ("+fault=hang", 1)],
    )
    async def test_failing_primary_is_answered_by_the_fallback(
        self, database_url: str, mock: Mock, fault: str, primary_attempts: int
    ) -> None:
        primary = "mock-primary" + fault
        models = {
            "primary": alias_config(
                mock, primary, max_retries=1, timeout_s=HANG_TIMEOUT_S, fallback="backup"
            ),
            "backup": alias_config(mock, "mock-backup"),
        }
        async with copyforge(database_url, models) as http:
            response = await http.post("/v1/ad-slogans", json=BRIEF)
            body = response.json()
            stored = (await http.get(f"/v1/generations/{body['id']}")).json()

        assert response.status_code == 201, response.text
        assert body["status"] == "succeeded"
        assert body["model"] == "primary"
        assert body["fallback_model"] == "backup"
        assert body["resolved_model"] == "mock-backup"
        assert body["variants"][0]["text"] in SLOGANS_EN
        assert (stored["fallback_model"], stored["resolved_model"]) == ("backup", "mock-backup")
        assert mock.attempts(primary) == primary_attempts
        assert mock.attempts("mock-backup") == 1

    async def test_bad_request_on_the_primary_does_not_fall_back(
        self, database_url: str, mock: Mock
    ) -> None:
        models = {
            "primary": alias_config(mock, "mock-primary+fault=400", fallback="backup"),
            "backup": alias_config(mock, "mock-backup"),
        }
        async with copyforge(database_url, models) as http:
            response = await http.post("/v1/ad-slogans", json=BRIEF)
            stored = await failed_generation(http, response, 502, "upstream_error")

        assert stored["error"]["type"] == "bad_request"
        assert stored["fallback_model"] is None
        assert mock.attempts("mock-primary+fault=400") == 1
        assert mock.attempts("mock-backup") == 0
