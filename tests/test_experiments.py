"""Experiments over HTTP: lifecycle, validation, sticky serving, weights that move with the
events, impressions recorded once, isolation between workspaces, the events budget."""

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.fakes import FakeLLM
from tests.payloads import PATHS, brief
from tests.test_auth import bearer, new_key, serving
from tests.test_events import event, send, variant_ids


@pytest.fixture(autouse=True)
def distinct_slogans(fake_llm: FakeLLM) -> None:
    fake_llm.script = lambda messages, options: f"Grip number {options.seed}."


async def create(client: httpx.AsyncClient, variants: list[str], **settings: Any) -> Any:
    body = {"name": "Homepage hero", "variant_ids": variants, **settings}
    response = await client.post("/v1/experiments", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def start(client: httpx.AsyncClient, experiment_id: str) -> Any:
    response = await client.post(f"/v1/experiments/{experiment_id}/start")
    assert response.status_code == 200, response.text
    return response.json()


async def assign(client: httpx.AsyncClient, experiment_id: str, **params: Any) -> Any:
    response = await client.get(f"/v1/experiments/{experiment_id}/assignment", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def traffic(variant: str, impressions: int, clicks: int, tag: str, **extra: Any) -> list[Any]:
    """Impressions and clicks of one variant, as events with ids of their own, happening now
    (events dated before an experiment started do not count for it)."""
    extra.setdefault("occurred_at", datetime.now(UTC).isoformat())
    return [event(f"{tag}-i{n}", variant, **extra) for n in range(impressions)] + [
        event(f"{tag}-c{n}", variant, "click", **extra) for n in range(clicks)
    ]


async def test_lifecycle_from_draft_to_a_fixed_winner(client: httpx.AsyncClient) -> None:
    a, b, c = await variant_ids(client)
    created = await create(client, [a, b, c])
    eid = created["id"]
    assert created["status"] == "draft"
    assert created["kind"] == "ad_slogan"
    assert [arm["variant_id"] for arm in created["arms"]] == [a, b, c]
    assert all(
        arm["impressions"] == 0 and arm["weight"] == pytest.approx(1 / 3) for arm in created["arms"]
    )
    assert created["arms"][0]["text"].startswith("Grip number")

    draft = await client.get(f"/v1/experiments/{eid}/assignment")
    assert draft.status_code == 409
    assert "draft" in draft.json()["error"]["message"]

    running = await start(client, eid)
    assert running["status"] == "running"
    assert running["started_at"] is not None
    assert (await client.post(f"/v1/experiments/{eid}/start")).status_code == 409
    assert (await client.delete(f"/v1/experiments/{eid}")).status_code == 409
    served = await assign(client, eid, unit_id="u-1")
    assert served["variant_id"] in {a, b, c}
    assert served["text"].startswith("Grip number")

    # Nothing seen yet: no winner proposed, so one must be named to stop.
    no_winner = await client.post(f"/v1/experiments/{eid}/stop")
    assert no_winner.status_code == 409
    assert no_winner.json()["error"]["param"] == "winner_variant_id"
    stranger = await client.post(
        f"/v1/experiments/{eid}/stop", json={"winner_variant_id": "not-an-arm"}
    )
    assert stranger.status_code == 422
    stopped = (
        await client.post(f"/v1/experiments/{eid}/stop", json={"winner_variant_id": b})
    ).json()
    assert stopped["status"] == "stopped"
    assert stopped["winner_variant_id"] == b
    assert [arm["weight"] for arm in stopped["arms"]] == [0.0, 1.0, 0.0]
    for unit in range(30):
        assert (await assign(client, eid, unit_id=f"u-{unit}"))["variant_id"] == b
    assert (await assign(client, eid))["status"] == "stopped"

    listed = (await client.get("/v1/experiments")).json()
    assert [item["id"] for item in listed["items"]] == [eid]
    assert listed["items"][0]["variant_ids"] == [a, b, c]
    assert (await client.delete(f"/v1/experiments/{eid}")).status_code == 204
    assert (await client.get(f"/v1/experiments/{eid}")).status_code == 404
    assert (await client.get(f"/v1/experiments/{eid}/assignment")).status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"variant_ids": "one"}, 422, "variant_ids"),
        ({"duplicate": True}, 422, "variant_ids"),
        ({"unknown": True}, 404, "variant_ids"),
        ({"split": [0.5, 0.25, 0.25]}, 422, "split"),
        ({"policy": "split", "split": [0.5, 0.5]}, 422, "split"),
        ({"policy": "split", "split": [0.5, 0.3, 0.3]}, 422, "split"),
        ({"burn_in": "100"}, 422, "burn_in"),
        ({"floor": 0.9}, 422, "floor"),
        ({"goal": "likes"}, 422, "goal"),
        ({"name": ""}, 422, "name"),
    ],
)
async def test_a_bad_experiment_is_refused_clearly(
    client: httpx.AsyncClient, change: dict[str, Any], status: int, param: str
) -> None:
    variants = await variant_ids(client)
    body: dict[str, Any] = {"name": "Hero", "variant_ids": variants}
    if change.pop("duplicate", False):
        body["variant_ids"] = [variants[0], variants[0]]
    elif change.pop("unknown", False):
        body["variant_ids"] = [variants[0], "01a00000-0000-7000-8000-000000000000"]
    elif change.get("variant_ids") == "one":
        body["variant_ids"] = variants[:1]
        change = {}
    body.update(change)
    response = await client.post("/v1/experiments", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"].split(".")[0] == param
    assert (await client.get("/v1/experiments")).json()["items"] == []


async def test_variants_of_different_kinds_do_not_compete(client: httpx.AsyncClient) -> None:
    slogan = (await variant_ids(client))[0]
    described = await client.post(
        PATHS["product_description"], json=brief("product_description", n=1)
    )
    assert described.status_code == 201, described.text
    description = described.json()["variants"][0]["id"]
    response = await client.post(
        "/v1/experiments", json={"name": "Mixed", "variant_ids": [slogan, description]}
    )
    assert response.status_code == 422
    assert "one kind" in response.json()["error"]["message"]


async def test_a_variant_runs_in_one_experiment_at_a_time(client: httpx.AsyncClient) -> None:
    a, b, c = await variant_ids(client)
    first = await create(client, [a, b])
    await start(client, first["id"])
    second = await create(client, [b, c])
    clash = await client.post(f"/v1/experiments/{second['id']}/start")
    assert clash.status_code == 409
    assert b in clash.json()["error"]["message"]


async def test_a_unit_keeps_its_variant_and_units_spread_evenly(
    client: httpx.AsyncClient,
) -> None:
    variants = await variant_ids(client)
    eid = (await create(client, variants))["id"]
    await start(client, eid)
    first = await assign(client, eid, unit_id="visitor-42")
    for _ in range(20):
        assert (await assign(client, eid, unit_id="visitor-42"))["variant_id"] == first[
            "variant_id"
        ]
    spread = Counter([(await assign(client, eid, unit_id=f"v-{n}"))["arm"] for n in range(300)])
    # Equal weights during the burn-in: each third within a wide margin of 100.
    assert set(spread) == {0, 1, 2}
    assert all(60 <= n <= 140 for n in spread.values()), spread


async def test_weights_move_to_the_winner_and_it_is_proposed(client: httpx.AsyncClient) -> None:
    a, b, c = await variant_ids(client)
    eid = (await create(client, [a, b, c], burn_in=50, refresh_seconds=3600))["id"]
    await start(client, eid)
    before = await assign(client, eid, unit_id="u-0")  # loads the weights: equal, burn-in
    assert before["arm"] in {0, 1, 2}
    await send(client, *traffic(a, 300, 60, "a"))
    await send(client, *traffic(b, 300, 6, "b"))
    await send(client, *traffic(c, 300, 9, "c"))
    # 978 new events (past refresh_events=200): the next assignment starts a refresh and is
    # answered from the old weights meanwhile; the one after sees the new ones.
    await assign(client, eid, unit_id="u-0")
    for _ in range(50):
        results = (await client.get(f"/v1/experiments/{eid}")).json()
        if len(results["weights_history"]) >= 2:
            break
        await asyncio.sleep(0.1)
    history = results["weights_history"]
    assert [point["impressions"] for point in history][-2:] == [0, 900]
    arms = results["arms"]
    assert [arm["impressions"] for arm in arms] == [300, 300, 300]
    assert [arm["successes"] for arm in arms] == [60, 6, 9]
    assert arms[0]["p_best"] > 0.99
    assert arms[0]["interval"][0] < 61 / 302 < arms[0]["interval"][1]
    assert results["proposed_winner_variant_id"] == a
    assert arms[0]["weight"] > 0.95
    assert min(arm["weight"] for arm in arms) >= 0.01
    shown = Counter([(await assign(client, eid, unit_id=f"w-{n}"))["arm"] for n in range(200)])
    assert shown[0] > 170, shown
    stopped = (await client.post(f"/v1/experiments/{eid}/stop")).json()
    assert stopped["winner_variant_id"] == a


async def test_segments_learn_apart(client: httpx.AsyncClient) -> None:
    a, b = (await variant_ids(client))[:2]
    eid = (await create(client, [a, b], burn_in=20, per_segment=True))["id"]
    await start(client, eid)
    await send(client, *traffic(a, 200, 40, "am", segment="mobile"))
    await send(client, *traffic(b, 200, 2, "bm", segment="mobile"))
    await send(client, *traffic(a, 200, 2, "ad", segment="desktop"))
    await send(client, *traffic(b, 200, 40, "bd", segment="desktop"))
    mobile = Counter(
        [(await assign(client, eid, unit_id=f"m-{n}", segment="mobile"))["arm"] for n in range(100)]
    )
    desktop = Counter(
        [
            (await assign(client, eid, unit_id=f"d-{n}", segment="desktop"))["arm"]
            for n in range(100)
        ]
    )
    assert mobile[0] > 90, mobile
    assert desktop[1] > 90, desktop
    # Overall the two arms are even, and an unseen segment gets the overall weights.
    tablet = Counter(
        [(await assign(client, eid, unit_id=f"t-{n}", segment="tablet"))["arm"] for n in range(100)]
    )
    assert tablet[0] > 10, tablet
    assert tablet[1] > 10, tablet


async def test_an_assignment_records_one_impression_per_unit_and_day(
    client: httpx.AsyncClient,
) -> None:
    variants = await variant_ids(client)
    eid = (await create(client, variants))["id"]
    await start(client, eid)
    first = await assign(client, eid, unit_id="u-1", record="true")
    again = await assign(client, eid, unit_id="u-1", record="true")
    assert first["impression_event_id"] == again["impression_event_id"] is not None
    anonymous = [await assign(client, eid, record="true") for _ in range(3)]
    assert len({a["impression_event_id"] for a in anonymous}) == 3
    assert (await assign(client, eid, unit_id="u-2"))["impression_event_id"] is None
    arms = (await client.get(f"/v1/experiments/{eid}")).json()["arms"]
    assert sum(arm["impressions"] for arm in arms) == 4


async def test_stats_show_click_through_by_template_version(client: httpx.AsyncClient) -> None:
    a, b, _ = await variant_ids(client)
    await send(client, *traffic(a, 40, 4, "a"), *traffic(b, 10, 0, "b"))
    groups = (await client.get("/v1/stats", params={"group_by": "template_version"})).json()[
        "groups"
    ]
    assert len(groups) == 1
    assert groups[0]["impressions"] == 50
    assert groups[0]["clicks"] == 4
    assert groups[0]["click_rate"] == pytest.approx(0.08)
    assert groups[0]["conversion_rate"] == 0.0


async def test_another_workspace_can_neither_see_nor_serve_nor_use_my_variants(
    database_url: str,
) -> None:
    settings = Settings(auth_required=True, database_url=database_url, models={})
    llm = FakeLLM()
    llm.script = lambda messages, options: f"Grip number {options.seed}."
    async with serving(settings, llm) as (_, api):
        mine = bearer(await new_key(settings, "acme"))
        theirs = bearer(await new_key(settings, "globex"))
        reader = bearer(await new_key(settings, "acme", scopes="read"))
        made = await api.post(
            PATHS["ad_slogan"], json=brief("ad_slogan", n=2, seed=0), headers=mine
        )
        variants = [v["id"] for v in made.json()["variants"]]
        body = {"name": "Hero", "variant_ids": variants}
        assert (await api.post("/v1/experiments", json=body, headers=theirs)).status_code == 404
        assert (await api.post("/v1/experiments", json=body, headers=reader)).status_code == 403
        created = await api.post("/v1/experiments", json=body, headers=mine)
        eid = created.json()["id"]
        assert (await api.post(f"/v1/experiments/{eid}/start", headers=theirs)).status_code == 404
        assert (await api.post(f"/v1/experiments/{eid}/start", headers=mine)).status_code == 200
        path = f"/v1/experiments/{eid}/assignment"
        refused = await api.get(path, headers=theirs)
        assert refused.status_code == 404
        assert variants[0] not in refused.text
        assert variants[1] not in refused.text
        assert (await api.get(f"/v1/experiments/{eid}", headers=theirs)).status_code == 404
        assert (await api.get("/v1/experiments", headers=theirs)).json()["items"] == []
        served = await api.get(path, params={"unit_id": "u"}, headers=reader)
        assert served.status_code == 200
        assert served.json()["variant_id"] in variants
        assert served.headers["X-RateLimit-Limit-Events"] == str(settings.events_per_minute)


async def test_events_have_their_own_budget_per_key(database_url: str) -> None:
    settings = Settings(
        auth_required=True, database_url=database_url, models={}, events_per_minute=10
    )
    async with serving(settings) as (_, api):
        key = bearer(await new_key(settings, "acme", requests_per_minute=1000))
        made = await api.post(PATHS["ad_slogan"], json=brief("ad_slogan", n=1), headers=key)
        variant = made.json()["variants"][0]["id"]

        def batch(tag: str, n: int) -> Any:
            return {"events": [event(f"{tag}{i}", variant) for i in range(n)]}

        too_big = await api.post("/v1/events", json=batch("big", 11), headers=key)
        assert too_big.status_code == 429
        assert "smaller batches" in too_big.json()["error"]["message"]
        ok = await api.post("/v1/events", json=batch("a", 8), headers=key)
        assert ok.status_code == 200
        assert ok.json()["recorded"] == 8
        assert ok.headers["X-RateLimit-Remaining-Events"] == "2"
        over = await api.post("/v1/events", json=batch("b", 3), headers=key)
        assert over.status_code == 429
        assert "Retry-After" in over.headers
        # The refused batch used nothing: two more still fit.
        assert (await api.post("/v1/events", json=batch("c", 2), headers=key)).status_code == 200


async def test_two_experiments_over_one_variant_cannot_start_at_once(
    client: httpx.AsyncClient,
) -> None:
    a, b, c = await variant_ids(client)
    first = (await create(client, [a, b]))["id"]
    second = (await create(client, [b, c]))["id"]
    answers = await asyncio.gather(
        client.post(f"/v1/experiments/{first}/start"),
        client.post(f"/v1/experiments/{second}/start"),
    )
    assert sorted(answer.status_code for answer in answers) == [200, 409]
    running = [
        item["id"]
        for item in (await client.get("/v1/experiments")).json()["items"]
        if item["status"] == "running"
    ]
    assert len(running) == 1
    # Once the running one stops, the other may start.
    winner = a if running == [first] else b
    stopped = await client.post(
        f"/v1/experiments/{running[0]}/stop", json={"winner_variant_id": winner}
    )
    assert stopped.status_code == 200
    other = second if running == [first] else first
    assert (await client.post(f"/v1/experiments/{other}/start")).status_code == 200
