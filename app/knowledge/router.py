"""HTTP routes for brand kits, products and audiences."""

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app import uploads
from app.deps import KnowledgeCaller, ReadCaller, SessionDep
from app.knowledge import catalog, service
from app.knowledge.schemas import (
    AudienceIn,
    AudienceRead,
    BrandKit,
    BrandRead,
    BrandVersionSummary,
    Page,
    ProductIn,
    ProductRead,
)
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, ErrorEnvelope, error_responses

router = APIRouter(prefix="/v1")

# UUIDs in the route itself, so `/products/import` is never taken for an id (a GET there is
# 405, not a lookup of a product called "import").
RecordId = Annotated[UUID, Path(description="Id from a create or list.")]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
]
Limit = Annotated[int, Query(ge=1, le=service.PAGE_LIMIT, description="Page size.")]
Archived = Annotated[bool, Query(description="Include archived records.")]
WRITE_ERRORS = error_responses(404, 409, *AUTH_ERRORS, *BODY_ERRORS)
READ_ERRORS = error_responses(404, *AUTH_ERRORS)


def _page(items: list[Any], limit: int, last_id: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": last_id if len(items) == limit else None}


# --- brands ------------------------------------------------------------------------------


@router.post(
    "/brands",
    tags=["Brand kits"],
    status_code=status.HTTP_201_CREATED,
    response_model=BrandRead,
    summary="Create a brand kit",
    description="A brand kit: voice, style rules, term rules (banned, preferred, trademark "
    "spellings), required elements per kind, and example texts in the brand's voice. It "
    "starts at version 1. Pass its id as `brand_id` when writing copy.",
    responses=WRITE_ERRORS,
)
async def create_brand(body: BrandKit, session: SessionDep, caller: KnowledgeCaller) -> Any:
    return (await service.create_brand(session, caller.workspace_id, body)).as_read()


@router.get(
    "/brands",
    tags=["Brand kits"],
    response_model=Page[BrandRead],
    summary="List brand kits",
    description="Kits at their newest version, oldest first, archived ones only when asked.",
    responses=READ_ERRORS,
)
async def list_brands(
    session: SessionDep,
    caller: ReadCaller,
    cursor: Cursor = None,
    limit: Limit = 50,
    archived: Archived = False,
) -> Any:
    rows = await service.list_brands(
        session, caller.workspace_id, after=cursor, limit=limit, archived=archived
    )
    return _page([r.as_read() for r in rows], limit, rows[-1].brand.id if rows else None)


@router.get(
    "/brands/{brand_id:uuid}",
    tags=["Brand kits"],
    response_model=BrandRead,
    summary="Read a brand kit",
    description="The kit at its newest version, or at `version`: every version stays "
    "readable, archived kits included, so history shows which kit wrote a line.",
    responses=READ_ERRORS,
)
async def get_brand(
    brand_id: RecordId,
    session: SessionDep,
    caller: ReadCaller,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="A version number.")
    ] = None,
) -> Any:
    return (await service.get_brand(session, caller.workspace_id, str(brand_id), version)).as_read()


@router.put(
    "/brands/{brand_id:uuid}",
    tags=["Brand kits"],
    response_model=BrandRead,
    summary="Change a brand kit (a new version)",
    description="Replaces the kit with the body as its next version; earlier versions stay "
    "readable. Two concurrent changes make two versions, never a lost one.",
    responses=WRITE_ERRORS,
)
async def update_brand(
    brand_id: RecordId, body: BrandKit, session: SessionDep, caller: KnowledgeCaller
) -> Any:
    return (await service.update_brand(session, caller.workspace_id, str(brand_id), body)).as_read()


@router.get(
    "/brands/{brand_id:uuid}/versions",
    tags=["Brand kits"],
    response_model=list[BrandVersionSummary],
    summary="List a brand kit's versions",
    description="Every version, oldest first; read one with `GET /v1/brands/{id}?version=`.",
    responses=READ_ERRORS,
)
async def brand_versions(brand_id: RecordId, session: SessionDep, caller: ReadCaller) -> Any:
    rows = await service.brand_versions(session, caller.workspace_id, str(brand_id))
    return [{"version": v, "name": name, "created_at": at} for v, name, at in rows]


