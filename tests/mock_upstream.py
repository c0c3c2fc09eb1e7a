"""A small OpenAI-compatible chat-completions server for tests and benchmarks.

It answers with plausible copy for the kind of prompt it receives, in the prompt's language,
streaming included. The request's seed (else a request counter) picks one of five variants,
so the `n` variants of a generation differ. Run it: `python -m tests.mock_upstream --port 9100`.

Faults are chosen per request through the `model` field, the one thing a client such as
copyforge's openai_compat provider varies per alias: a name, then `+key=value` options in any
order. Answers name the model without its options (`mock-1+delay=2` answers as `mock-1`).

| model                            | answer                                                  |
|----------------------------------|---------------------------------------------------------|
| `mock-1`                         | a normal completion, plain or streamed                  |
| `mock-1+delay=1.5`               | the same, after 1.5 s (combines with any fault)         |
| `mock-1+drip=0.2`                | streamed: 0.2 s before each delta (a slow model)        |
| `mock-1+fault=500`               | that HTTP status (any of 400-599), OpenAI's error shape |
| `mock-1+fault=429+retry_after=1` | the same, with `Retry-After: 1`                         |
| `mock-1+fault=reset`             | the TCP connection closed, no response at all           |
| `mock-1+fault=hang`              | nothing until the client hangs up (others still served) |
| `mock-1+fault=stall`             | headers and half the body (streamed: some deltas), then |
|                                  | nothing until the client hangs up                       |
| `mock-1+fault=cut`               | headers and half the body (streamed: some deltas, no    |
|                                  | final chunk, no `[DONE]`), then the connection closed   |
| `mock-1+fault=malformed`         | 200 whose body (streamed: first event) is not JSON      |
| `mock-1+fault=empty`             | a normal completion whose content is ""                 |
| `mock-1+fault=503+fail_first=2`  | the fault for the first 2 requests with exactly this    |
|                                  | model string, normal answers after that (retry tests)   |

An unknown option or value gets a 400. Error messages quote the bearer token the request
carried (as OpenAI's 401 does), so tests can check that a client never repeats it. `hang` and
`stall` give up after HANG_LIMIT_S and finish the answer. `reset` and `cut` close the socket
itself, so they need the mock served by uvicorn (as `main` and the tests serve it).
`app.state.attempts[model]` counts the requests per exact model string (see create_mock_app).
"""

import argparse
import asyncio
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from tests.fakes import structured_answer
from tests.prose import prose

# Five variants of each kind and language (a request with `n` up to the default max_n gets
# distinct copy); a request's seed picks one, else the count of requests served so far does.
SLOGANS_EN = (
    "Grip that holds when the rock gets wet.",
    "Wet rock, steady feet, every mile.",
    "Steady footing on slippery stone.",
    "Keep your footing when the trail turns wet.",
    "Run the wet ridge without a second thought.",
)
SLOGANS_ZH = (
    "湿滑岩面，步步抓稳。",
    "雨后山路，一样稳稳向前。",
    "每一步，都踩得踏实。",
    "湿地不打滑，越野更放心。",
    "石面再滑，脚下依旧稳。",
)
_DESCRIPTION_EN = (
    "It handles the everyday jobs quickly and quietly, so you spend your time on what matters. "
    "Every feature earns its place: simple controls, solid materials and a design that fits "
    "small spaces. Set it up in minutes, clean it in seconds, and rely on it every single day. "
    "It is the kind of tool you stop noticing because it simply works, morning after morning."
)
DESCRIPTIONS_EN = tuple(
    f"{opening} {_DESCRIPTION_EN}"
    for opening in (
        "Meet the product built for people who want less fuss and more done.",
        "Made for busy people who would rather get things done than fiddle.",
        "A helper for anyone who values a calm, quick routine.",
        "Built for small homes and full days, it keeps things simple.",
        "If you want fewer chores and more free time, start here.",
    )
)
_DESCRIPTION_ZH = (
    "日常使用快速安静，让你把时间留给真正重要的事。每一项功能都恰到好处：操作简单，用料扎实，"
    "小空间也能轻松容纳。几分钟即可上手，清洁只需片刻，每天都能放心使用。"
    "好用到让你忘记它的存在，这就是它本来的样子。"
)
DESCRIPTIONS_ZH = tuple(
    opening + _DESCRIPTION_ZH
    for opening in (
        "这款产品专为追求省心高效的你打造。",
        "忙碌的日子里，它帮你把小事做好。",
        "小户型也能拥有的贴心好帮手。",
        "想少做家务、多些自在，就从它开始。",
        "简单可靠，是它给每个家庭的承诺。",
    )
)
_BLOG_EN = (
    "\n\n## Why it matters\n\n"
    + prose(120, 1)
    + "\n\n## What to look for\n\n"
    + prose(160, 2)
    + "\n\n## Conclusion\n\nStart with your needs, compare honestly, and buy once."
)
BLOGS_EN = tuple(
    f"# {title}{_BLOG_EN}"
    for title in (
        "A Practical Guide",
        "What to Check Before You Buy",
        "Choosing With Confidence",
        "A Buyer's Checklist",
        "Buy Once, Buy Well",
    )
)
_BLOG_ZH = (
    "\n\n## 为什么重要\n\n"
    + prose(200, 1, language="zh")
    + "\n\n## 要看什么\n\n"
    + prose(240, 2, language="zh")
    + "\n\n## 结语\n\n从自己的需求出发，认真比较，一次买对。"
)
BLOGS_ZH = tuple(
    f"# {title}{_BLOG_ZH}"
    for title in ("实用选购指南", "购买前要看的几件事", "放心挑选的办法", "选购清单", "一次买对")
)


