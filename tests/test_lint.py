"""`POST /v1/checks`: the checks variants get, on pasted text, against a kind, a brand kit
and a product; bad input answers in the error envelope."""

from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.test_auth import bearer, new_key, serving
from tests.test_knowledge import KIT, PRODUCT


async def _ids(client: httpx.AsyncClient) -> tuple[str, str]:
    brand = (await client.post("/v1/brands", json=KIT)).json()["id"]
    product = (await client.post("/v1/products", json={**PRODUCT, "brand_id": brand})).json()
    return brand, product["id"]


def _checks(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in body["checks"]}


async def test_a_pasted_text_is_checked_against_the_product_and_kit(
    client: httpx.AsyncClient,
) -> None:
    brand, product = await _ids(client)
    answer = await client.post(
        "/v1/checks", json={"text": "Cheap shoes at just 180 g.", "product_id": product}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["passed"] is False
    assert body["knowledge"]["brand_id"] == brand
    assert body["knowledge"]["brand_version"] == 1
    checks = _checks(body)
    assert checks["brand_banned"]["span"] == "Cheap"
    assert "180 g" in checks["unsupported_claim"]["detail"]
    # No kind: no format checks.
    assert "max_chars" not in checks


async def test_a_clean_text_passes_in_chinese(client: httpx.AsyncClient) -> None:
    _, product = await _ids(client)
    answer = await client.post(
        "/v1/checks",
        json={
            "text": "极光越野跑鞋，仅重 0.21 公斤，湿滑岩石上抓地稳。",
            "product_id": product,
            "language": "zh",
        },
    )
    body = answer.json()
    assert body["passed"] is True, body
    assert _checks(body)["unsupported_claim"]["passed"] is True


async def test_the_kind_adds_its_format_and_limits(client: httpx.AsyncClient) -> None:
    _, product = await _ids(client)
    answer = await client.post(
        "/v1/checks",
        json={
            "text": "Grip that holds on wet rock, all the way up the ridge and back down again.",
            "kind": "ad_slogan",
            "brief": {"max_chars": 40},
            "product_id": product,
        },
    )
    assert answer.status_code == 200, answer.text
    checks = _checks(answer.json())
    assert checks["max_chars"]["passed"] is False
    assert checks["single_line"]["passed"] is True


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 60_001}, "text"),
        ({"text": 5}, "text"),
        ({"text": "ok", "brief": {"max_chars": 40}}, "brief"),
        ({"text": "ok", "kind": "ad_slogan", "brief": {"language": "zh"}}, "brief"),
        (
            {
                "text": "ok",
                "kind": "ad_slogan",
                "brief": {"product": "A", "key_message": "b", "max_chars": "40"},
            },
            "brief.max_chars",
        ),
        ({"text": "ok", "kind": "ad_slogan"}, "brief.product"),
        ({"text": "ok", "kind": "poem"}, "kind"),
    ],
)
async def test_bad_requests_are_422(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    answer = await client.post("/v1/checks", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["param"] == param


async def test_template_syntax_and_html_are_only_text(client: httpx.AsyncClient) -> None:
    text = "{{ config }} <script>alert(1)</script> {% for x in y %}"
    answer = await client.post("/v1/checks", json={"text": text})
    assert answer.status_code == 200
    assert answer.json()["passed"] is True


async def test_another_workspaces_product_is_404(database_url: str) -> None:
    settings = Settings(auth_required=True, database_url=database_url, models={})
    mine = bearer(await new_key(settings, "acme", "read,knowledge"))
    theirs = bearer(await new_key(settings, "rival", "read"))
    async with serving(settings) as (_, client):
        product = (await client.post("/v1/products", json=PRODUCT, headers=mine)).json()["id"]
        answer = await client.post(
            "/v1/checks", json={"text": "Shoes", "product_id": product}, headers=theirs
        )
        assert answer.status_code == 404
        assert answer.json()["error"]["param"] == "product_id"
