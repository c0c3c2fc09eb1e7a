"""Bad input of every sort: one error shape, the right status, and nothing stored changes."""

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import ModelConfig, Settings
from app.deps import get_registry
from app.kinds import KINDS
from app.llm.registry import ModelRegistry
from app.main import create_app
from app.paths import PROMPTS_DIR
from tests.fakes import FakeLLM
from tests.payloads import PATHS, brief


def assert_envelope(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == error_type
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert {"type", "message", "param", "request_id"} <= set(error)
    return error


@pytest.fixture
async def stored(client: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    """One stored, rated generation; the test checks it is unchanged afterwards."""
    created = (await client.post(PATHS["ad_slogan"], json=brief("ad_slogan"))).json()
    variant_id = created["variants"][0]["id"]
    await client.put(f"/v1/variants/{variant_id}/rating", json={"score": 5, "rater": "a"})
    before = (await client.get(f"/v1/generations/{created['id']}")).json()
    yield before
    after = (await client.get(f"/v1/generations/{created['id']}")).json()
    assert after == before
    listing = (await client.get("/v1/generations")).json()
    assert [g["id"] for g in listing["items"]] == [created["id"]]


LONG = "x" * 201
BAD_BODIES = [
    ({"extra_field": 1}, "extra_field"),
    ({"n": "three"}, "n"),
    ({"n": 0}, "n"),
    ({"n": 6}, "n"),
    ({"max_tokens": 100_000}, "max_tokens"),
    ({"max_tokens": -1}, "max_tokens"),
    ({"temperature": 3}, "temperature"),
    ({"seed": -1}, "seed"),
    ({"language": "fr"}, "language"),
    ({"model": "no-such-model"}, "model"),
    ({"model": "../../etc"}, "model"),
    ({"product": ""}, "product"),
    ({"product": "   "}, "product"),
    ({"product": LONG}, "product"),
    ({"product": 12}, "product"),
    ({"product": None}, "product"),
    ({"product": "nul\x00byte"}, "product"),
    ({"keywords": ["k"] * 11}, "keywords"),
    ({"keywords": "not-a-list"}, "keywords"),
    ({"max_chars": 1}, "max_chars"),
]


class TestBadInput:
    @pytest.mark.parametrize(("override", "param"), BAD_BODIES)
    async def test_invalid_slogan_bodies(
        self,
        client: httpx.AsyncClient,
        stored: dict[str, Any],
        override: dict[str, Any],
        param: str,
    ) -> None:
        response = await client.post(PATHS["ad_slogan"], json=brief("ad_slogan", **override))
        error = assert_envelope(response, 422, "validation_error")
        assert error["param"] == param

    async def test_missing_required_field(self, client: httpx.AsyncClient) -> None:
        body = brief("ad_slogan")
        del body["key_message"]
        error = assert_envelope(
            await client.post(PATHS["ad_slogan"], json=body), 422, "validation_error"
        )
        assert error["param"] == "key_message"

    async def test_word_range_must_be_ordered(self, client: httpx.AsyncClient) -> None:
        body = brief("product_description", min_words=100, max_words=50)
        assert_envelope(
            await client.post(PATHS["product_description"], json=body), 422, "validation_error"
        )

    async def test_specs_must_be_strings(self, client: httpx.AsyncClient) -> None:
        body = brief("product_description", specs={"weight": {"nested": 1}})
        error = assert_envelope(
            await client.post(PATHS["product_description"], json=body), 422, "validation_error"
        )
        assert error["param"].startswith("specs")

    async def test_invalid_json(self, client: httpx.AsyncClient, stored: dict[str, Any]) -> None:
        response = await client.post(
            PATHS["ad_slogan"],
            content=b'{"product": ',
            headers={"content-type": "application/json"},
        )
        assert_envelope(response, 400, "invalid_json")

    async def test_json_that_is_not_an_object(self, client: httpx.AsyncClient) -> None:
        response = await client.post(PATHS["ad_slogan"], json=[1, 2])
        assert_envelope(response, 422, "validation_error")

    async def test_body_without_json_content_type(self, client: httpx.AsyncClient) -> None:
        response = await client.post(PATHS["ad_slogan"], content=b"product=x")
        assert_envelope(response, 415, "unsupported_media_type")

    async def test_body_over_the_limit_by_content_length(
        self, client: httpx.AsyncClient, stored: dict[str, Any]
    ) -> None:
        body = brief("ad_slogan", key_message="x" * 300_000)
        assert_envelope(await client.post(PATHS["ad_slogan"], json=body), 413, "payload_too_large")

    async def test_the_largest_valid_brief_is_under_the_limit(
        self, client: httpx.AsyncClient
    ) -> None:
        """Every field at its longest, every character outside the BMP and sent JSON-escaped
        (12 bytes each): the schema allows it, so the body limit must too."""
        wide = "\U0001d4d0"

        def text(length: int, tag: int = 0) -> str:
            return f"{tag:03d}" + wide * (length - 3)

        body = brief(
            "product_description",
            product_name=text(200),
            features=[text(200, i) for i in range(20)],
            specs={text(80, i): text(200, i) for i in range(30)},
            target_customer=text(200),
            tone=text(200),
            audience=text(200),
            keywords=[text(80, i) for i in range(10)],
        )
        content = json.dumps(body).encode()  # ASCII-escaped, as most clients send it
        assert len(content) > 150_000
        response = await client.post(
            PATHS["product_description"],
            content=content,
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 201, response.text

    async def test_body_over_the_limit_when_streamed(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(300):
                yield b" " * 1024

        response = await client.post(
            PATHS["ad_slogan"], content=chunks(), headers={"content-type": "application/json"}
        )
        assert_envelope(response, 413, "payload_too_large")

    async def test_unknown_route(self, client: httpx.AsyncClient) -> None:
        assert_envelope(await client.get("/v1/nothing-here"), 404, "not_found")

    async def test_wrong_method(self, client: httpx.AsyncClient) -> None:
        assert_envelope(await client.delete(PATHS["ad_slogan"]), 405, "method_not_allowed")

    async def test_unknown_generation(self, client: httpx.AsyncClient) -> None:
        for method in ("GET", "DELETE"):
            response = await client.request(method, "/v1/generations/does-not-exist")
            assert_envelope(response, 404, "not_found")

    @pytest.mark.parametrize("cursor", ["abc", "eyJzIjoiLWNyZWF0ZWRfYXQifQ", "e30", "a" * 400])
    async def test_a_cursor_the_server_did_not_issue(
        self, client: httpx.AsyncClient, cursor: str
    ) -> None:
        """Shaped like one (the schema's alphabet and length) but not one: 400."""
        error = assert_envelope(
            await client.get("/v1/generations", params={"cursor": cursor}), 400, "invalid_request"
        )
        assert error["param"] == "cursor"

    @pytest.mark.parametrize("cursor", ["!!!", "a b", "a" * 401])
    async def test_a_cursor_outside_the_schema(
        self, client: httpx.AsyncClient, cursor: str
    ) -> None:
        response = await client.get("/v1/generations", params={"cursor": cursor})
        assert assert_envelope(response, 422, "validation_error")["param"] == "cursor"

    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 0},
            {"limit": 101},
            {"limit": "ten"},
            {"status": "weird"},
            {"created_after": "yesterday"},
            {"min_rating": 6},
            {"sort": "random"},
            {"language": "fr"},
        ],
    )
    async def test_bad_list_parameters(
        self, client: httpx.AsyncClient, params: dict[str, Any]
    ) -> None:
        assert_envelope(await client.get("/v1/generations", params=params), 422, "validation_error")

    async def test_bad_group_by(self, client: httpx.AsyncClient) -> None:
        assert_envelope(
            await client.get("/v1/stats", params={"group_by": "color"}), 422, "validation_error"
        )


class TestBadRatings:
    @pytest.mark.parametrize("score", [0, 6, -1, 3.5, "five", None])
    async def test_score_outside_range(
        self, client: httpx.AsyncClient, stored: dict[str, Any], score: Any
    ) -> None:
        variant_id = stored["variants"][0]["id"]
        response = await client.put(f"/v1/variants/{variant_id}/rating", json={"score": score})
        error = assert_envelope(response, 422, "validation_error")
        assert error["param"] == "score"

    async def test_rating_a_missing_variant(
        self, client: httpx.AsyncClient, stored: dict[str, Any]
    ) -> None:
        response = await client.put("/v1/variants/nope/rating", json={"score": 3})
        assert_envelope(response, 404, "not_found")


class TestRequestIds:
    async def test_every_response_has_a_request_id(self, client: httpx.AsyncClient) -> None:
        for response in (
            await client.get("/healthz"),
            await client.get("/v1/models"),
            await client.get("/missing"),
        ):
            assert len(response.headers["x-request-id"]) >= 16

    async def test_a_sane_client_request_id_is_kept(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/missing", headers={"X-Request-ID": "trace-123"})
        assert response.headers["x-request-id"] == "trace-123"
        assert response.json()["error"]["request_id"] == "trace-123"

    async def test_an_unsafe_client_request_id_is_replaced(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith<html>"})
        assert response.headers["x-request-id"] != "bad id\twith<html>"


async def test_405_lists_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.request("OPTIONS", "/v1/generations/abc")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) >= {"GET", "DELETE"}


class TestServerFaults:
    """What a client sees when copyforge itself is broken: 500 or 503, in the one shape."""

    async def test_an_unexpected_exception_is_a_500_without_details(
        self, app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        async def broken() -> None:
            raise RuntimeError("secret internals /srv/copyforge")

        app.dependency_overrides[get_registry] = broken
        response = await client.get("/v1/models")
        error = assert_envelope(response, 500, "internal_error")
        assert error["message"] == "Internal server error."
        assert "secret internals" not in response.text
        # The traceback goes to the log instead, under the same request.
        assert "secret internals" in caplog.text

    async def test_a_broken_template_is_a_500_and_nothing_is_stored(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        prompts = tmp_path / "prompts"
        shutil.copytree(PROMPTS_DIR, prompts)
        template = prompts / "ad_slogan" / "en.j2"
        template.write_text(
            template.read_text(encoding="utf-8").replace("{{ max_chars }}", "{{ max_charz }}"),
            encoding="utf-8",
        )
        settings.prompts_dir = prompts
        llm = FakeLLM()
        app = create_app(settings, registry=ModelRegistry.from_clients({"fake": llm}, "fake"))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                response = await http.post(PATHS["ad_slogan"], json=brief("ad_slogan"))
                listing = (await http.get("/v1/generations")).json()
        error = assert_envelope(response, 500, "template_error")
        assert "max_charz" in error["message"]
        assert llm.calls == []
        assert listing["items"] == []


class TestReadiness:
    async def test_ready_with_database_templates_and_model(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        templates = sum(len(kind.template_names(("en", "zh"))) for kind in KINDS.values())
        assert response.json() == {"status": "ready", "templates": templates}

    async def ready(self, settings: Settings, registry: ModelRegistry) -> httpx.Response:
        app = create_app(settings, registry=registry)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                return await http.get("/readyz")

    async def test_no_templates(self, settings: Settings, tmp_path: Path) -> None:
        settings.prompts_dir = tmp_path
        response = await self.ready(settings, ModelRegistry.from_clients({"f": FakeLLM()}, "f"))
        error = assert_envelope(response, 503, "not_ready")
        assert "templates missing: ad_slogan/en, ad_slogan/zh" in error["message"]

    async def test_one_template_missing(self, settings: Settings, tmp_path: Path) -> None:
        shutil.copytree(PROMPTS_DIR, tmp_path / "prompts")
        (tmp_path / "prompts" / "blog_post" / "zh.j2").unlink()
        settings.prompts_dir = tmp_path / "prompts"
        response = await self.ready(settings, ModelRegistry.from_clients({"f": FakeLLM()}, "f"))
        error = assert_envelope(response, 503, "not_ready")
        assert error["message"] == "Not ready: templates missing: blog_post/zh."

    async def test_database_unreachable(self, settings: Settings) -> None:
        # Nothing listens on port 1 of loopback: the connection is refused at once.
        settings.database_url = "postgresql://copyforge@127.0.0.1:1/copyforge"
        response = await self.ready(settings, ModelRegistry.from_clients({"f": FakeLLM()}, "f"))
        error = assert_envelope(response, 503, "not_ready")
        assert "database unavailable" in error["message"]

    @pytest.mark.parametrize(
        ("config", "expected"),
        [
            (
                {"provider": "local", "path": "/nonexistent/model.gguf"},
                "no GGUF file at /nonexistent/model.gguf",
            ),
            (
                {
                    "provider": "openai_compat",
                    "base_url": "http://127.0.0.1:9/v1",
                    "model": "m",
                    "api_key_env": "COPYFORGE_TEST_UNSET_KEY",
                },
                "COPYFORGE_TEST_UNSET_KEY is unset",
            ),
        ],
        ids=["missing-gguf", "missing-api-key"],
    )
    async def test_default_model_unusable(
        self, settings: Settings, config: dict[str, Any], expected: str
    ) -> None:
        registry = ModelRegistry({"broken": ModelConfig.model_validate(config)}, "broken")
        response = await self.ready(settings, registry)
        error = assert_envelope(response, 503, "not_ready")
        assert "model 'broken'" in error["message"]
        assert expected in error["message"]

    async def test_no_model_at_all(self, settings: Settings) -> None:
        response = await self.ready(settings, ModelRegistry({}, None))
        error = assert_envelope(response, 503, "not_ready")
        assert "No model is configured" in error["message"]
