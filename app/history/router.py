"""HTTP routes for dashboards: list, fetch, delete generations, and stats."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from app.config import Language
from app.deps import AdminCaller, ReadCaller, SessionDep
from app.etag import json_with_etag
from app.fields import Identifier, IsoDatetime, Sha256Hex, ShortText
from app.generation.schemas import GenerationRead
from app.generation.views import generation_read
from app.history import service
from app.history.schemas import (
    GenerationFilters,
    GenerationPage,
    GroupBy,
    Sort,
    StatsRead,
)
from app.models import GenerationStatus
from app.openapi_docs import AUTH_ERRORS, error_responses

router = APIRouter(prefix="/v1", tags=["History"])

GenerationId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="Generation id (from a write or the list).",
        examples=["01938f6e-8c1a-7b2c-9d3e-4f5a6b7c8d9e"],
    ),
]
KindFilter = Annotated[
    str | None,
    Query(
        max_length=32,
        pattern=r"^[a-z_]+$",
        description="ad_slogan, product_description or blog_post.",
        examples=["ad_slogan"],
    ),
]
StatusFilter = Annotated[
    GenerationStatus | None, Query(description="succeeded, partial or failed.")
]


def _filters(
    kind: KindFilter = None,
    model: Annotated[
        Identifier | None, Query(description="Model alias.", examples=["local"])
    ] = None,
    template_version: Annotated[
        Sha256Hex | None, Query(description="sha256 from GET /v1/templates.")
    ] = None,
    status_: Annotated[StatusFilter, Query(alias="status")] = None,
    language: Annotated[Language | None, Query(description="en or zh.")] = None,
    brand_id: Annotated[
        str | None, Query(max_length=64, description="Written with this brand kit.")
    ] = None,
    product_id: Annotated[
        str | None, Query(max_length=64, description="Written about this product.")
    ] = None,
    audience_id: Annotated[
        str | None, Query(max_length=64, description="Written for this audience.")
    ] = None,
    min_rating: Annotated[
        float | None,
        Query(
            ge=1, le=5, description="Only generations with a variant rated this high on average."
        ),
    ] = None,
    created_after: Annotated[
        IsoDatetime | None, Query(description="ISO 8601; naive means UTC.")
    ] = None,
    created_before: Annotated[
        IsoDatetime | None, Query(description="ISO 8601; naive means UTC.")
    ] = None,
    updated_since: Annotated[
        IsoDatetime | None,
        Query(description="Changed at or after this time (new rating, new row). For pollers."),
    ] = None,
    q: Annotated[
        ShortText | None, Query(description="Text in the brief or copy (case-insensitive).")
    ] = None,
) -> GenerationFilters:
    return GenerationFilters(
        kind=kind,
        model=model,
        template_version=template_version,
        status=status_,
        language=language,
        brand_id=brand_id,
        product_id=product_id,
        audience_id=audience_id,
        min_rating=min_rating,
        created_after=created_after,
        created_before=created_before,
        updated_since=updated_since,
        q=q,
    )


Filters = Annotated[GenerationFilters, Depends(_filters)]


@router.get(
    "/generations",
    response_model=GenerationPage,
    summary="List generations",
    description="Newest first by default, in pages of up to 100 joined by `next_cursor` "
    "(keyset paging: no duplicates or gaps while new rows arrive). Pollers: pass "
    "`sort=updated_at&updated_since=<last seen updated_at>` and send back the `ETag` as "
    "`If-None-Match` to get `304` when nothing changed. A new rating changes its generation's "
    "`updated_at`.",
    responses={304: {"description": "Nothing changed."}, **error_responses(400, *AUTH_ERRORS)},
)
async def list_generations(
    request: Request,
    session: SessionDep,
    caller: ReadCaller,
    filters: Filters,
    sort: Annotated[Sort, Query(description="Order of the list.")] = Sort.newest,
    cursor: Annotated[
        str | None,
        Query(
            max_length=400,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="`next_cursor` of the previous page, as given (URL-safe base64 of "
            "the last row's sort key). Opaque: one the server did not issue, or one issued "
            "for another `sort`, answers 400 with `param` `cursor`.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
) -> Response:
    rows, next_cursor = await service.list_generations(
        session,
        workspace_id=caller.workspace_id,
        filters=filters,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    page = GenerationPage(
        items=[generation_read(g, with_prompt=False) for g in rows], next_cursor=next_cursor
    )
    return json_with_etag(request, page)


@router.get(
    "/generations/{generation_id}",
    response_model=GenerationRead,
    summary="Get one generation",
    description="Everything stored about a generation: the brief, template name and version, "
    "rendered prompt, model, options, usage, latency, and each variant with its checks and "
    "ratings. Supports `If-None-Match`.",
    responses={304: {"description": "Nothing changed."}, **error_responses(404, *AUTH_ERRORS)},
)
async def get_generation(
    generation_id: GenerationId, request: Request, session: SessionDep, caller: ReadCaller
) -> Response:
    generation = await service.get_generation(
        session, workspace_id=caller.workspace_id, generation_id=generation_id
    )
    return json_with_etag(request, generation_read(generation, with_prompt=True))


@router.delete(
    "/generations/{generation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a generation",
    description="Erases the generation with its variants and ratings. This cannot be undone. "
    "Needs the `admin` scope.",
    responses=error_responses(404, *AUTH_ERRORS),
)
async def delete_generation(
    generation_id: GenerationId, session: SessionDep, caller: AdminCaller
) -> Response:
    await service.delete_generation(
        session, workspace_id=caller.workspace_id, generation_id=generation_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/stats",
    response_model=StatsRead,
    summary="Compare templates, models, kinds or languages",
    description="Per group: generations, failures, how many were rated, the mean rating, mean "
    "latency and mean tokens. Group by `template_version` to see which prompt writes better "
    "copy, or by `model` to compare models. Takes the same filters as the list.",
    responses=error_responses(*AUTH_ERRORS),
)
async def get_stats(
    session: SessionDep,
    caller: ReadCaller,
    filters: Filters,
    group_by: Annotated[GroupBy, Query(description="What to group by.")] = GroupBy.kind,
) -> StatsRead:
    groups = await service.stats(
        session, workspace_id=caller.workspace_id, filters=filters, group_by=group_by
    )
    return StatsRead(group_by=group_by, groups=groups)
