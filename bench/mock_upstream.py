"""A small OpenAI-compatible chat-completions server for tests and benchmarks.

It answers with plausible copy for the kind of prompt it receives, in the prompt's language,
streaming included. Run it: `python -m bench.mock_upstream --port 9100`.
"""

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SLOGAN_EN = "Grip that holds when the rock gets wet."
SLOGAN_ZH = "湿滑岩面，步步抓稳。"
DESCRIPTION_EN = (
    "Meet the product built for people who want less fuss and more done. It handles the "
    "everyday jobs quickly and quietly, so you spend your time on what matters. Every feature "
    "earns its place: simple controls, solid materials and a design that fits small spaces. "
    "Set it up in minutes, clean it in seconds, and rely on it every single day. It is the "
    "kind of tool you stop noticing because it simply works, morning after morning."
)
DESCRIPTION_ZH = (
    "这款产品专为追求省心高效的你打造。日常使用快速安静，让你把时间留给真正重要的事。"
    "每一项功能都恰到好处：操作简单，用料扎实，小空间也能轻松容纳。几分钟即可上手，清洁只需片刻，"
    "每天都能放心使用。好用到让你忘记它的存在，这就是它最自然的样子。"
)
BLOG_EN = (
    "# A Practical Guide\n\n## Why it matters\n\n"
    + " ".join(["Choosing well saves money, time and frustration over the years ahead."] * 8)
    + "\n\n## What to look for\n\n"
    + " ".join(["Look at grip, weight and fit before anything else, and try before buying."] * 10)
    + "\n\n## Conclusion\n\nStart with your needs, compare honestly, and buy once."
)
BLOG_ZH = (
    "# 实用选购指南\n\n## 为什么重要\n\n"
    + "选得好，能在今后几年里省下金钱、时间和烦恼。" * 10
    + "\n\n## 要看什么\n\n"
    + "先看抓地力、重量和贴合度，最好亲自试穿后再决定。" * 12
    + "\n\n## 结语\n\n从自己的需求出发，认真比较，一次买对。"
)


def reply_for(prompt: str) -> str:
    """Canned copy matching the kind and language the prompt asks for."""
    chinese = "广告语" in prompt or "文案" in prompt or "博客" in prompt
    if "slogan" in prompt.lower() or "广告语" in prompt:
        return SLOGAN_ZH if chinese else SLOGAN_EN
    if "blog" in prompt.lower() or "博客" in prompt:
        return BLOG_ZH if chinese else BLOG_EN
    return DESCRIPTION_ZH if chinese else DESCRIPTION_EN


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


async def chat_completions(request: Request) -> Response:
    """POST /v1/chat/completions, plain or streamed."""
    body: dict[str, Any] = await request.json()
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    text = reply_for(prompt)
    model = body.get("model", "mock")
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
    created = int(time.time())
    usage = {
        "prompt_tokens": _tokens(prompt),
        "completion_tokens": _tokens(text),
        "total_tokens": _tokens(prompt) + _tokens(text),
    }
    request.app.state.calls.append(body)
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


def create_mock_app() -> Starlette:
    """The mock upstream as an ASGI app; `app.state.calls` records every request body."""
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
        ]
    )
    app.state.calls = []
    return app


def main() -> None:
    """Serve the mock on 127.0.0.1."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    uvicorn.run(create_mock_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
