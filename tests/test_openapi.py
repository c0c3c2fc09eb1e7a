"""Swagger UI must be usable without reading code: every operation documented, with examples."""

from typing import Any

import httpx


async def test_every_operation_has_summary_description_and_examples(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    operations = [
        (path, method, op)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
    ]
    assert len(operations) >= 12
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert op.get("description"), where
        body = op.get("requestBody")
        if body:
            ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            assert schemas[ref].get("examples"), f"{where}: request body has no example"
        for param in op.get("parameters", []):
            assert param.get("description") or param["in"] == "path", f"{where}: {param['name']}"


async def test_documented_errors_use_the_envelope(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/v1/ad-slogans"]["post"]
    for status in ("413", "422", "502"):
        ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorEnvelope")


async def test_request_examples_are_valid_requests(client: httpx.AsyncClient) -> None:
    """The example Swagger UI pre-fills must itself succeed."""
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    for path in ("/v1/ad-slogans", "/v1/product-descriptions", "/v1/blog-posts"):
        ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        example: dict[str, Any] = schemas[ref["$ref"].rsplit("/", 1)[-1]]["examples"][0]
        response = await client.post(path, json=example)
        assert response.status_code == 201, (path, response.text)


async def test_swagger_ui_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text


async def test_models_and_templates(client: httpx.AsyncClient) -> None:
    models = (await client.get("/v1/models")).json()
    assert models["default"] == "fake"
    assert [m["alias"] for m in models["models"]] == ["fake"]
    templates = (await client.get("/v1/templates")).json()
    names = {t["name"] for t in templates}
    assert names == {
        f"{kind}/{lang}"
        for kind in ("ad_slogan", "product_description", "blog_post")
        for lang in ("en", "zh")
    }
    slogan = next(t for t in templates if t["name"] == "ad_slogan/en")
    assert {"product", "key_message", "max_chars", "tone", "keywords"} <= set(slogan["variables"])
    assert "_partials/data_rule.en.j2" in slogan["includes"]


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert ready["templates"] == 6
