"""Adding a kind is one module and its templates: a kind defined here, registered in `KINDS`,
gets its POST route, its OpenAPI operation and its CLI subcommand with nothing else changed."""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import Field

from app.checks import CheckResult, rules
from app.cli import _parser
from app.config import Settings
from app.fields import ShortText, WholeNumber
from app.kinds import KINDS
from app.kinds.base import Brief, ContentKind
from app.kinds.parsing import parse_one_line
from app.llm.registry import ModelRegistry
from app.main import create_app
from app.paths import PROMPTS_DIR
from tests.fakes import FakeLLM


class TaglineRequest(Brief):
    """Brief for a tagline."""

    product: ShortText = Field(description="What the tagline is for.")
    max_chars: WholeNumber = Field(40, ge=5, le=80, description="Longest tagline, characters.")


def _checks(text: str, brief: TaglineRequest) -> list[CheckResult]:
    return [
        *rules.common(text, brief.language, brief.keywords, loop_phrase=3),
        rules.max_chars(text, brief.max_chars),
    ]


TAGLINE = ContentKind(
    name="tagline",
    path="/v1/taglines",
    title="Write taglines",
    description="A brand line.",
    brief_model=TaglineRequest,
    parse=parse_one_line,
    check=_checks,
    token_budget=lambda brief: 32,
)
TEMPLATE = """{% block system %}You write taglines.{% endblock %}
{% block user %}<brief>Product: {{ product | data }}</brief>{% endblock %}
"""


@pytest.fixture
async def client(
    settings: Settings, fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setitem(KINDS, TAGLINE.name, TAGLINE)
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, prompts)
    (prompts / "tagline").mkdir()
    for language in ("en", "zh"):
        (prompts / "tagline" / f"{language}.j2").write_text(TEMPLATE, encoding="utf-8")
    settings.prompts_dir = prompts
    app = create_app(settings, registry=ModelRegistry.from_clients({"fake": fake_llm}, "fake"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield http


async def test_a_registered_kind_is_served_documented_and_stored(
    client: httpx.AsyncClient,
) -> None:
    written = await client.post("/v1/taglines", json={"product": "Aurora shoes"})
    assert written.status_code == 201, written.text
    body = written.json()
    assert body["kind"] == "tagline"
    assert body["template"]["name"] == "tagline/en"
    assert len(body["variants"]) == 1
    refused = await client.post("/v1/taglines", json={"product": "Aurora", "colour": "red"})
    assert refused.status_code == 422
    stored = (await client.get("/v1/generations", params={"kind": "tagline"})).json()
    assert [item["id"] for item in stored["items"]] == [body["id"]]

    operation = (await client.get("/openapi.json")).json()["paths"]["/v1/taglines"]["post"]
    assert operation["summary"] == "Write taglines"
    assert operation["operationId"] == "write_taglines_v1_taglines_post"
    schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.endswith("/TaglineRequest")


def test_a_registered_kind_is_a_cli_subcommand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, TAGLINE.name, TAGLINE)
    args = _parser().parse_args(["generate", "taglines", "--product", "Aurora", "--n", "2"])
    assert (args.kind, args.product, args.n) == ("taglines", "Aurora", "2")
