"""Copy for several audiences in one request (`POST /v1/<kind>/per-audience`): personas
derived from real reviews and hand-written audiences, each written for in its own stored
generation, on the database under test."""

from collections.abc import Sequence
from typing import Any

import httpx

from app.config import Settings
from app.llm.base import GenerationOptions, LLMError, Message
from tests.fakes import FakeLLM, default_script
from tests.test_auth import serving
from tests.test_insights import _load

SLOGANS = "/v1/ad-slogans/per-audience"


async def _audience(client: httpx.AsyncClient, name: str, pain: str) -> str:
    answer = await client.post(
        "/v1/audiences", json={"name": name, "language": "en", "pains": [pain]}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _brief(**extra: Any) -> dict[str, Any]:
    return {"product": "Aurora trail shoes", "key_message": "grip on wet rock", "n": 1, **extra}


async def test_personas_from_reviews_each_get_their_own_generation(settings: Settings) -> None:
    llm = FakeLLM()
    async with serving(settings, llm) as (_, client):
        product_id = await _load(client, 300)
        personas = await client.post(
            "/v1/personas", json={"product_id": product_id, "language": "zh", "max_personas": 3}
        )
        assert personas.status_code == 201, personas.text
        cards = personas.json()[:2]
        assert len(cards) == 2
        ids = [c["id"] for c in cards]
        answer = await client.post(
            SLOGANS,
            json={"product_id": product_id, "language": "zh", "n": 2, "audience_ids": ids},
        )
        assert answer.status_code == 201, answer.text
        results = answer.json()["results"]
        assert [r["audience_id"] for r in results] == ids
        generations = [r["generation"] for r in results]
        assert all(r["error"] is None for r in results)
        assert len({g["id"] for g in generations}) == 2
        for card, generation in zip(cards, generations, strict=True):
            assert generation["knowledge"]["audience_id"] == card["id"]
            assert generation["variants"]
            prompt = generation["prompt"]["user"]
            # The persona's own card and its customers' words shape its prompt.
            assert (card["pains"] or card["needs"])[0] in prompt
            quote = card["evidence"]["quotes"][0]["text"]
            assert quote in prompt
            assert generation["input"]["reader"]["quotes"][0] == quote
        # Each stored on its own: the history has both, and stats compare the audiences.
        listed = await client.get("/v1/generations", params={"kind": "ad_slogan"})
        assert {g["id"] for g in listed.json()["items"]} == {g["id"] for g in generations}
        for score, generation in zip((5, 2), generations, strict=True):
            vid = generation["variants"][0]["id"]
            rating = await client.put(f"/v1/variants/{vid}/rating", json={"score": score})
            assert rating.status_code in (200, 201), rating.text
        stats = await client.get("/v1/stats", params={"group_by": "audience"})
        means = {g["key"]: g["mean_rating"] for g in stats.json()["groups"]}
        assert means == {ids[0]: 5.0, ids[1]: 2.0}


async def test_an_unknown_audience_refuses_the_request_whole(settings: Settings) -> None:
    llm = FakeLLM()
    async with serving(settings, llm) as (_, client):
        known = await _audience(client, "Weekend runners", "heavy shoes")
        other_workspace = "01a24fd5-0000-7000-8000-000000000000"
        answer = await client.post(SLOGANS, json=_brief(audience_ids=[known, other_workspace]))
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["param"] == "audience_ids"
        assert llm.calls == []
        listed = await client.get("/v1/generations")
        assert listed.json()["items"] == []


async def test_bad_audience_lists_are_422(settings: Settings) -> None:
    async with serving(settings) as (_, client):
        one = await _audience(client, "Weekend runners", "heavy shoes")
        two = await _audience(client, "Ultra runners", "blisters after 50 km")
        for body in (
            _brief(audience_ids=[one]),
            _brief(audience_ids=[one, one]),
            _brief(audience_ids=[one, two], audience_id=one),
            _brief(audience_ids=[one] * 11),
            _brief(audience_ids=[]),
            _brief(audience_ids=f"{one},{two}"),
        ):
            answer = await client.post(SLOGANS, json=body)
            assert answer.status_code == 422, (body, answer.text)
            assert answer.json()["error"]["type"] == "validation_error"


async def test_one_failed_model_call_leaves_the_other_audience_written(
    settings: Settings,
) -> None:
    def fails_for_ultra(messages: Sequence[Message], options: GenerationOptions) -> str:
        if "blisters" in messages[-1].content:
            raise LLMError("upstream", "upstream exploded")
        return default_script(messages, options)

    async with serving(settings, FakeLLM(script=fails_for_ultra)) as (_, client):
        one = await _audience(client, "Weekend runners", "heavy shoes")
        two = await _audience(client, "Ultra runners", "blisters after 50 km")
        answer = await client.post(SLOGANS, json=_brief(audience_ids=[one, two]))
        assert answer.status_code == 201, answer.text
        written, failed = answer.json()["results"]
        assert written["generation"]["status"] == "succeeded"
        assert written["error"] is None
        assert failed["generation"] is None
        assert failed["error"]["type"] == "upstream_error"
        # The failed generation is stored with its error, as a single request's would be.
        stored = await client.get(f"/v1/generations/{failed['error']['generation_id']}")
        assert stored.json()["status"] == "failed"


async def test_a_replayed_key_answers_the_same_generations(settings: Settings) -> None:
    llm = FakeLLM()
    async with serving(settings, llm) as (_, client):
        one = await _audience(client, "Weekend runners", "heavy shoes")
        two = await _audience(client, "Ultra runners", "blisters after 50 km")
        body = _brief(audience_ids=[one, two])
        headers = {"Idempotency-Key": "campaign-42"}
        first = await client.post(SLOGANS, json=body, headers=headers)
        calls = len(llm.calls)
        again = await client.post(SLOGANS, json=body, headers=headers)
        assert again.status_code == first.status_code == 201
        ids = [r["generation"]["id"] for r in first.json()["results"]]
        assert [r["generation"]["id"] for r in again.json()["results"]] == ids
        assert len(llm.calls) == calls
        # The same key on the single route is another request, not a replay of these.
        single = await client.post("/v1/ad-slogans", json=_brief(audience_id=one), headers=headers)
        assert single.status_code == 201
        assert single.json()["id"] not in ids


async def test_a_variant_that_copies_a_customer_quote_is_written_again(
    settings: Settings,
) -> None:
    copied: list[str] = []

    def copies_first(messages: Sequence[Message], options: GenerationOptions) -> str:
        prompt = messages[-1].content
        if not copied and "读者的原话" in prompt:
            quote = prompt.split("读者的原话", 1)[1].split("“", 1)[1][:16]
            copied.append(quote)
            return f'1. "{quote}"'
        return default_script(messages, options)

    llm = FakeLLM(script=copies_first)
    async with serving(settings, llm) as (_, client):
        product_id = await _load(client, 300)
        personas = await client.post(
            "/v1/personas", json={"product_id": product_id, "language": "zh", "max_personas": 2}
        )
        persona = personas.json()[0]["id"]
        answer = await client.post(
            "/v1/ad-slogans",
            json={"product_id": product_id, "audience_id": persona, "language": "zh", "n": 1},
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert copied, "the model was shown no quote to copy"
        assert len(llm.calls) >= 2
        [variant] = body["variants"]
        assert copied[0] not in variant["text"]
        checks = {c["name"]: c for c in variant["checks"]}
        assert checks["copies_review"]["passed"] is True
        assert body["status"] == "succeeded"


async def test_a_meta_ad_per_audience_takes_the_kinds_defaults(client: httpx.AsyncClient) -> None:
    # A Meta ad has no `headlines` count; the per-audience body once re-read its brief with
    # the Google defaults filled in as if sent, and answered 500 (found by the fuzzer).
    ids = [await _audience(client, "Runners", "wet rock"), await _audience(client, "Hikers", "mud")]
    answer = await client.post(
        "/v1/ad-sets/per-audience",
        json={"format": "meta", "product": "Aurora trail shoes", "audience_ids": ids},
    )
    assert answer.status_code == 201, answer.text
    assert [r["audience_id"] for r in answer.json()["results"]] == ids
    sent_counts = await client.post(
        "/v1/ad-sets/per-audience",
        json={"format": "meta", "product": "Aurora", "audience_ids": ids, "headlines": 5},
    )
    assert sent_counts.status_code == 422
