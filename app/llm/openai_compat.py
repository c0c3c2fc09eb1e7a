"""Any OpenAI-compatible chat-completions API, through the official `openai` SDK.

The SDK still builds, sends and times every request and turns every failed status into its
typed error; three choices keep its own CPU cost per call low (measured in
docs/benchmarks.md, "What was changed, with the profile that pointed at it"):
- the SDK's aiohttp transport (`DefaultAioHttpClient`) instead of its default HTTP client,
  whose connection pool checks every idle connection on every request;
- `client.post("/chat/completions", ...)`, the SDK's documented call for a raw endpoint:
  `chat.completions.create` first walks the request through the SDK's parameter
  transformer, which changes nothing in a body of plain strings and numbers;
- a plain (non-streamed) answer comes back as the raw response and only the five fields
  copyforge stores are read from it, instead of building the typed `ChatCompletion`.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import httpx2
import openai
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from app.config import ModelConfig
from app.llm.base import Completion, GenerationOptions, LLMError, Message, StreamDelta, StreamEvent
from app.llm.grammar import line_grammar, sampling_schema
from app.llm.retry import with_retries


def _lost_connection(exc: BaseException) -> bool:
    """True when a failure was a dropped or refused connection, not a timeout.

    The aiohttp transport reports every `aiohttp.ClientConnectionError` as a connect
    timeout, so the SDK raises APITimeoutError for a reset too; the original error says which."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False


def parse_completion(body: bytes) -> Completion:
    """The fields copyforge keeps of a chat completion; any other shape is a broken upstream."""
    try:
        data = json.loads(body)
        choices = data["choices"]
        if not isinstance(choices, list):
            raise TypeError("choices is not a list")
        if not choices:
            raise LLMError("upstream", "The model API answered with no choices.")
        choice, usage = choices[0], data.get("usage") or {}
        text = (choice.get("message") or {}).get("content") or ""
        finish_reason, model = choice.get("finish_reason"), data.get("model")
        if not all(isinstance(v, str | None) for v in (text, finish_reason, model)):
            raise TypeError("not text")
        return Completion(
            text=text,
            finish_reason=finish_reason,
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            resolved_model=model,
        )
    except (ValueError, LookupError, TypeError, AttributeError):
        raise LLMError("upstream", "The model API answered with a malformed body.") from None


def _retry_after_s(headers: Any) -> float | None:
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        import datetime as dt

        return (parsedate_to_datetime(value) - dt.datetime.now(dt.UTC)).total_seconds()
    except (TypeError, ValueError):
        return None


