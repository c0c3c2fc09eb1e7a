"""History for dashboards: keyset paging, filters, ETags, polling, delete and stats."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fakes import FakeLLM, failing
from tests.payloads import PATHS, brief


async def create(client: httpx.AsyncClient, kind: str = "ad_slogan", **overrides: Any) -> Any:
    response = await client.post(PATHS[kind], json=brief(kind, **overrides))
    assert response.status_code in (201, 502), response.text
    body = response.json()
    return body if response.status_code == 201 else body["error"]["generation_id"]


async def all_pages(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/generations", params=query)).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


class TestPaging:
    async def test_pages_have_no_duplicates_or_gaps_while_rows_arrive(
        self, client: httpx.AsyncClient
    ) -> None:
        original = [(await create(client))["id"] for _ in range(27)]
        seen: list[str] = []
        arrived: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 5}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/generations", params=params)).json()
            assert len(page["items"]) <= 5
            seen += [g["id"] for g in page["items"]]
            # New rows land between page fetches.
            arrived.append((await create(client))["id"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen))
        # Newest first: everything that existed when paging began, in reverse order.
        assert [i for i in seen if i in original] == list(reversed(original))
        assert set(seen) - set(original) <= set(arrived)

    async def test_oldest_first_and_page_size(self, client: httpx.AsyncClient) -> None:
        ids = [(await create(client))["id"] for _ in range(7)]
        items = await all_pages(client, sort="created_at", limit=3)
        assert [g["id"] for g in items] == ids
        assert (await client.get("/v1/generations", params={"limit": 7})).json()[
            "next_cursor"
        ] is None

    async def test_cursor_of_another_sort_is_refused(self, client: httpx.AsyncClient) -> None:
        for _ in range(3):
            await create(client)
        cursor = (await client.get("/v1/generations", params={"limit": 1})).json()["next_cursor"]
        response = await client.get(
            "/v1/generations", params={"cursor": cursor, "sort": "updated_at"}
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "cursor"

    async def test_list_omits_prompt_detail_includes_it(self, client: httpx.AsyncClient) -> None:
        created = await create(client)
        listed = (await client.get("/v1/generations")).json()["items"][0]
        assert listed["prompt"] is None
        detail = (await client.get(f"/v1/generations/{created['id']}")).json()
        assert "<brief>" in detail["prompt"]["user"]
        assert detail["prompt"]["system"]


class TestFilters:
    async def test_filters_select_the_matching_rows(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        slogan_en = await create(client)
        slogan_zh = await create(client, "ad_slogan", lang="zh")
        blog = await create(client, "blog_post")
        fake_llm.script = failing()
        failed_id = await create(client)

        async def ids(**params: Any) -> set[str]:
            return {g["id"] for g in await all_pages(client, **params)}

        assert await ids(kind="ad_slogan") == {slogan_en["id"], slogan_zh["id"], failed_id}
        assert await ids(language="zh") == {slogan_zh["id"]}
        assert await ids(status="failed") == {failed_id}
        assert await ids(model="fake") == {slogan_en["id"], slogan_zh["id"], blog["id"], failed_id}
        assert await ids(model="other") == set()
        version = blog["template"]["version"]
        assert await ids(template_version=version) == {blog["id"]}
        assert await ids(q="AURORA") == {slogan_en["id"], failed_id}
        assert await ids(q="极光") == {slogan_zh["id"]}
        assert await ids(q="100%_") == set()
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert await ids(created_after=future) == set()
        assert len(await ids(created_before=future)) == 4
        naive_past = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
        assert len(await ids(created_after=naive_past)) == 4

    async def test_q_searches_values_and_copy_never_field_names(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        slogan = await create(client)
        description = await create(
            client, "product_description", specs={"Capacity": "1.7 L", "colour": "Sage"}
        )

        async def ids(q: str) -> set[str]:
            return {g["id"] for g in await all_pages(client, q=q)}

        # Field names of the brief ("product", "key_message", "specs") are not text of it.
        for field_name in ("product", "key_message", "specs", "language", "max_chars"):
            assert await ids(field_name) == set(), field_name
        assert await ids("en") == set()  # the language code is a filter, not text
        assert await ids("wet rock") == {slogan["id"]}  # a value of the brief
        assert await ids("capacity") == {description["id"]}  # a spec's name is user text
        assert await ids("SAGE") == {description["id"]}
        assert await ids("holds on wet") == {slogan["id"]}  # the copy
        assert await ids("boils a litre in three") == {description["id"]}
        assert await ids("%") == set()

    async def test_min_rating(self, client: httpx.AsyncClient) -> None:
        liked = await create(client)
        disliked = await create(client)
        await create(client)
        for rater, score in (("a", 5), ("b", 4)):
            await client.put(
                f"/v1/variants/{liked['variants'][0]['id']}/rating",
                json={"score": score, "rater": rater},
            )
        await client.put(f"/v1/variants/{disliked['variants'][0]['id']}/rating", json={"score": 2})
        found = await all_pages(client, min_rating=4)
        assert [g["id"] for g in found] == [liked["id"]]
        assert found[0]["variants"][0]["rating_mean"] == 4.5
        assert found[0]["variants"][0]["rating_count"] == 2


class TestPolling:
    async def test_etag_answers_304_until_something_changes(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await create(client)
        first = await client.get("/v1/generations")
        etag = first.headers["etag"]
        again = await client.get("/v1/generations", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        await client.put(f"/v1/variants/{created['variants'][0]['id']}/rating", json={"score": 3})
        changed = await client.get("/v1/generations", headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != etag

    async def test_etag_on_single_generation(self, client: httpx.AsyncClient) -> None:
        created = await create(client)
        url = f"/v1/generations/{created['id']}"
        etag = (await client.get(url)).headers["etag"]
        assert (
            await client.get(url, headers={"If-None-Match": f'W/{etag}, "x"'})
        ).status_code == 304

    async def test_updated_since_returns_only_what_changed(self, client: httpx.AsyncClient) -> None:
        old = await create(client)
        await create(client)
        mark = (await client.get("/v1/generations", params={"sort": "updated_at"})).json()["items"][
            -1
        ]["updated_at"]
        new = await create(client)
        await client.put(f"/v1/variants/{old['variants'][0]['id']}/rating", json={"score": 4})
        changed = await all_pages(client, sort="updated_at", updated_since=mark)
        ids = [g["id"] for g in changed]
        # Inclusive mark: the last row seen may come again; nothing changed is missed.
        assert new["id"] in ids
        assert old["id"] in ids
        assert ids[-1] == old["id"]
        rated = next(g for g in changed if g["id"] == old["id"])
        assert rated["updated_at"] > rated["created_at"]


class TestDelete:
    async def test_delete_erases_generation_variants_and_ratings(
        self, client: httpx.AsyncClient
    ) -> None:
        keep = await create(client)
        gone = await create(client)
        variant_id = gone["variants"][0]["id"]
        await client.put(f"/v1/variants/{variant_id}/rating", json={"score": 4})
        response = await client.delete(f"/v1/generations/{gone['id']}")
        assert response.status_code == 204
        assert (await client.get(f"/v1/generations/{gone['id']}")).status_code == 404
        rate = await client.put(f"/v1/variants/{variant_id}/rating", json={"score": 4})
        assert rate.status_code == 404
        assert (await client.delete(f"/v1/generations/{gone['id']}")).status_code == 404
        stats = (await client.get("/v1/stats")).json()["groups"]
        assert stats[0]["count"] == 1
        assert stats[0]["rating_count"] == 0
        assert [g["id"] for g in await all_pages(client)] == [keep["id"]]


class TestStats:
    async def test_stats_by_each_grouping(
        self, client: httpx.AsyncClient, fake_llm: FakeLLM
    ) -> None:
        a = await create(client)
        await create(client, "blog_post")
        await create(client, "ad_slogan", lang="zh")
        fake_llm.script = failing()
        await create(client)
        for rater, score in (("x", 5), ("y", 3)):
            await client.put(
                f"/v1/variants/{a['variants'][0]['id']}/rating",
                json={"score": score, "rater": rater},
            )
        by_kind = (await client.get("/v1/stats", params={"group_by": "kind"})).json()
        assert by_kind["group_by"] == "kind"
        groups = {g["key"]: g for g in by_kind["groups"]}
        assert groups["ad_slogan"]["count"] == 3
        assert groups["ad_slogan"]["failed_count"] == 1
        assert groups["ad_slogan"]["rated_count"] == 1
        assert groups["ad_slogan"]["rating_count"] == 2
        assert groups["ad_slogan"]["mean_rating"] == 4.0
        assert groups["blog_post"]["mean_rating"] is None
        assert groups["blog_post"]["mean_output_tokens"] > 0
        by_language = (await client.get("/v1/stats", params={"group_by": "language"})).json()
        assert {g["key"]: g["count"] for g in by_language["groups"]} == {"en": 3, "zh": 1}
        by_model = (await client.get("/v1/stats", params={"group_by": "model"})).json()
        assert [(g["key"], g["count"]) for g in by_model["groups"]] == [("fake", 4)]
        by_version = (await client.get("/v1/stats", params={"group_by": "template_version"})).json()
        assert sum(g["count"] for g in by_version["groups"]) == 4
        assert len(by_version["groups"]) == 3
        filtered = (await client.get("/v1/stats", params={"language": "zh"})).json()
        assert [(g["key"], g["count"]) for g in filtered["groups"]] == [("ad_slogan", 1)]


class TestRatings:
    async def test_rating_again_updates_never_duplicates(self, client: httpx.AsyncClient) -> None:
        created = await create(client)
        url = f"/v1/variants/{created['variants'][0]['id']}/rating"
        first = (await client.put(url, json={"score": 2, "rater": "maya"})).json()
        second = (
            await client.put(url, json={"score": 5, "rater": "maya", "comment": "yes"})
        ).json()
        assert second["id"] == first["id"]
        assert second["score"] == 5
        assert second["comment"] == "yes"
        assert second["created_at"] == first["created_at"]
        assert second["updated_at"] >= first["updated_at"]
        await client.put(url, json={"score": 1, "rater": "lee"})
        variant = (await client.get(f"/v1/generations/{created['id']}")).json()["variants"][0]
        assert sorted((r["rater"], r["score"]) for r in variant["ratings"]) == [
            ("lee", 1),
            ("maya", 5),
        ]
        assert variant["rating_mean"] == 3.0

    async def test_same_rating_twice_is_idempotent(self, client: httpx.AsyncClient) -> None:
        created = await create(client)
        url = f"/v1/variants/{created['variants'][0]['id']}/rating"
        body = {"score": 4, "rater": "maya", "comment": "good"}
        first = await client.put(url, json=body)
        second = await client.put(url, json=body)
        assert first.status_code == second.status_code == 200
        assert first.json()["id"] == second.json()["id"]
        detail = (await client.get(f"/v1/generations/{created['id']}")).json()
        assert detail["variants"][0]["rating_count"] == 1

    async def test_concurrent_ratings_by_one_rater_leave_one_row(
        self, client: httpx.AsyncClient
    ) -> None:
        created = await create(client)
        url = f"/v1/variants/{created['variants'][0]['id']}/rating"
        responses = await asyncio.gather(
            *(client.put(url, json={"score": s % 5 + 1, "rater": "r"}) for s in range(10))
        )
        assert {r.status_code for r in responses} == {200}
        detail = (await client.get(f"/v1/generations/{created['id']}")).json()
        assert detail["variants"][0]["rating_count"] == 1

    @pytest.mark.parametrize("comment", ["好 👍", "{{ 7*7 }}", "<script>alert(1)</script>"])
    async def test_comments_are_stored_verbatim(
        self, client: httpx.AsyncClient, comment: str
    ) -> None:
        created = await create(client)
        url = f"/v1/variants/{created['variants'][0]['id']}/rating"
        assert (await client.put(url, json={"score": 3, "comment": comment})).json()[
            "comment"
        ] == comment


async def test_stats_take_the_list_filters(client: httpx.AsyncClient) -> None:
    rated = await create(client)
    await create(client)
    await client.put(f"/v1/variants/{rated['variants'][0]['id']}/rating", json={"score": 5})
    stats = (await client.get("/v1/stats", params={"min_rating": 4, "q": "aurora"})).json()
    assert [(g["key"], g["count"]) for g in stats["groups"]] == [("ad_slogan", 1)]