def _is_chinese(prompt: str) -> bool:
    han = len(re.findall(r"[\u4e00-\u9fff]", prompt))
    latin = len(re.findall(r"[A-Za-z]", prompt))
    return han > 0.3 * (han + latin)


def _asked_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of a `response_format`: OpenAI's `json_schema` form or the
    `json_object` with a `schema` that llama-cpp-python's server takes."""
    asked = body.get("response_format")
    if not isinstance(asked, dict):
        return None
    if asked.get("type") == "json_schema":
        schema = asked.get("json_schema", {}).get("schema")
    else:
        schema = asked.get("schema") if asked.get("type") == "json_object" else None
    return schema if isinstance(schema, dict) else None


def reply_for(prompt: str, variant: int = 0) -> str:
    """Canned copy matching the kind and language the prompt asks for; `variant` picks one."""
    chinese = _is_chinese(prompt)
    if "slogan" in prompt.lower() or "广告语" in prompt:
        replies: tuple[str, ...] = SLOGANS_ZH if chinese else SLOGANS_EN
    elif "blog" in prompt.lower() or "博客" in prompt:
        replies = BLOGS_ZH if chinese else BLOGS_EN
    else:
        replies = DESCRIPTIONS_ZH if chinese else DESCRIPTIONS_EN
    return replies[variant % len(replies)]


