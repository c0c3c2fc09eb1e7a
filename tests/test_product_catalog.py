"""The product catalog as a file: POST /v1/products/import and GET /v1/products/export.

Through the app on the database under test (a SQLite file, or PostgreSQL with -m database)."""

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.auth import keys
from app.config import Settings
from app.db import Database
from app.knowledge import catalog
from app.llm.registry import ModelRegistry
from app.main import create_app
from tests.fakes import FakeLLM

CSV = {"Content-Type": "text/csv"}
JSONL = {"Content-Type": "application/x-ndjson"}
HEADER = "sku,name,category,features,specs,price,currency,approved_claims,forbidden_claims"
SHOE = {
    "sku": "AUR-TR-01",
    "name": "Aurora trail running shoes",
    "category": "running shoes",
    "features": "grippy outsole for wet rock | rock plate",
    "specs": "weight=210 g | drop=6 mm",
    "price": "129.00",
    "currency": "USD",
    "approved_claims": "30% more grip on wet rock — lab test 2026-03 | light -- 210 g | quiet",
    "forbidden_claims": "waterproof",
    "url": "https://example.com/aurora",
    "name_zh": "极光越野跑鞋",
    "features_zh": "湿滑岩石上抓地稳 | 防石板",
}


def csv_file(*rows: dict[str, str], encoding: str = "utf-8") -> bytes:
    columns = list(dict.fromkeys(column for row in rows for column in row)) or ["sku", "name"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def jsonl_file(*products: dict[str, Any]) -> bytes:
    return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in products).encode()