class OpenAICompatClient:
    """A model alias served by an OpenAI-compatible HTTP API."""

    provider = "openai_compat"

    def __init__(self, alias: str, config: ModelConfig) -> None:
        assert config.base_url
        assert config.model
        self.alias = alias
        self.config = config
        key = config.api_key()
        self._secret = key.get_secret_value() if key else None
        # Retries are ours (deadline-aware, counted), so the SDK makes exactly one attempt.
        self._client = AsyncOpenAI(
            base_url=config.base_url,
            api_key=self._secret or "not-needed",
            max_retries=0,
            timeout=openai.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            http_client=DefaultAioHttpClient(),
        )

    def describe(self) -> dict[str, Any]:
        """Public facts about this alias."""
        return {
            "provider": self.provider,
            "model": self.config.model,
            "base_url": self.config.base_url,
            "timeout_s": self.config.timeout_s,
            "max_retries": self.config.max_retries,
            "response_format": self.config.response_format,
        }

    def _timeout(self, remaining_s: float) -> openai.Timeout:
        # A whole Timeout, not a number: a number per call would replace the client's
        # connect timeout too, and a host that never completes the handshake would hold the
        # call for the whole deadline instead of failing fast and being retried.
        return openai.Timeout(remaining_s, connect=min(self.config.connect_timeout_s, remaining_s))

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _error(self, exc: Exception) -> LLMError:
        if isinstance(exc, openai.APITimeoutError) and not _lost_connection(exc):
            return LLMError("timeout", "The model API timed out.")
        if isinstance(exc, openai.APIConnectionError):
            return LLMError("connection", self._scrub(f"Could not reach the model API: {exc}"))
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            kind: Any = "upstream"
            if status == 429:
                kind = "rate_limited"
            elif 400 <= status < 500 and status not in (401, 403, 408, 409):
                kind = "bad_request"
            return LLMError(
                kind,
                self._scrub(f"The model API failed: {exc.message}"),
                status_code=status,
                retry_after_s=_retry_after_s(exc.response.headers),
            )
        return LLMError("upstream", self._scrub(f"The model API failed: {exc}"))

    def _request(self, messages: Sequence[Message], options: GenerationOptions) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": options.max_tokens,
        }
        for name in ("temperature", "top_p", "seed"):
            if (value := getattr(options, name)) is not None:
                request[name] = value
        if options.stop:
            request["stop"] = list(options.stop)
        schema = options.constraints.json_schema
        if schema is not None and self.config.response_format == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "copy", "schema": sampling_schema(schema), "strict": True},
            }
        elif schema is not None and self.config.response_format == "json_object":
            request["response_format"] = {"type": "json_object", "schema": sampling_schema(schema)}
        elif self.config.accepts_grammar and options.constraints.one_line:
            # Not an OpenAI field: servers that take it sample under it, as local models do.
            request["grammar"] = line_grammar(options.constraints.max_chars)
        return request

    async def complete(self, messages: Sequence[Message], options: GenerationOptions) -> Completion:
        """One chat completion, retried per the alias's policy within its deadline."""
        request = self._request(messages, options)

        async def attempt(remaining_s: float) -> Completion:
            try:
                response = await self._client.post(
                    "/chat/completions",
                    body=request,
                    cast_to=httpx2.Response,
                    options={"timeout": self._timeout(remaining_s)},
                )
            except Exception as exc:  # SDK errors
                raise self._error(exc) from None  # the SDK error may quote the key
            return parse_completion(response.content)

        return await with_retries(
            attempt, max_retries=self.config.max_retries, deadline_s=self.config.timeout_s
        )

    async def stream(
        self, messages: Sequence[Message], options: GenerationOptions
    ) -> AsyncIterator[StreamEvent]:
        """Deltas as they arrive, then the Completion; retried only before the first delta."""
        request = self._request(messages, options)

        async def open_stream(remaining_s: float) -> AsyncStream[ChatCompletionChunk]:
            try:
                return await self._client.post(
                    "/chat/completions",
                    body={**request, "stream": True, "stream_options": {"include_usage": True}},
                    cast_to=ChatCompletion,
                    options={"timeout": self._timeout(remaining_s)},
                    stream=True,
                    stream_cls=AsyncStream[ChatCompletionChunk],
                )
            except Exception as exc:  # SDK errors, and JSON errors from a malformed body
                raise self._error(exc) from None  # the SDK error may quote the key

        deadline = time.monotonic() + self.config.timeout_s
        stream = await with_retries(
            open_stream, max_retries=self.config.max_retries, deadline_s=self.config.timeout_s
        )
        chunks = aiter(stream)
        parts: list[str] = []
        finish_reason = None
        resolved_model = None
        input_tokens = output_tokens = 0
        try:
            while True:
                # The deadline covers the whole answer, not just each read: a model that
                # drips tokens forever is cut off like one that never answers.
                try:
                    chunk = await asyncio.wait_for(anext(chunks), deadline - time.monotonic())
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise LLMError(
                        "timeout", f"The model did not finish within {self.config.timeout_s:g} s."
                    ) from None
                resolved_model = chunk.model or resolved_model
                if chunk.usage:
                    input_tokens = chunk.usage.prompt_tokens
                    output_tokens = chunk.usage.completion_tokens
                for choice in chunk.choices[:1]:
                    if choice.delta and choice.delta.content:
                        parts.append(choice.delta.content)
                        yield StreamDelta(choice.delta.content)
                    finish_reason = choice.finish_reason or finish_reason
        except LLMError:
            raise
        except Exception as exc:  # a cut or malformed stream
            raise self._error(exc) from None  # the SDK error may quote the key
        finally:
            await stream.close()
        yield Completion(
            text="".join(parts),
            finish_reason=finish_reason,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            resolved_model=resolved_model,
        )

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()
