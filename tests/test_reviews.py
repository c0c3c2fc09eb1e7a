"""Reviews in: POST /v1/reviews and /v1/reviews/import, analysed as jobs (in-process broker).

Through the app on the database under test (a SQLite file, or PostgreSQL with -m database),
with the real offline analysers."""

import asyncio
import codecs
import csv
import io
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from app.config import Settings
from app.db import Database
from app.insight import service
from app.jobs import Jobs, Lease
from app.llm.base import GenerationOptions, Message
from app.models import Job, Review, ReviewAnalysis, ReviewImport, utcnow
from tests.fakes import FakeLLM
from tests.test_auth import bearer, new_key, serving

SHOE = {"sku": "AUR-TR-03", "name": "Aurora trail running shoes"}
PRAISE_ZH = "抓地力很强，下雨天跑山也不打滑，非常满意！"
COMPLAINT_EN = "Terrible shoes. The sole came loose after three weeks and support never answered."
CSV_HEADERS = {"Content-Type": "text/csv"}


async def _product(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> str:
    answer = await client.post("/v1/products", json=SHOE, headers=headers or {})
    assert answer.status_code == 201, answer.text
    product_id: str = answer.json()["id"]
    return product_id


async def _analysed(
    client: httpx.AsyncClient, import_id: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The import once its analysis is done (the in-process broker runs it on this loop)."""
    for _ in range(600):
        body: dict[str, Any] = (
            await client.get(f"/v1/reviews/imports/{import_id}", headers=headers or {})
        ).json()
        if body["status"] != "analysing":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {import_id} still analysing: {body}")


def _csv(rows: list[dict[str, Any]], encoding: str = "utf-8") -> bytes:
    columns = list(dict.fromkeys(c for row in rows for c in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


async def _rows(settings: Settings) -> list[Any]:
    database = Database(settings)
    try:
        async with database.read_sessions() as session:
            return list(
                (await session.execute(select(Review).order_by(Review.created_at))).scalars()
            )
    finally:
        await database.dispose()


class TestBatch:
    async def test_reviews_are_stored_redacted_and_analysed(self, settings: Settings) -> None:
        async with serving(settings) as (_, client):
            await _product(client)
            batch = {
                "reviews": [
                    {
                        "sku": "AUR-TR-03",
                        "source": "tmall",
                        "external_id": "t-1",
                        "stars": 5,
                        "text": PRAISE_ZH + " 我的手机 13812345678",
                        "author": "王小明",
                    },
                    {
                        "sku": "AUR-TR-03",
                        "source": "amazon",
                        "external_id": "R-1",
                        "stars": 1,
                        "text": COMPLAINT_EN + " Mail me at jo.doe@example.com",
                        "reviewed_at": "2026-11-20T08:30:00Z",
                    },
                ]
            }
            answer = await client.post("/v1/reviews", json=batch)
            assert answer.status_code == 202, answer.text
            body = answer.json()
            assert (body["rows"], body["accepted"], body["refused"]) == (2, 2, 0)
            done = await _analysed(client, body["id"])
            assert (done["status"], done["analysed"]) == ("analysed", 2)
        rows = {r.source: r for r in await _rows(settings)}
        assert "13812345678" not in rows["tmall"].text
        assert "[phone]" in rows["tmall"].text
        assert "jo.doe@example.com" not in rows["amazon"].text
        assert rows["tmall"].language == "zh"
        assert rows["amazon"].language == "en"
        # The author only as a hash, never the name.
        assert rows["tmall"].author_hash
        assert "王小明" not in rows["tmall"].author_hash
        database = Database(settings)
        try:
            async with database.read_sessions() as session:
                analyses = {a.review_id: a for a in (await session.scalars(select(ReviewAnalysis)))}
        finally:
            await database.dispose()
        assert analyses[rows["tmall"].id].sentiment == "positive"
        assert analyses[rows["amazon"].id].sentiment == "negative"
        assert analyses[rows["tmall"].id].analyser == "offline"
        assert analyses[rows["tmall"].id].analyser_version

    async def test_a_bad_review_is_refused_alone(self, settings: Settings) -> None:
        async with serving(settings) as (_, client):
            await _product(client)
            future = (utcnow() + timedelta(days=30)).isoformat()
            batch = {
                "reviews": [
                    {"sku": "AUR-TR-03", "text": "很好"},
                    {"sku": "NO-SUCH", "text": "fine"},
                    {"sku": "AUR-TR-03", "text": "   "},
                    {"sku": "AUR-TR-03", "text": "later", "reviewed_at": future},
                    {"sku": "AUR-TR-03", "text": "x" * 20_001},
                    {"text": "no product named"},
                    "not an object",
                    {"sku": "AUR-TR-03", "text": "ok", "stars": 6},
                    {"sku": "AUR-TR-03", "text": "ok", "extra": 1},
                ]
            }
            body = (await client.post("/v1/reviews", json=batch)).json()
            assert (body["rows"], body["accepted"], body["refused"]) == (9, 1, 8)
            params = {e["line"]: e["param"] for e in body["errors"]}
            assert params == {
                1: "sku",
                2: "text",
                3: "reviewed_at",
                4: "text",
                5: "sku",
                6: None,
                7: "stars",
                8: "extra",
            }

    async def test_duplicates_count_once(self, settings: Settings) -> None:
        async with serving(settings) as (_, client):
            await _product(client)
            first = {"sku": "AUR-TR-03", "source": "tmall", "external_id": "t-9", "text": "好"}
            same_id = {**first, "text": "another text, same id"}
            same_text = {"sku": "AUR-TR-03", "source": "jd", "text": "好"}
            body = (await client.post("/v1/reviews", json={"reviews": [first]})).json()
            assert body["accepted"] == 1
            again = (
                await client.post("/v1/reviews", json={"reviews": [first, same_id, same_text]})
            ).json()
            assert (again["accepted"], again["duplicates"]) == (0, 3)
            # Two identical batches at once: each review stored once.
            fresh = [{"sku": "AUR-TR-03", "text": f"review {i}"} for i in range(50)]
            answers = await asyncio.gather(
                *(client.post("/v1/reviews", json={"reviews": fresh}) for _ in range(2))
            )
            accepted = [a.json()["accepted"] for a in answers]
            assert sum(accepted) == 50, accepted
        assert len(await _rows(settings)) == 51

    async def test_another_workspaces_product_is_refused(self, database_url: str) -> None:
        settings = Settings(auth_required=True, database_url=database_url, models={})
        mine = bearer(await new_key(settings, "acme", "read,knowledge"))
        theirs = bearer(await new_key(settings, "rival", "read,knowledge"))
        async with serving(settings) as (_, client):
            product_id = await _product(client, mine)
            review = {"product_id": product_id, "text": "great"}
            body = (
                await client.post("/v1/reviews", json={"reviews": [review]}, headers=theirs)
            ).json()
            assert body["refused"] == 1
            assert body["errors"][0]["param"] == "product_id"
            by_sku = {"sku": SHOE["sku"], "text": "great"}
            body = (
                await client.post("/v1/reviews", json={"reviews": [by_sku]}, headers=theirs)
            ).json()
            assert body["refused"] == 1
            mine_import = (
                await client.post("/v1/reviews", json={"reviews": [review]}, headers=mine)
            ).json()
            path = f"/v1/reviews/imports/{mine_import['id']}"
            assert (await client.get(path, headers=theirs)).status_code == 404
            assert (await client.get(path, headers=mine)).status_code == 200


class TestFileImport:
    async def test_csv_in_gbk_with_formula_cells_and_aliases(self, settings: Settings) -> None:
        rows = [
            {"sku": "AUR-TR-03", "评论": PRAISE_ZH, "评分": "5", "日期": "2026-11-02"},
            {"sku": "AUR-TR-03", "评论": '=HYPERLINK("http://evil.example","点我")', "评分": "1"},
            {"sku": "AUR-TR-03", "评论": "", "评分": "3"},
        ]
        async with serving(settings) as (_, client):
            await _product(client)
            answer = await client.post(
                "/v1/reviews/import", content=_csv(rows, "gbk"), headers=CSV_HEADERS
            )
            assert answer.status_code == 202, answer.text
            body = answer.json()
            assert (body["rows"], body["accepted"], body["refused"]) == (3, 2, 1)
            assert body["errors"][0]["line"] == 4
            assert body["errors"][0]["param"] == "text"
            assert (await _analysed(client, body["id"]))["analysed"] == 2
        texts = {r.text for r in await _rows(settings)}
        # Stored as the text it is; never run (exports guard it).
        assert '=HYPERLINK("http://evil.example","点我")' in texts
        assert PRAISE_ZH in texts

    async def test_jsonl_with_bom_and_bad_lines(self, settings: Settings) -> None:
        lines = [
            json.dumps({"sku": "AUR-TR-03", "text": COMPLAINT_EN}),
            "{not json",
            "[1, 2]",
            "",
            json.dumps({"sku": "AUR-TR-03", "text": "Love them, best grip ever."}),
        ]
        data = codecs.BOM_UTF8 + "\n".join(lines).encode()
        async with serving(settings) as (_, client):
            await _product(client)
            answer = await client.post("/v1/reviews/import?format=jsonl", content=data)
            body = answer.json()
            assert (body["rows"], body["accepted"], body["refused"]) == (4, 2, 2)
            assert [e["line"] for e in body["errors"]] == [2, 3]

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"", "empty"),
            (b"\xff\xfe\x00\x00garbage\x81", "neither UTF-8 nor GB18030"),
            (b"sku,stars\nAUR-TR-03,5\n", "`text` column"),
            (b"sku,text,colour\n", "Unknown column"),
        ],
    )
    async def test_unreadable_files_are_refused_whole(
        self, settings: Settings, content: bytes, message: str
    ) -> None:
        async with serving(settings) as (_, client):
            answer = await client.post("/v1/reviews/import", content=content, headers=CSV_HEADERS)
            assert answer.status_code == 422, answer.text
            assert message in answer.json()["error"]["message"]
        assert await _rows(settings) == []

    async def test_a_huge_review_is_refused_alone(self, settings: Settings) -> None:
        huge = "很" * (10 * 1024 * 1024 // 3)  # 10 MB of UTF-8
        data = _csv(
            [
                {"sku": "AUR-TR-03", "text": "first"},
                {"sku": "AUR-TR-03", "text": huge},
                {"sku": "AUR-TR-03", "text": "last"},
            ]
        )
        async with serving(settings) as (_, client):
            await _product(client)
            body = (
                await client.post("/v1/reviews/import", content=data, headers=CSV_HEADERS)
            ).json()
            assert (body["accepted"], body["refused"]) == (2, 1), body
        assert {r.text for r in await _rows(settings)} == {"first", "last"}

    async def test_unsupported_media_type(self, settings: Settings) -> None:
        async with serving(settings) as (_, client):
            answer = await client.post(
                "/v1/reviews/import", content=b"x", headers={"Content-Type": "text/plain"}
            )
            assert answer.status_code == 415
            assert answer.json()["error"]["type"]


class TestJobs:
    async def test_unfinished_work_resumes_after_a_restart(self, settings: Settings) -> None:
        settings = settings.model_copy(update={"job_lease_s": 2.0})
        async with serving(settings) as (app, client):
            await _product(client)
            jobs: Jobs = app.state.jobs
            jobs.handlers.clear()  # this "process" dies before it analyses anything
            reviews = [{"sku": "AUR-TR-03", "text": f"great shoes {i}"} for i in range(30)]
            body = (await client.post("/v1/reviews", json={"reviews": reviews})).json()
            import_id = body["id"]
        database = Database(settings)
        try:
            async with database.write_sessions.begin() as session:
                # As a crash leaves it: claimed, then its process gone.
                await session.execute(
                    update(Job).values(status="running", updated_at=utcnow() - timedelta(seconds=5))
                )
        finally:
            await database.dispose()
        async with serving(settings) as (_, client):
            done = await _analysed(client, import_id)
            assert (done["status"], done["analysed"]) == ("analysed", 30)
        database = Database(settings)
        try:
            async with database.read_sessions() as session:
                count = await session.scalar(select(func.count()).select_from(ReviewAnalysis))
                job = (await session.scalars(select(Job))).one()
        finally:
            await database.dispose()
        assert count == 30
        assert job.status == "succeeded"
        assert job.attempts >= 2

    async def test_analysing_twice_adds_nothing(self, settings: Settings) -> None:
        async with serving(settings) as (app, client):
            await _product(client)
            reviews = [{"sku": "AUR-TR-03", "text": f"fine {i}"} for i in range(5)]
            body = (await client.post("/v1/reviews", json={"reviews": reviews})).json()
            await _analysed(client, body["id"])
            jobs: Jobs = app.state.jobs
            job = (await _jobs(jobs.database))[0]
            registry = app.state.registry
            lease = Lease(jobs.database, job.id)
            await service.analyse_import(jobs.database, registry, job, lease)
            async with jobs.database.read_sessions() as session:
                record = await session.get(ReviewImport, body["id"])
                count = await session.scalar(select(func.count()).select_from(ReviewAnalysis))
            assert record is not None
            assert record.analysed == 5
            assert count == 5


async def _jobs(database: Database) -> list[Job]:
    async with database.read_sessions() as session:
        return list(await session.scalars(select(Job)))


class TestExport:
    async def test_formulas_never_leave_raw(self, settings: Settings) -> None:
        formula = '=HYPERLINK("http://evil.example","点我")'
        async with serving(settings) as (_, client):
            await _product(client)
            reviews = [
                {"sku": "AUR-TR-03", "text": formula, "external_id": "@x"},
                {"sku": "AUR-TR-03", "text": PRAISE_ZH, "stars": 5},
            ]
            body = (await client.post("/v1/reviews", json={"reviews": reviews})).json()
            await _analysed(client, body["id"])
            answer = await client.get("/v1/reviews/export")
            assert answer.status_code == 200
            assert answer.content.startswith(codecs.BOM_UTF8)
            rows = list(csv.DictReader(io.StringIO(answer.text.removeprefix("\ufeff"))))
            texts = {row["text"] for row in rows}
            assert "'" + formula in texts
            assert formula not in texts
            assert {row["external_id"] for row in rows} == {"'@x", ""}
            praise = next(row for row in rows if row["text"] == PRAISE_ZH)
            assert praise["sentiment"] == "positive"
            lines = (await client.get("/v1/reviews/export?format=jsonl")).text.splitlines()
            # JSON is data to every reader: the text as it was written.
            assert {json.loads(line)["text"] for line in lines} == {formula, PRAISE_ZH}


def _model_analysis(messages: Sequence[Message], options: GenerationOptions) -> str:
    review = messages[-1].content
    if "broken" in review:
        return "I think it is nice"  # never an analysis, however often asked
    # A model's answer with a preamble and a trailing comma: read leniently.
    return (
        'Here you go: {"sentiment": "negative", "score": -0.6, "aspects": '
        '[{"term": "laces", "polarity": "negative", "quote": "laces broke"}], '
        '"keywords": ["laces",],}'
    )


class TestModelAnalyser:
    async def test_an_alias_analyses_and_broken_answers_are_not_stored(
        self, settings: Settings
    ) -> None:
        llm = FakeLLM(script=_model_analysis)
        async with serving(settings, llm) as (_, client):
            await _product(client)
            reviews = [
                {"sku": "AUR-TR-03", "text": "The laces broke after a week."},
                {"sku": "AUR-TR-03", "text": "broken answer please"},
            ]
            answer = await client.post("/v1/reviews?model=fake", json={"reviews": reviews})
            assert answer.status_code == 202, answer.text
            done = await _analysed(client, answer.json()["id"])
            # The job finished; one review has no analysis, and says so.
            assert (done["accepted"], done["analysed"]) == (2, 1)
            insight = (await client.get("/v1/insights", params={"analyser": "llm:fake"})).json()
            assert insight["analysed"] == 1
            assert insight["sentiment"]["negative"] == 1
            unknown = await client.post("/v1/reviews?model=nope", json={"reviews": reviews})
            assert unknown.status_code == 422
            assert unknown.json()["error"]["param"] == "model"
        # The review reached the model as fenced, JSON-encoded data, under a schema.
        messages, options = llm.calls[0]
        assert messages[-1].content.startswith('<review>"')
        assert options.constraints.json_schema is not None
        assert options.temperature == 0.0
