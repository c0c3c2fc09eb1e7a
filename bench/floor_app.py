"""The do-nothing services bench/floor.py measures: copyforge's stack without copyforge.

Each factory builds a FastAPI app with one `POST /v1/ad-slogans` that validates a small
pydantic body (product, key_message, n) and answers 201 with a small JSON dict:

- `create_bare_app`: nothing else; no upstream call.
- `create_sdk_app`: one chat completion to the upstream the way copyforge makes it, with the
  official `openai` SDK over its aiohttp transport (`DefaultAioHttpClient`),
  `client.post("/chat/completions", ..., cast_to=httpx2.Response)` and copyforge's own
  reading of the answer (`app.llm.openai_compat.parse_completion`).
- `create_aiohttp_app`: the same completion with plain aiohttp, no SDK: what a thinner
  client would cost.
- `create_sdk_default_create_app`: the same completion with the SDK's default HTTP client and
  `client.chat.completions.create(...)`, the way most apps call it.

The SDK apps read the upstream's `/v1` URL from the FLOOR_UPSTREAM environment variable (the
mock, tests/mock_upstream.py, answers model `mock-1`). Every app also has `GET /readyz`, so
bench.common.wait_ready can tell when it is up. Run one (bench/floor.py does):
`python -m uvicorn bench.floor_app:create_bare_app --factory --port 8000`.
"""

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import httpx2
import openai
from fastapi import FastAPI
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel

from app.llm.openai_compat import parse_completion

UPSTREAM_ENV = "FLOOR_UPSTREAM"
MODEL = "mock-1"
MAX_TOKENS = 60
SYSTEM = (
    "You are a senior copywriter at a marketing agency. You write short, memorable advertising "
    "slogans for consumer products. Each slogan is one line of at most twelve words, in plain "
    "language, with no hashtags, no emoji and no quotation marks. Never invent claims the brief "
    "does not make, never name competitors, and keep the tone confident but not pushy."
)
USER = (
    "Write one advertising slogan for the product below.\n"
    "Product: {product}\n"
    "Key message: {key_message}\n"
    "The slogan must carry the key message, suit a poster or a banner, and read well aloud. "
    "Answer with the slogan only."
)

# One chat completion: the client and the messages in, the answer's text out.
Complete = Callable[[openai.AsyncOpenAI, list[ChatCompletionMessageParam]], Awaitable[str]]


class Brief(BaseModel):
    """The request body: what to write about and how many slogans."""

    product: str
    key_message: str
    n: int


def messages(brief: Brief) -> list[ChatCompletionMessageParam]:
    """The system and user messages for a brief (a few hundred characters each)."""
    user = USER.format(product=brief.product, key_message=brief.key_message)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def answer(brief: Brief, text: str) -> dict[str, object]:
    """The small JSON body every app answers with."""
    return {"product": brief.product, "n": brief.n, "slogans": [text]}


def add_readyz(app: FastAPI) -> None:
    """`GET /readyz`, answering 200 once the app serves (after the ad-slogans route)."""

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}


def create_bare_app() -> FastAPI:
    """The route with validation and a JSON answer, and nothing else."""
    app = FastAPI()

    @app.post("/v1/ad-slogans", status_code=201)
    async def ad_slogans(brief: Brief) -> dict[str, object]:
        return answer(brief, "Grip the wet rock, own the trail.")

    add_readyz(app)
    return app


def sdk_app(make_client: Callable[[], openai.AsyncOpenAI], complete: Complete) -> FastAPI:
    """The route making one completion per request with a client opened for the app's life."""
    clients: list[openai.AsyncOpenAI] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with make_client() as client:
            clients.append(client)
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/ad-slogans", status_code=201)
    async def ad_slogans(brief: Brief) -> dict[str, object]:
        return answer(brief, await complete(clients[0], messages(brief)))

    add_readyz(app)
    return app


def upstream() -> str:
    """The upstream's `/v1` URL, from FLOOR_UPSTREAM."""
    url = os.environ.get(UPSTREAM_ENV)
    if not url:
        raise RuntimeError(f"set {UPSTREAM_ENV} to the upstream's /v1 URL")
    return url


async def post_completion(
    client: openai.AsyncOpenAI, chat: list[ChatCompletionMessageParam]
) -> str:
    """copyforge's call: the raw endpoint, the raw answer, the fields copyforge keeps."""
    body = {"model": MODEL, "messages": chat, "max_tokens": MAX_TOKENS}
    response = await client.post("/chat/completions", body=body, cast_to=httpx2.Response)
    return parse_completion(response.content).text


async def create_completion(
    client: openai.AsyncOpenAI, chat: list[ChatCompletionMessageParam]
) -> str:
    """The usual call: `chat.completions.create`."""
    completion = await client.chat.completions.create(
        model=MODEL, messages=chat, max_tokens=MAX_TOKENS
    )
    return completion.choices[0].message.content or ""


def create_sdk_app() -> FastAPI:
    """One completion per request as copyforge makes it: aiohttp transport, `client.post`."""
    url = upstream()

    def make_client() -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=url, api_key="x", max_retries=0, http_client=openai.DefaultAioHttpClient()
        )

    return sdk_app(make_client, post_completion)


def create_aiohttp_app() -> FastAPI:
    """One completion per request without the SDK: plain aiohttp, the same reading."""
    url = upstream()
    sessions: list[aiohttp.ClientSession] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            sessions.append(session)
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/ad-slogans", status_code=201)
    async def ad_slogans(brief: Brief) -> dict[str, object]:
        body = {"model": MODEL, "messages": messages(brief), "max_tokens": MAX_TOKENS}
        async with sessions[0].post(f"{url}/chat/completions", json=body) as response:
            response.raise_for_status()
            text = parse_completion(await response.read()).text
        return answer(brief, text)

    add_readyz(app)
    return app


def create_sdk_default_create_app() -> FastAPI:
    """One completion per request as most apps make it: default client, `create`."""
    url = upstream()

    def make_client() -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)

    return sdk_app(make_client, create_completion)