async def upload(
    client: httpx.AsyncClient,
    body: bytes,
    headers: dict[str, str] = CSV,
    **params: str,
) -> dict[str, Any]:
    response = await client.post(
        "/v1/products/import", content=body, headers=headers, params=params
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def products(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> list[Any]:
    found: list[Any] = []
    cursor = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/products", params=params, headers=headers)).json()
        found += page["items"]
        if not (cursor := page["next_cursor"]):
            return found


async def product(client: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    page = (await client.get("/v1/products", params={"sku": sku})).json()
    assert len(page["items"]) == 1, page
    found: dict[str, Any] = page["items"][0]
    return found


def counts(report: dict[str, Any]) -> tuple[int, ...]:
    fields = ("rows", "created", "updated", "unchanged", "refused")
    return tuple(report[f] for f in fields)


def problems(report: dict[str, Any]) -> list[tuple[int, str | None]]:
    return [(e["line"], e["param"]) for e in report["errors"]]


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, registry=ModelRegistry.from_clients({"fake": FakeLLM()}, "fake"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield http


class TestImport:
    async def test_csv_creates_products_with_every_fact(self, client: httpx.AsyncClient) -> None:
        report = await upload(client, csv_file(SHOE, {"sku": "AUR-2", "name": "Sock"}))
        assert counts(report) == (2, 2, 0, 0, 0)
        assert report["errors"] == []
        shoe = await product(client, "AUR-TR-01")
        assert shoe["revision"] == 1
        assert shoe["features"] == ["grippy outsole for wet rock", "rock plate"]
        assert shoe["specs"] == {"weight": "210 g", "drop": "6 mm"}
        assert shoe["price"] == "129.00"
        assert shoe["approved_claims"] == [
            {"claim": "30% more grip on wet rock", "evidence": "lab test 2026-03"},
            {"claim": "light", "evidence": "210 g"},
            {"claim": "quiet", "evidence": None},
        ]
        assert shoe["forbidden_claims"] == ["waterproof"]
        assert shoe["translations"] == {
            "zh": {
                "name": "极光越野跑鞋",
                "features": ["湿滑岩石上抓地稳", "防石板"],
                "category": None,
            }
        }
        sock = await product(client, "AUR-2")
        assert (sock["features"], sock["specs"], sock["price"]) == ([], {}, None)

    async def test_jsonl(self, client: httpx.AsyncClient) -> None:
        body = jsonl_file(
            {"sku": "J-1", "name": "Kettle", "price": 39.5, "specs": {"volume": "1.7 l"}},
            {"sku": "J-2", "name": "Lamp", "translations": {"zh": {"name": "台灯"}}},
        )
        report = await upload(client, body + b"\n  \n" + b'[1]\n{"sku": "J-3"\n', JSONL)
        assert counts(report) == (4, 2, 0, 0, 2)
        assert problems(report) == [(5, None), (6, None)]
        assert (await product(client, "J-1"))["specs"] == {"volume": "1.7 l"}
        assert (await product(client, "J-2"))["translations"]["zh"]["name"] == "台灯"

    async def test_a_second_import_updates_a_third_changes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        sock = {"sku": "AUR-2", "name": "Sock"}
        await upload(client, csv_file(SHOE, sock))
        before = await product(client, "AUR-TR-01")
        cheaper = {**SHOE, "price": "99.00"}
        assert counts(await upload(client, csv_file(cheaper, sock))) == (2, 0, 1, 1, 0)
        after = await product(client, "AUR-TR-01")
        assert (after["id"], after["revision"], after["price"]) == (before["id"], 2, "99.00")
        assert after["updated_at"] > before["updated_at"]
        assert after["created_at"] == before["created_at"]
        assert (await product(client, "AUR-2"))["revision"] == 1

        assert counts(await upload(client, csv_file(cheaper, sock))) == (2, 0, 0, 2, 0)
        assert (await product(client, "AUR-TR-01"))["updated_at"] == after["updated_at"]

    async def test_bad_rows_are_refused_with_their_lines_and_good_ones_land(
        self, client: httpx.AsyncClient
    ) -> None:
        body = csv_file(
            {"sku": "OK-1", "name": "Fine", "price": "", "specs": "", "currency": ""},
            {"sku": "BAD-1", "name": "Free", "price": "-1", "specs": "", "currency": ""},
            {"sku": "BAD-2", "name": "Lower", "price": "", "specs": "", "currency": "usd"},
            {"sku": "BAD-3", "name": "", "price": "", "specs": "", "currency": ""},
            {"sku": "BAD-4", "name": "No =", "price": "", "specs": "weight", "currency": ""},
            {"sku": "", "name": "No SKU", "price": "", "specs": "", "currency": ""},
            {"sku": "bad sku!", "name": "Spaces", "price": "", "specs": "", "currency": ""},
            {"sku": "OK-2", "name": "Also fine", "price": "5", "specs": "", "currency": ""},
        )
        report = await upload(client, body)
        assert counts(report) == (8, 2, 0, 0, 6)
        assert problems(report) == [
            (3, "price"),
            (4, "currency"),
            (5, "name"),
            (6, "specs"),
            (7, "sku"),
            (8, "sku"),
        ]
        assert report["errors"][0]["sku"] == "BAD-1"
        assert "a price is digits" in report["errors"][0]["message"]
        assert "needs a SKU" in report["errors"][4]["message"]
        assert sorted(p["sku"] for p in await products(client)) == ["OK-1", "OK-2"]

    async def test_a_list_item_over_its_cap_names_the_column_and_the_item(
        self, client: httpx.AsyncClient
    ) -> None:
        row = {"sku": "X", "name": "X", "features_zh": "fine | " + "长" * 2001, "name_zh": "叉"}
        report = await upload(client, csv_file(row))
        assert problems(report) == [(2, "features_zh")]
        assert report["errors"][0]["message"].startswith("item 2: ")

    async def test_a_sku_twice_in_one_file_keeps_the_first_line(
        self, client: httpx.AsyncClient
    ) -> None:
        body = csv_file(
            {"sku": "A", "name": "First"},
            {"sku": "B", "name": "Other"},
            {"sku": "A", "name": "Second"},
            {"sku": "A", "name": "Third"},
        )
        report = await upload(client, body)
        assert counts(report) == (4, 2, 0, 0, 2)
        assert problems(report) == [(4, "sku"), (5, "sku")]
        assert "already on line 2" in report["errors"][0]["message"]
        assert (await product(client, "A"))["name"] == "First"

    async def test_a_brand_of_another_workspace_is_refused(self, database_url: str) -> None:
        settings = Settings(auth_required=True, database_url=database_url, models={})
        mine, theirs = await key(settings, "acme"), await key(settings, "globex")
        async with serving(settings) as http:
            kit = {"name": "Kit"}
            own = (await http.post("/v1/brands", json=kit, headers=mine)).json()["id"]
            other = (await http.post("/v1/brands", json=kit, headers=theirs)).json()["id"]
            body = csv_file(
                {"sku": "S-1", "name": "Mine", "brand_id": own},
                {"sku": "S-2", "name": "Theirs", "brand_id": other},
                {"sku": "S-3", "name": "Nobody's", "brand_id": "no-such-brand"},
            )
            report = await upload(http, body, {**CSV, **mine})
            assert counts(report) == (3, 1, 0, 0, 2)
            assert problems(report) == [(3, "brand_id"), (4, "brand_id")]
            assert [p["brand_id"] for p in await products(http, mine)] == [own]

    async def test_a_failure_mid_import_writes_nothing(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Chunks of 2: the first is written, then the second fails; the first must go too.
        monkeypatch.setattr(catalog, "CHUNK", 2)
        upsert = catalog._upsert
        calls = 0

        async def failing(*args: Any, **kwargs: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RuntimeError("the database went away")
            await upsert(*args, **kwargs)

        monkeypatch.setattr(catalog, "_upsert", failing)
        body = csv_file(*({"sku": f"S-{n}", "name": f"P {n}"} for n in range(4)))
        response = await client.post("/v1/products/import", content=body, headers=CSV)
        assert response.status_code == 500
        assert calls == 2
        assert await products(client) == []

    async def test_dry_run_reports_and_writes_nothing(self, client: httpx.AsyncClient) -> None:
        await upload(client, csv_file({"sku": "A", "name": "Old"}))
        body = csv_file({"sku": "A", "name": "New"}, {"sku": "B", "name": "B"}, {"sku": "C"})
        report = await upload(client, body, dry_run="true")
        assert report["dry_run"] is True
        assert counts(report) == (3, 1, 1, 0, 1)
        assert [(p["sku"], p["name"], p["revision"]) for p in await products(client)] == [
            ("A", "Old", 1)
        ]

    async def test_more_than_a_thousand_problems_are_cut_but_counted(
        self, client: httpx.AsyncClient
    ) -> None:
        body = csv_file(*({"sku": f"S-{n}", "name": "", "price": "x"} for n in range(600)))
        report = await upload(client, body)
        assert (report["refused"], len(report["errors"])) == (600, 1000)
        assert report["errors_truncated"] is True


class TestFiles:
    async def test_gbk_from_chinese_excel(self, client: httpx.AsyncClient) -> None:
        row = {"sku": "ZH-1", "name": "极光越野跑鞋", "features": "湿滑岩石上抓地稳 | 防石板"}
        body = csv_file(row, encoding="gbk")
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
        assert counts(await upload(client, body)) == (1, 1, 0, 0, 0)
        zh = await product(client, "ZH-1")
        assert (zh["name"], zh["features"]) == ("极光越野跑鞋", ["湿滑岩石上抓地稳", "防石板"])

    async def test_utf8_with_bom(self, client: httpx.AsyncClient) -> None:
        body = b"\xef\xbb\xbf" + csv_file({"sku": "BOM-1", "name": "跑鞋"})
        assert counts(await upload(client, body)) == (1, 1, 0, 0, 0)
        assert (await product(client, "BOM-1"))["name"] == "跑鞋"

    async def test_bytes_neither_utf8_nor_gb18030_are_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        body = "sku,name\r\nA,Été\r\n".encode("utf-16")
        response = await client.post("/v1/products/import", content=body, headers=CSV)
        assert response.status_code == 422
        assert "neither UTF-8 nor GB18030" in response.json()["error"]["message"]

    @pytest.mark.parametrize("body", [b"", b"\xef\xbb\xbf", b" \r\n\r\n"])
    @pytest.mark.parametrize("headers", [CSV, JSONL])
    async def test_an_empty_file_is_refused(
        self, client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
    ) -> None:
        response = await client.post("/v1/products/import", content=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["error"] == {
            "type": "validation_error",
            "message": "The file is empty.",
            "param": "body",
            "request_id": response.headers["x-request-id"],
        }

    @pytest.mark.parametrize("body", [b"sku,name", b"sku,name\r\n", b"sku,name\r\n,\r\n\r\n"])
    async def test_a_header_alone_imports_nothing(
        self, client: httpx.AsyncClient, body: bytes
    ) -> None:
        assert counts(await upload(client, body)) == (0, 0, 0, 0, 0)

    async def test_a_line_number_is_where_its_record_starts(
        self, client: httpx.AsyncClient
    ) -> None:
        body = b'sku,name,features\r\nA,A,"one\r\ntwo\r\nthree"\r\nB,B,x\r\nC,,x\r\n'
        report = await upload(client, body)
        assert problems(report) == [(6, "name")]
        assert (await product(client, "A"))["features"] == ["one\r\ntwo\r\nthree"]

    @pytest.mark.parametrize(
        ("header", "message"),
        [
            ("sku,name,colour", "Unknown column(s) colour"),
            ("sku,name,Name", "Column(s) name twice"),
            ("name,price", "needs the column(s) sku"),
        ],
    )
    async def test_a_header_that_cannot_be_read_refuses_the_file(
        self, client: httpx.AsyncClient, header: str, message: str
    ) -> None:
        body = f"{header}\r\nA,B,C\r\n".encode()
        response = await client.post("/v1/products/import", content=body, headers=CSV)
        assert response.status_code == 422
        assert message in response.json()["error"]["message"]
        assert response.json()["error"]["param"] == "header"

    async def test_huge_cells_refuse_their_row(self, client: httpx.AsyncClient) -> None:
        body = csv_file(
            {"sku": "LONG", "name": "n" * 5000},
            # Over the csv module's own limit of 131,072 characters a cell.
            {"sku": "HUGE", "name": "ok", "features": "f" * 200_000},
            {"sku": "FINE", "name": "ok", "features": "fine"},
        )
        report = await upload(client, body)
        assert counts(report) == (3, 1, 0, 0, 2)
        assert problems(report) == [(2, "name"), (3, None)]
        assert [p["sku"] for p in await products(client)] == ["FINE"]

    async def test_unsupported_media_type(self, client: httpx.AsyncClient) -> None:
        body = csv_file({"sku": "A", "name": "A"})
        for headers in ({"Content-Type": "application/json"}, {}):
            response = await client.post("/v1/products/import", content=body, headers=headers)
            assert response.status_code == 415
            assert response.json()["error"]["type"] == "unsupported_media_type"
        # ?format names it whatever the Content-Type says (curl --data-binary sends a form's).
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert counts(await upload(client, body, form, format="csv"))[1] == 1

    async def test_the_import_takes_more_than_the_json_body_limit(
        self, client: httpx.AsyncClient
    ) -> None:
        rows = [
            {"sku": f"S-{n}", "name": f"Product {n}", "features": "x" * 200} for n in range(1500)
        ]
        body = csv_file(*rows)
        assert len(body) > 256 * 1024
        assert counts(await upload(client, body))[1] == 1500

    async def test_oversize(self, database_url: str) -> None:
        settings = Settings(database_url=database_url, models={}, max_import_bytes=4096)
        body = csv_file(*({"sku": f"S-{n}", "name": "x" * 50} for n in range(100)))
        async with serving(settings) as http:
            response = await http.post("/v1/products/import", content=body, headers=CSV)
            assert response.status_code == 413
            assert response.json()["error"]["type"] == "payload_too_large"

            async def chunks() -> AsyncIterator[bytes]:  # no Content-Length up front
                yield body

            response = await http.post("/v1/products/import", content=chunks(), headers=CSV)
            assert response.status_code == 413
            assert await products(http) == []


TRICKY = [
    {
        "sku": "T-1",
        "name": '=HYPERLINK("https://evil.example","click")',
        "category": "+cmd|' /C calc'!A0",
        "features": ["@SUM(1+1)", "-2 kg", "a | b is one item", "[not json"],
        "specs": {"a=b": "c", "weight": "=210 g"},
        "price": "0.50",
        "approved_claims": [
            {"claim": "fast — and light", "evidence": None},
            {"claim": "grip", "evidence": "lab — 2026"},
        ],
        "forbidden_claims": ["'=already quoted"],
        "translations": {"zh": {"name": "极光", "features": ["=1+1"], "category": None}},
    },
    {"sku": "T-2", "name": "Plain", "features": ["[1]"]},
    # A spec name the plain syntax cannot write (found by the fuzzer: export broke mid-file).
    {"sku": "T-3", "name": "Odd", "specs": {"=x": "7=y"}},
]


class TestExport:
    async def test_formula_cells_are_data_and_neutralised_on_export(
        self, client: httpx.AsyncClient
    ) -> None:
        row = {"sku": "F-1", "name": "=1+1", "features": "@SUM(A1) | -5 | +x", "category": "\t="}
        await upload(client, csv_file(row))
        stored = await product(client, "F-1")
        assert (stored["name"], stored["features"]) == ("=1+1", ["@SUM(A1)", "-5", "+x"])

        response = await client.get("/v1/products/export", params={"format": "csv"})
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"] == 'attachment; filename="products.csv"'
        assert response.content.startswith(b"\xef\xbb\xbf")
        exported = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert list(exported[0]) == list(catalog.CSV_COLUMNS)
        cells = exported[0]
        assert (cells["name"], cells["features"], cells["category"]) == (
            "'=1+1",
            "'@SUM(A1) | -5 | +x",
            "'=",
        )
        assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in cells.values())

    @pytest.mark.parametrize("fmt", ["csv", "jsonl"])
    async def test_export_then_import_changes_nothing(
        self, client: httpx.AsyncClient, fmt: str
    ) -> None:
        for body in TRICKY:
            assert (await client.post("/v1/products", json=body)).status_code == 201
        await upload(client, csv_file(SHOE, {"sku": "S-2", "name": "Sock"}))
        await upload(
            client, jsonl_file(*({"sku": f"J-{n}", "name": "J"} for n in range(600))), JSONL
        )
        before = await products(client)

        exported = await client.get("/v1/products/export", params={"format": fmt})
        assert exported.status_code == 200
        headers = CSV if fmt == "csv" else JSONL
        report = await upload(client, exported.content, headers)
        assert counts(report) == (len(before), 0, 0, len(before), 0), report["errors"][:3]
        assert await products(client) == before

    async def test_jsonl_export_lines_are_products(self, client: httpx.AsyncClient) -> None:
        await upload(client, csv_file(SHOE))
        response = await client.get("/v1/products/export", params={"format": "jsonl"})
        assert response.headers["content-type"] == "application/x-ndjson"
        (line,) = response.text.splitlines()
        assert json.loads(line)["translations"]["zh"]["name"] == "极光越野跑鞋"


async def key(settings: Settings, workspace: str) -> dict[str, str]:
    """An Authorization header for a new key in `workspace` (made with it)."""
    database = Database(settings)
    try:
        async with database.write_sessions() as session:
            created = await keys.create_key(
                session, workspace_id=workspace, scopes=["knowledge", "read"]
            )
            await session.commit()
    finally:
        await database.dispose()
    return {"Authorization": f"Bearer {created.secret}"}


async def test_workspaces_keep_their_own_catalogs(database_url: str) -> None:
    settings = Settings(auth_required=True, database_url=database_url, models={})
    acme, globex = await key(settings, "acme"), await key(settings, "globex")
    async with serving(settings) as http:

        def up(name: str) -> Callable[[dict[str, str]], Any]:
            return lambda who: upload(http, csv_file({"sku": "SAME", "name": name}), {**CSV, **who})

        assert counts(await up("Acme shoe")(acme))[1] == 1
        # The same SKU in another workspace is another product, not an update of Acme's.
        assert counts(await up("Globex shoe")(globex))[1] == 1
        assert counts(await up("Globex shoe v2")(globex))[2] == 1
        (mine,) = await products(http, acme)
        (theirs,) = await products(http, globex)
        assert mine["id"] != theirs["id"]
        assert (mine["name"], mine["revision"]) == ("Acme shoe", 1)
        assert theirs["name"] == "Globex shoe v2"
        exported = await http.get("/v1/products/export", params={"format": "jsonl"}, headers=acme)
        assert [json.loads(line)["name"] for line in exported.text.splitlines()] == ["Acme shoe"]


async def test_a_price_is_ascii_digits(client: httpx.AsyncClient) -> None:
    # Python's \d takes Arabic-Indic digits; the schema's pattern (and a reader of it) does not.
    answer = await client.post("/v1/products", json={"name": "X", "price": "١٢"})
    assert answer.status_code == 422
    assert answer.json()["error"]["param"] == "price"
