"""Interop with an OpenAI-compatible server nobody here wrote: llama-cpp-python's own server,
running the embedded GGUF on 127.0.0.1, driven by copyforge's `openai_compat` provider."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import ModelConfig, Settings
from app.kinds import KINDS
from app.llm.base import Completion, Constraints, GenerationOptions, Message, StreamDelta
from app.llm.local import smollm2_path
from app.llm.openai_compat import OpenAICompatClient
from app.main import create_app
from tests.payloads import PATHS, brief
from tests.processes import answers
from tests.servers import free_port

pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on a free loopback port, stopped after the module."""
    model = smollm2_path()
    assert model is not None, "needs the [local] extra"
    port = free_port()
    # A file, not a pipe: nobody reads the server's chatter, and a full pipe would block it.
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+b")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.llama_server",
            "--model",
            str(model),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--model_alias",
            "smollm2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        cwd=Path(__file__).resolve().parents[1],  # where `tests` is a package
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        if not answers(f"{base}/v1/models", process, 60):
            log.seek(0)
            stderr = log.read().decode(errors="replace")
            exited = process.poll() is not None
            what = "exited before it answered" if exited else "did not answer within 60 s"
            raise RuntimeError(f"llama_cpp.server {what}: {stderr[-2000:]}")
        yield f"{base}/v1"
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def alias_config(base_url: str) -> ModelConfig:
    return ModelConfig(provider="openai_compat", base_url=base_url, model="smollm2", timeout_s=120)


async def test_stream_through_the_real_sdk(llama_server: str) -> None:
    client = OpenAICompatClient("smollm2", alias_config(llama_server))
    messages = [Message("system", "You write slogans."), Message("user", "A slogan for tea:")]
    try:
        events = [
            e async for e in client.stream(messages, GenerationOptions(max_tokens=24, seed=2))
        ]
    finally:
        await client.aclose()
    deltas = [e.text for e in events if isinstance(e, StreamDelta)]
    final = events[-1]
    assert isinstance(final, Completion)
    assert len(deltas) > 1
    assert "".join(deltas) == final.text
    assert final.resolved_model == "smollm2"


async def test_a_server_that_accepts_a_grammar_samples_one_line_within_the_limit(
    llama_server: str,
) -> None:
    messages = [Message("user", "Write three slogans for tea, one per line, with numbers.")]
    constraints = Constraints(one_line=True, max_chars=24)
    options = GenerationOptions(max_tokens=48, seed=5, constraints=constraints)
    free = OpenAICompatClient("smollm2", alias_config(llama_server))
    constrained = OpenAICompatClient(
        "smollm2", alias_config(llama_server).model_copy(update={"accepts_grammar": True})
    )
    try:
        unconstrained_text = (await free.complete(messages, options)).text
        text = (await constrained.complete(messages, options)).text
    finally:
        await free.aclose()
        await constrained.aclose()
    # Asked for a numbered list, the model writes one unless the server holds it to a line.
    assert "\n" in unconstrained_text.strip() or len(unconstrained_text) > 24, unconstrained_text
    assert text, text
    assert "\n" not in text, text
    assert len(text) <= 24, text
    assert text[0].isalpha(), text


@pytest.mark.parametrize("kind", list(PATHS))
async def test_all_kinds_through_llama_server(
    llama_server: str, database_url: str, kind: str
) -> None:
    structured = KINDS[kind].structure is not None
    # Structured copy through the server's own JSON-schema mode (llama-cpp-python's form).
    config = alias_config(llama_server).model_copy(
        update={"response_format": "json_object" if structured else None}
    )
    settings = Settings(
        database_url=database_url, models={"smollm2": config}, default_model="smollm2"
    )
    app = create_app(settings)
    extra: dict[str, Any] = {}
    if kind in ("product_description", "blog_post"):
        extra = {"min_words": 50, "max_words": 400, "max_tokens": 160}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", timeout=300
        ) as api:
            response = await api.post(PATHS[kind], json=brief(kind, "en", seed=4, **extra))
            assert response.status_code == 201, response.text
            body = response.json()
            assert body["provider"] == "openai_compat"
            assert body["resolved_model"] == "smollm2"
            assert body["usage"]["output_tokens"] > 0
            assert body["variants"][0]["text"].strip()
            if structured:
                # The server sampled under the schema: every field the kind needs is there.
                fields = body["variants"][0]["fields"]
                assert checks_of(body["variants"][0])["fields"]["passed"], fields
            stored = (await api.get(f"/v1/generations/{body['id']}")).json()
            assert stored["variants"] == body["variants"]


def checks_of(variant: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in variant["checks"]}