def token_count(text: str) -> int:
    """The mock's stand-in for a tokenizer: about four characters a token."""
    return max(1, len(text) // 4)


HANG_LIMIT_S = 300.0  # how long `hang` and `stall` wait for a client that never leaves
_WORD_FAULTS = frozenset({"reset", "hang", "stall", "cut", "malformed", "empty"})


@dataclass(frozen=True)
class MockModel:
    """A request's `model` field, parsed: the model name and the fault it asks for."""

    name: str
    fault: str | None = None  # one of _WORD_FAULTS, or an HTTP status in digits
    delay_s: float = 0.0
    drip_s: float = 0.0
    retry_after: str | None = None
    fail_first: int | None = None


def parse_model(model: str) -> MockModel:
    """`name+key=value+...` as a MockModel; ValueError for an option the mock doesn't know."""
    name, *options = model.split("+")
    fields: dict[str, Any] = {}
    for option in options:
        key, _, value = option.partition("=")
        try:
            if key == "fault" and (value in _WORD_FAULTS or 400 <= int(value) <= 599):
                fields["fault"] = value
            elif key == "delay" and float(value) >= 0:
                fields["delay_s"] = float(value)
            elif key == "drip" and float(value) >= 0:
                fields["drip_s"] = float(value)
            elif key == "retry_after" and float(value) >= 0:
                fields["retry_after"] = value
            elif key == "fail_first" and int(value) >= 0:
                fields["fail_first"] = int(value)
            else:
                raise ValueError(option)
        except ValueError:
            raise ValueError(f"Mock upstream: bad option {option!r} in model {model!r}.") from None
    return MockModel(name, **fields)


def _bearer(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ")


def _error(status: int, message: str, *, retry_after: str | None = None) -> JSONResponse:
    """An error answer shaped like OpenAI's."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    error = {"message": message, "type": kind, "code": None}
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _unauthorized(request: Request) -> Response | None:
    """A 401 like OpenAI's (it echoes the key it got) when the app requires another key."""
    expected: str | None = request.app.state.api_key
    given = _bearer(request)
    if expected is None or given == expected:
        return None
    error = {
        "message": f"Incorrect API key provided: {given}.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
    return JSONResponse({"error": error}, status_code=401)


def _drop_connection(request: Request) -> None:
    """Close the TCP connection at once (uvicorn's `receive` is bound to its connection)."""
    transport: Any = getattr(getattr(request.receive, "__self__", None), "transport", None)
    if not hasattr(transport, "abort"):
        raise RuntimeError("fault=reset and fault=cut need the mock served by uvicorn")
    transport.abort()


async def _until_disconnected(request: Request, limit_s: float = HANG_LIMIT_S) -> bool:
    """Wait for the client to hang up (True), or `limit_s` to pass (False)."""
    # Blocks on the connection's receive channel (no polling: cheap with hundreds waiting).
    # The body has been read, so the next message the server delivers is the disconnect.
    try:
        async with asyncio.timeout(limit_s):
            while (await request.receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return False
    return True


class _Broken(Response):
    """The start of an answer (`sent` bytes of the body; None: not even the headers), then a
    closed connection (`drop`) or silence until the client leaves or HANG_LIMIT_S passes."""

    def __init__(self, request: Request, body: bytes, *, sent: int | None, drop: bool) -> None:
        super().__init__(body, media_type="application/json")
        self.request, self.sent, self.drop = request, sent, drop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.sent is not None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            part = self.body[: self.sent]
            await send({"type": "http.response.body", "body": part, "more_body": True})
        if self.drop:
            _drop_connection(self.request)
        if await _until_disconnected(self.request):
            return
        if self.sent is None:  # the limit passed: finish the answer after all
            await super().__call__(scope, receive, send)
        else:
            await send({"type": "http.response.body", "body": self.body[self.sent :]})


async def chat_completions(request: Request) -> Response:
    """POST /v1/chat/completions, plain or streamed, with the fault its model asks for."""
    state = request.app.state
    state.headers.append(dict(request.headers))
    body: dict[str, Any] = await request.json()
    model = str(body.get("model", "mock"))
    state.attempts[model] += 1
    nth = state.attempts[model]
    state.arrivals.setdefault(model, []).append(time.monotonic())
    if (denied := _unauthorized(request)) is not None:
        return denied
    try:
        spec = parse_model(model)
    except ValueError as exc:
        return _error(400, str(exc))
    if spec.delay_s and await _until_disconnected(request, spec.delay_s):
        return Response(status_code=499)  # the client left during the delay: nobody to answer
    fault = spec.fault if spec.fail_first is None or nth <= spec.fail_first else None
    streamed = bool(body.get("stream"))
    if fault is not None and fault.isdigit():
        message = f"Mock fault {fault} for model {model!r} (key {_bearer(request)})."
        return _error(int(fault), message, retry_after=spec.retry_after)
    if fault in ("reset", "hang"):
        return _Broken(request, b"", sent=None, drop=fault == "reset")
    if fault == "malformed":
        if streamed:
            garbled = ['data: {"id": "chatcmpl-\n\n', "data: [DONE]\n\n"]
            return StreamingResponse(iter(garbled), media_type="text/event-stream")
        return Response(b'{"id": "chatcmpl-', media_type="application/json")

    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    seed = body.get("seed")
    calls: list[dict[str, Any]] = state.calls
    variant = seed if isinstance(seed, int) else len(calls)
    text = "" if fault == "empty" else reply_for(prompt, variant)
    if (schema := _asked_schema(body)) is not None and fault != "empty":
        # A server that takes a schema answers with JSON of it, as OpenAI's and vLLM's do.
        answer = structured_answer(schema, variant, _is_chinese(prompt))
        text = json.dumps(answer, ensure_ascii=False)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
    created = int(time.time())
    usage = {
        "prompt_tokens": token_count(prompt),
        "completion_tokens": token_count(text),
        "total_tokens": token_count(prompt) + token_count(text),
    }
    if fault in (None, "empty"):  # the whole answer will be sent
        calls.append(body)
        state.replies.append(text)
    if not streamed:
        completion = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": spec.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        if fault in ("cut", "stall"):
            encoded = json.dumps(completion).encode()
            return _Broken(request, encoded, sent=len(encoded) // 2, drop=fault == "cut")
        return JSONResponse(completion)

    async def events() -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None, with_usage: bool = False) -> str:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": spec.name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if with_usage:
                data["choices"] = []
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""}, None)
        for start in range(0, len(text), 8):
            if fault in ("cut", "stall") and start == len(text) // 16 * 8:
                if fault == "cut":
                    _drop_connection(request)
                await _until_disconnected(request)
            await asyncio.sleep(spec.drip_s)
            yield chunk({"content": text[start : start + 8]}, None)
        yield chunk({}, "stop")
        if body.get("stream_options", {}).get("include_usage"):
            yield chunk({}, None, with_usage=True)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def list_models(request: Request) -> Response:
    """GET /v1/models."""
    return JSONResponse({"object": "list", "data": [{"id": "mock", "object": "model"}]})


def create_mock_app(*, api_key: str | None = None) -> Starlette:
    """The mock upstream as an ASGI app.

    `app.state.calls` records the body of every completion request it answered in full,
    `app.state.replies` the text it answered with (same order), and `app.state.headers` the
    headers of every completion request, answered or refused. `app.state.attempts` counts the
    completion requests per model string (faulted, refused or answered) and
    `app.state.arrivals` lists when each arrived (time.monotonic()). With `api_key`, requests
    without `Authorization: Bearer <api_key>` get a 401.
    """
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
        ]
    )
    app.state.calls = []
    app.state.replies = []
    app.state.headers = []
    app.state.attempts = Counter[str]()
    app.state.arrivals = {}
    app.state.api_key = api_key
    return app


def main() -> None:
    """Serve the mock on 127.0.0.1."""
    import uvicorn

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--api-key", help="answer 401 unless this Bearer token is sent")
    args = parser.parse_args()
    app = create_mock_app(api_key=args.api_key)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
