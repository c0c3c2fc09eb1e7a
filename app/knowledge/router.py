"""HTTP routes for brand kits, products and audiences."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from app.deps import KnowledgeCaller, ReadCaller, SessionDep
from app.knowledge import service
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
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, error_responses

router = APIRouter(prefix="/v1")

RecordId = Annotated[
    str, Path(min_length=1, max_length=64, description="Id from a create or list.")
]
Cursor = Annotated[
    str | None, Query(max_length=64, description="`next_cursor` of the previous page.")
]
Limit = Annotated[int, Query(ge=1, le=service.PAGE_LIMIT, description="Page size.")]
Archived = Annotated[bool, Query(description="Include archived records.")]
WRITE_ERRORS = error_responses(404, 409, *AUTH_ERRORS, *BODY_ERRORS)
READ_ERRORS = error_responses(404, *AUTH_ERRORS)


def _page(items: list[Any], limit: int, last_id: str | None) -> dict[str, Any]:
    return {"data": items, "next_cursor": last_id if len(items) == limit else None}


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
    "/brands/{brand_id}",
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
    version: Annotated[int | None, Query(ge=1, description="A version number.")] = None,
) -> Any:
    return (await service.get_brand(session, caller.workspace_id, brand_id, version)).as_read()


@router.put(
    "/brands/{brand_id}",
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
    return (await service.update_brand(session, caller.workspace_id, brand_id, body)).as_read()


@router.get(
    "/brands/{brand_id}/versions",
    tags=["Brand kits"],
    response_model=list[BrandVersionSummary],
    summary="List a brand kit's versions",
    description="Every version, oldest first; read one with `GET /v1/brands/{id}?version=`.",
    responses=READ_ERRORS,
)
async def brand_versions(brand_id: RecordId, session: SessionDep, caller: ReadCaller) -> Any:
    rows = await service.brand_versions(session, caller.workspace_id, brand_id)
    return [{"version": v, "name": name, "created_at": at} for v, name, at in rows]


@router.delete(
    "/brands/{brand_id}",
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
    await service.remove(session, await service.brand_row(session, caller.workspace_id, brand_id))
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
    brand_id: Annotated[str | None, Query(max_length=64)] = None,
    sku: Annotated[str | None, Query(max_length=100)] = None,
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


@router.get(
    "/products/{product_id}",
    tags=["Products"],
    response_model=ProductRead,
    summary="Read a product",
    responses=READ_ERRORS,
)
async def get_product(product_id: RecordId, session: SessionDep, caller: ReadCaller) -> Any:
    return service.product_read(await service.get_product(session, caller.workspace_id, product_id))


@router.put(
    "/products/{product_id}",
    tags=["Products"],
    response_model=ProductRead,
    summary="Replace a product's facts",
    responses=WRITE_ERRORS,
)
async def update_product(
    product_id: RecordId, body: ProductIn, session: SessionDep, caller: KnowledgeCaller
) -> Any:
    row = await service.update_product(session, caller.workspace_id, product_id, body)
    return service.product_read(row)


@router.delete(
    "/products/{product_id}",
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
        session, await service.get_product(session, caller.workspace_id, product_id)
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
    "/audiences/{audience_id}",
    tags=["Audiences"],
    response_model=AudienceRead,
    summary="Read an audience",
    responses=READ_ERRORS,
)
async def get_audience(audience_id: RecordId, session: SessionDep, caller: ReadCaller) -> Any:
    row = await service.get_audience(session, caller.workspace_id, audience_id)
    return service.audience_read(row)


@router.put(
    "/audiences/{audience_id}",
    tags=["Audiences"],
    response_model=AudienceRead,
    summary="Replace an audience",
    responses=WRITE_ERRORS,
)
async def update_audience(
    audience_id: RecordId, body: AudienceIn, session: SessionDep, caller: KnowledgeCaller
) -> Any:
    row = await service.update_audience(session, caller.workspace_id, audience_id, body)
    return service.audience_read(row)


@router.delete(
    "/audiences/{audience_id}",
    tags=["Audiences"],
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete (or archive) an audience",
    description="Deletes an audience no generation used; archives one that was used.",
    responses=error_responses(404, *AUTH_ERRORS),
)
async def delete_audience(
    audience_id: RecordId, session: SessionDep, caller: KnowledgeCaller
) -> Response:
    row = await service.get_audience(session, caller.workspace_id, audience_id)
    await service.remove(session, row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
