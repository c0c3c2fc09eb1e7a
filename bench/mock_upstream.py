"""A small OpenAI-compatible chat-completions server for tests and benchmarks.

It answers with plausible copy for the kind of prompt it receives, in the prompt's language,
streaming included. The request's seed (else a request counter) picks one of five variants,
so the `n` variants of a generation differ. Run it: `python -m bench.mock_upstream --port 9100`.
"""

import argparse
import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

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
    + " ".join(["Choosing well saves money, time and frustration over the years ahead."] * 12)
    + "\n\n## What to look for\n\n"
    + " ".join(["Look at grip, weight and fit before anything else, and try before buying."] * 16)
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
    + "选得好，能在今后几年里省下金钱、时间和烦恼。" * 10
    + "\n\n## 要看什么\n\n"
    + "先看抓地力、重量和贴合度，建议亲自试穿后再决定。" * 12
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


def _unauthorized(request: Request) -> Response | None:
    """A 401 like OpenAI's (it echoes the key it got) when the app requires another key."""
    expected: str | None = request.app.state.api_key
    given = request.headers.get("authorization", "").removeprefix("Bearer ")
    if expected is None or given == expected:
        return None
    error = {
        "message": f"Incorrect API key provided: {given}.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
    return JSONResponse({"error": error}, status_code=401)


async def chat_completions(request: Request) -> Response:
    """POST /v1/chat/completions, plain or streamed."""
    request.app.state.headers.append(dict(request.headers))
    if (denied := _unauthorized(request)) is not None:
        return denied
    body: dict[str, Any] = await request.json()
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    seed = body.get("seed")
    calls: list[dict[str, Any]] = request.app.state.calls
    text = reply_for(prompt, seed if isinstance(seed, int) else len(calls))
    model = body.get("model", "mock")
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
    created = int(time.time())
    usage = {
        "prompt_tokens": token_count(prompt),
        "completion_tokens": token_count(text),
        "total_tokens": token_count(prompt) + token_count(text),
    }
    calls.append(body)
    request.app.state.replies.append(text)
    if not body.get("stream"):
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )

    async def events() -> AsyncIterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None, with_usage: bool = False) -> str:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            if with_usage:
                data["choices"] = []
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n"

        yield chunk({"role": "assistant", "content": ""}, None)
        for start in range(0, len(text), 8):
            yield chunk({"content": text[start : start + 8]}, None)
            await asyncio.sleep(0)
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

    `app.state.calls` records the body of every completion request it answered,
    `app.state.replies` the text it answered with (same order), and `app.state.headers` the
    headers of every completion request, answered or refused. With `api_key`, requests without
    `Authorization: Bearer <api_key>` get a 401.
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
    app.state.api_key = api_key
    return app


def main() -> None:
    """Serve the mock on 127.0.0.1."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--api-key", help="answer 401 unless this Bearer token is sent")
    args = parser.parse_args()
    app = create_mock_app(api_key=args.api_key)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
