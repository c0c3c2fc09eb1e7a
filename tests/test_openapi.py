"""Swagger UI must be usable without reading code: every operation documented, with examples."""

import re
from typing import Any

import httpx

from app.config import LANGUAGES, Settings
from app.kinds import KINDS


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
        if body and "application/json" in body["content"]:
            ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            assert schemas[ref].get("examples"), f"{where}: request body has no example"
        elif body:
            # A file upload (the catalog import): an example per media type.
            for media_type, content in body["content"].items():
                assert content.get("example"), f"{where}: {media_type} has no example"
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
    # Every kind's templates, a platform's or format's own where the kind has them.
    assert names == {name for kind in KINDS.values() for name in kind.template_names(LANGUAGES)}
    wechat = next(t for t in templates if t["name"] == "social_post/wechat.zh")
    assert wechat["kind"] == "social_post"
    assert wechat["language"] == "zh"
    slogan = next(t for t in templates if t["name"] == "ad_slogan/en")
    assert {"product", "key_message", "max_chars", "tone", "keywords"} <= set(slogan["variables"])
    assert "_partials/data_rule.en.j2" in slogan["includes"]


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready["status"] == "ready"
    # Every kind in both languages, one template per platform or format where it has them.
    assert ready["templates"] == sum(
        len(kind.template_names(("en", "zh"))) for kind in KINDS.values()
    )
    assert ready["templates"] == 26


# Every keyword JSON Schema (2020-12, as OpenAPI 3.1 uses it) and OpenAPI add to a schema.
SCHEMA_KEYWORDS = {
    "$ref", "type", "enum", "const", "format", "pattern", "minLength", "maxLength",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "items",
    "minItems", "maxItems", "uniqueItems", "properties", "required", "additionalProperties",
    "propertyNames", "patternProperties", "minProperties", "maxProperties", "anyOf", "oneOf",
    "allOf", "not",
    "title", "description", "default", "examples", "example", "deprecated", "readOnly",
    "writeOnly", "contentMediaType", "discriminator",
}  # fmt: skip


def schema_keywords(node: Any, where: str = "") -> list[tuple[str, str]]:
    """(where, keyword) for every key of every schema object under `node`."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if "type" in node or "anyOf" in node or "$ref" in node:
            found += [(where, key) for key in node]
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    found += schema_keywords(sub, f"{where}.{name}")
            elif key != "examples":
                found += schema_keywords(value, f"{where}/{key}")
    elif isinstance(node, list):
        for item in node:
            found += schema_keywords(item, where)
    return found


async def test_schemas_use_only_json_schema_keywords(client: httpx.AsyncClient) -> None:
    """A bound pydantic writes as "ge" instead of "minimum" is no bound to a client."""
    spec = (await client.get("/openapi.json")).json()
    unknown = [
        (where, key)
        for where, key in schema_keywords(spec["components"]["schemas"])
        + schema_keywords(spec["paths"])
        if key not in SCHEMA_KEYWORDS
    ]
    assert unknown == []


async def test_schema_states_the_servers_own_caps(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    spec = (await client.get("/openapi.json")).json()
    for name in ("AdSloganRequest", "ProductDescriptionRequest", "BlogPostRequest"):
        fields = spec["components"]["schemas"][name]["properties"]
        assert fields["n"]["maximum"] == settings.max_n
        assert fields["max_tokens"]["anyOf"][0] == {
            "type": "integer",
            "minimum": 1,
            "maximum": settings.max_tokens_cap,
        }
        assert fields["seed"]["anyOf"][0]["minimum"] == 0
        assert fields["model"]["anyOf"][0]["enum"] == ["fake"]


async def test_a_cursor_is_described_and_its_400_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/generations"]["get"]
    cursor = next(p for p in operation["parameters"] if p["name"] == "cursor")
    string = cursor["schema"]["anyOf"][0]
    assert string["pattern"] == "^[A-Za-z0-9_-]+$"
    assert string["maxLength"] <= 400
    assert "400" in cursor["description"]
    assert "cursor" in operation["responses"]["400"]["description"]
    # A cursor the server issues fits the description.
    for _ in range(3):
        await client.post("/v1/ad-slogans", json={"product": "Aurora", "key_message": "grip"})
    issued = (await client.get("/v1/generations", params={"limit": 1})).json()["next_cursor"]
    assert re.fullmatch(string["pattern"].strip("^$"), issued)
    assert len(issued) <= string["maxLength"]
