"""Bad input of every sort: one error shape, the right status, and nothing stored changes."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

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
        body = brief("ad_slogan", key_message="x" * 70_000)
        assert_envelope(await client.post(PATHS["ad_slogan"], json=body), 413, "payload_too_large")

    async def test_body_over_the_limit_when_streamed(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(100):
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

    @pytest.mark.parametrize(
        "cursor", ["abc", "!!!", "eyJzIjoiLWNyZWF0ZWRfYXQifQ", "e30", "a" * 400]
    )
    async def test_bad_cursor(self, client: httpx.AsyncClient, cursor: str) -> None:
        error = assert_envelope(
            await client.get("/v1/generations", params={"cursor": cursor}), 400, "invalid_request"
        )
        assert error["param"] == "cursor"

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