@router.delete(
    "/brands/{brand_id:uuid}",
    tags=["Brand kits"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete (or archive) a brand kit",
    description="Deletes a kit nothing used; a kit that generations or products used is "
    "archived instead: it can no longer be used or changed, and its versions stay readable.",
    responses=error_responses(404, *AUTH_ERRORS),
)
async def delete_brand(
    brand_id: RecordId, session: SessionDep, caller: KnowledgeCaller
) -> Response:
    await service.remove(
        session, await service.brand_row(session, caller.workspace_id, str(brand_id))
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- products ----------------------------------------------------------------------------


@router.post(
    "/products",
    tags=["Products"],
    status_code=status.HTTP_201_CREATED,
    response_model=ProductRead,
    summary="Create a product",
    description="A product's facts: features, specs with units, price, approved claims with "
    "their evidence, forbidden claims, names per language. Copy written with its "
    "`product_id` may state only these facts; any other figure fails `unsupported_claim`.",
    responses=WRITE_ERRORS,
)
async def create_product(body: ProductIn, session: SessionDep, caller: KnowledgeCaller) -> Any:
    return service.product_read(await service.create_product(session, caller.workspace_id, body))


@router.get(
    "/products",
    tags=["Products"],
    response_model=Page[ProductRead],
    summary="List products",
    description="Products, oldest first; filter by brand or SKU.",
    responses=READ_ERRORS,
)
async def list_products(
    session: SessionDep,
    caller: ReadCaller,
    cursor: Cursor = None,
    limit: Limit = 50,
    archived: Archived = False,
    brand_id: Annotated[
        str | None, Query(max_length=64, description="Only this brand's products.")
    ] = None,
    sku: Annotated[
        str | None, Query(max_length=100, description="The product with this SKU.")
    ] = None,
) -> Any:
    rows = await service.list_products(
        session,
        caller.workspace_id,
        after=cursor,
        limit=limit,
        archived=archived,
        brand_id=brand_id,
        sku=sku,
    )
    return _page([service.product_read(r) for r in rows], limit, rows[-1].id if rows else None)


# The catalog as a file. Registered before /products/{product_id:uuid}, which would take
# "import" and "export" for ids. app/main.py gives IMPORT_PATH its larger body limit.
IMPORT_PATH = "/v1/products/import"
_CSV_EXAMPLE = (
    "sku,name,category,features,specs,price,currency,approved_claims,forbidden_claims,"
    "name_zh,features_zh\n"
    "AUR-TR-01,Aurora trail running shoes,running shoes,grippy outsole | rock plate,"
    "weight=210 g | drop=6 mm,129.00,USD,30% more grip on wet rock — lab test 2026-03,"
    "waterproof,极光越野跑鞋,湿滑岩石上抓地稳 | 防石板\n"
)
_JSONL_EXAMPLE = (
    '{"sku": "AUR-TR-01", "name": "Aurora trail running shoes", "specs": {"weight": "210 g"}, '
    '"price": "129.00", "currency": "USD"}\n'
)
_FILE_CONTENT = {
    "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
    "application/x-ndjson": {"schema": {"type": "string"}, "example": _JSONL_EXAMPLE},
}


@router.post(
    "/products/import",
    tags=["Products"],
    response_model=catalog.ImportReport,
    summary="Import products from a CSV or JSON Lines file",
    description="Creates or updates products by SKU from the file sent as the body "
    "(`Content-Type: text/csv` or `application/x-ndjson`, or `?format=`), up to "
    "`COPYFORGE_MAX_IMPORT_BYTES` (32 MiB). UTF-8 with or without BOM, or GBK/GB18030 as "
    "Chinese Excel saves it.\n\n"
    "CSV: a header line, then one product per line. Columns: `sku` and `name` (required), "
    "`brand_id`, `category`, `features`, `specs`, `price`, `currency`, `approved_claims`, "
    "`forbidden_claims`, `url`, and per language `name_zh`, `features_zh`, `category_zh`, "
    "`name_en`, .... List items are separated by ` | ` (a pipe with spaces around it); specs "
    "are `weight=210 g | drop=6 mm`; an approved claim's evidence follows the last ` — ` (em "
    "dash) or ` -- `: `30% more grip — lab test 2026-03`. A cell starting with `=` is data, "
    "stored as written. JSON Lines: one product object per line, as `POST /v1/products` "
    "takes it.\n\n"
    "Each row is written whole or refused with its line and reason (a row without SKU, a "
    "SKU already on an earlier line, another workspace's brand, a field over its cap); the "
    "others are written in one transaction. A row whose facts did not change counts as "
    "`unchanged` and keeps its revision. `dry_run=true` checks and reports, writing "
    "nothing. 422 only when the file as a whole cannot be read.",
    responses={
        **error_responses(409, 413, 422, *AUTH_ERRORS),
        415: {"model": ErrorEnvelope, "description": "Neither CSV nor JSON Lines."},
    },
    openapi_extra={"requestBody": {"required": True, "content": _FILE_CONTENT}},
)
async def import_products(
    request: Request,
    session: SessionDep,
    caller: KnowledgeCaller,
    fmt: uploads.FileFormat = None,
    dry_run: Annotated[
        bool, Query(description="Validate and report without writing anything.")
    ] = False,
) -> Any:
    file_format = uploads.file_format(request, fmt)
    data = await request.body()
    parse = catalog.parse_csv if file_format == "csv" else catalog.parse_jsonl
    return await catalog.import_products(session, caller.workspace_id, parse(data), dry_run=dry_run)


@router.get(
    "/products/export",
    tags=["Products"],
    response_class=StreamingResponse,
    summary="Export products as CSV or JSON Lines",
    description="Every product not archived, oldest first, as a download in the columns "
    "`POST /v1/products/import` reads: importing the file back changes nothing. Cells a "
    "spreadsheet would run as formulas (starting with `=`, `+`, `-`, `@`) get a leading `'`, "
    "which import drops again. CSV starts with a UTF-8 BOM so that Excel reads Chinese.",
    responses={
        200: {"description": "The file.", "content": _FILE_CONTENT},
        **error_responses(*AUTH_ERRORS),
    },
)
async def export_products(
    request: Request,
    caller: ReadCaller,
    fmt: Annotated[catalog.Format, Query(alias="format", description="csv or jsonl.")] = "csv",
) -> StreamingResponse:
    # Its own session: the request's closes when this returns, before the body is sent.
    database = request.app.state.database

    async def chunks() -> AsyncIterator[str]:
        async with database.read_sessions() as session:
            async for chunk in catalog.export_products(session, caller.workspace_id, fmt):
                yield chunk

    return uploads.download(chunks(), fmt, "products")


@router.get(
    "/products/{product_id:uuid}",
    tags=["Products"],
    response_model=ProductRead,
    summary="Read a product",
    description="A product with its facts and revision (archived ones too).",
    responses=READ_ERRORS,
)
async def get_product(product_id: RecordId, session: SessionDep, caller: ReadCaller) -> Any:
    return service.product_read(
        await service.get_product(session, caller.workspace_id, str(product_id))
    )


@router.put(
    "/products/{product_id:uuid}",
    tags=["Products"],
    response_model=ProductRead,
    summary="Replace a product's facts",
    description="The body replaces every fact; `revision` counts the changes. Generations "
    "keep the facts they were written from in their `input`.",
    responses=WRITE_ERRORS,
)
async def update_product(
    product_id: RecordId, body: ProductIn, session: SessionDep, caller: KnowledgeCaller
) -> Any:
    row = await service.update_product(session, caller.workspace_id, str(product_id), body)
    return service.product_read(row)


@router.delete(
    "/products/{product_id:uuid}",
    tags=["Products"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete (or archive) a product",
    description="Deletes a product no generation used; archives one that was used.",
    responses=error_responses(404, *AUTH_ERRORS),
)
async def delete_product(
    product_id: RecordId, session: SessionDep, caller: KnowledgeCaller
) -> Response:
    await service.remove(
        session, await service.get_product(session, caller.workspace_id, str(product_id))
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- audiences ---------------------------------------------------------------------------


@router.post(
    "/audiences",
    tags=["Audiences"],
    status_code=status.HTTP_201_CREATED,
    response_model=AudienceRead,
    summary="Create an audience",
    description="A reader: needs, pains, objections, the words they use and dislike. Pass "
    "its id as `audience_id` when writing copy.",
    responses=WRITE_ERRORS,
)
async def create_audience(body: AudienceIn, session: SessionDep, caller: KnowledgeCaller) -> Any:
    return service.audience_read(await service.create_audience(session, caller.workspace_id, body))


@router.get(
    "/audiences",
    tags=["Audiences"],
    response_model=Page[AudienceRead],
    summary="List audiences",
    description="Audiences, oldest first, archived ones only when asked.",
    responses=READ_ERRORS,
)
async def list_audiences(
    session: SessionDep,
    caller: ReadCaller,
    cursor: Cursor = None,
    limit: Limit = 50,
    archived: Archived = False,
) -> Any:
    rows = await service.list_audiences(
        session, caller.workspace_id, after=cursor, limit=limit, archived=archived
    )
    return _page([service.audience_read(r) for r in rows], limit, rows[-1].id if rows else None)


@router.get(
    "/audiences/{audience_id:uuid}",
    tags=["Audiences"],
    response_model=AudienceRead,
    summary="Read an audience",
    description="An audience with its profile and where it came from (`source`).",
    responses=READ_ERRORS,
)
async def get_audience(audience_id: RecordId, session: SessionDep, caller: ReadCaller) -> Any:
    row = await service.get_audience(session, caller.workspace_id, str(audience_id))
    return service.audience_read(row)


@router.put(
    "/audiences/{audience_id:uuid}",
    tags=["Audiences"],
    response_model=AudienceRead,
    summary="Replace an audience",
    description="The body replaces the profile; `revision` counts the changes.",
    responses=WRITE_ERRORS,
)
async def update_audience(
    audience_id: RecordId, body: AudienceIn, session: SessionDep, caller: KnowledgeCaller
) -> Any:
    row = await service.update_audience(session, caller.workspace_id, str(audience_id), body)
    return service.audience_read(row)


@router.delete(
    "/audiences/{audience_id:uuid}",
    tags=["Audiences"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete (or archive) an audience",
    description="Deletes an audience no generation used; archives one that was used.",
    responses=error_responses(404, *AUTH_ERRORS),
)
async def delete_audience(
    audience_id: RecordId, session: SessionDep, caller: KnowledgeCaller
) -> Response:
    row = await service.get_audience(session, caller.workspace_id, str(audience_id))
    await service.remove(session, row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
