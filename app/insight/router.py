"""HTTP routes for reviews: a batch, a file import, and how far their analysis got."""

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from app import uploads
from app.config import Language
from app.deps import JobsDep, KnowledgeCaller, LLMDep, ReadCaller, SessionDep
from app.fields import FileFormat as Format
from app.fields import Identifier, IsoDatetime, KnowledgeId, ShortText
from app.insight import service
from app.insight.insights import Bucket, Scope, insights
from app.insight.personas import MAX_PERSONAS, derive_personas
from app.insight.reading import spool
from app.insight.schemas import ImportRead, InsightsRead, ReviewBatch
from app.knowledge import service as knowledge
from app.knowledge.schemas import AudienceRead
from app.llm.registry import ModelRegistry
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, ErrorEnvelope, error_responses

router = APIRouter(prefix="/v1")
# app/main.py gives it the larger body limit of a file.
IMPORT_PATH = "/v1/reviews/import"
ImportId = Annotated[UUID, Path(description="`id` of the answer to a batch or an import.")]
AnalyseWith = Annotated[
    Identifier | None,
    Query(
        alias="model",
        description="Analyse with this model alias (structured JSON answers) instead of the "
        "offline analysers.",
    ),
]


def _analyser(registry: ModelRegistry, model: str | None) -> str:
    if model is None:
        return service.OFFLINE
    registry.resolve_alias(model, "en")  # an unknown alias is a clear 422 now, not later
    return f"llm:{model}"


_CSV_EXAMPLE = (
    "sku,source,external_id,stars,text,reviewed_at\n"
    "AUR-TR-03,tmall,t-1001,5,抓地力很强，下雨天跑山也不打滑。,2026-11-20\n"
    "AUR-TR-03,amazon,R-1002,2,The sole came loose after three weeks.,2026-11-21\n"
)
_JSONL_EXAMPLE = (
    '{"sku": "AUR-TR-03", "source": "tmall", "external_id": "t-1001", "stars": 5, '
    '"text": "抓地力很强，下雨天跑山也不打滑。"}\n'
)
_FILE_CONTENT = {
    "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
    "application/x-ndjson": {"schema": {"type": "string"}, "example": _JSONL_EXAMPLE},
}
_STORED = (
    "Personal data (e-mail addresses, phone and card numbers) is redacted from title and "
    "text before anything is stored; `author` is kept only as a keyed hash. A review already "
    "stored (the same `source` and `external_id`, or the same text by the same author about "
    "the same product) counts as a duplicate, once. Each review is then analysed off the "
    "request path (sentiment, aspects, keywords): `GET /v1/reviews/imports/{id}` shows how "
    "far that got."
)


@router.post(
    "/reviews",
    tags=["Reviews"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportRead,
    summary="Add reviews",
    description="Up to 1,000 reviews, each naming its product by `sku` or `product_id`. "
    "A review that cannot be taken (an unknown product, another workspace's product, a date "
    "in the future) is refused alone, with its index as `line`; the others are stored. " + _STORED,
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def add_reviews(
    body: ReviewBatch,
    session: SessionDep,
    jobs: JobsDep,
    registry: LLMDep,
    caller: KnowledgeCaller,
    model: AnalyseWith = None,
) -> Any:
    return await service.add_reviews(
        session,
        jobs,
        workspace_id=caller.workspace_id,
        reviews=body.reviews,
        analyser=_analyser(registry, model),
    )


@router.post(
    "/reviews/import",
    tags=["Reviews"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ImportRead,
    summary="Import reviews from a CSV or JSON Lines file",
    description="The file is the body (`Content-Type: text/csv` or `application/x-ndjson`, "
    "or `?format=`), up to `COPYFORGE_MAX_REVIEW_IMPORT_BYTES` (128 MiB), read as a stream: "
    "UTF-8 with or without BOM, or GBK/GB18030 as Chinese Excel and shop back-ends save it. "
    "CSV columns: `text` and `sku` (or `product_id`) required; `source`, `external_id`, "
    "`stars`, `title`, `language`, `reviewed_at`, `author` optional (`content`, `评论`, "
    "`rating`, `评分`, `date`, ... are read as their names). A cell starting with `=` is "
    "text, never a formula. Each bad row is refused with its line and reason and never "
    "drops its neighbours; the rows taken are stored in one transaction. " + _STORED,
    responses={
        **error_responses(413, 422, *AUTH_ERRORS),
        415: {"model": ErrorEnvelope, "description": "Neither CSV nor JSON Lines."},
    },
    openapi_extra={"requestBody": {"required": True, "content": _FILE_CONTENT}},
)
async def import_reviews(
    request: Request,
    session: SessionDep,
    jobs: JobsDep,
    registry: LLMDep,
    caller: KnowledgeCaller,
    fmt: uploads.FileFormat = None,
    model: AnalyseWith = None,
) -> Any:
    file_format = uploads.file_format(request, fmt)
    analyser = _analyser(registry, model)
    file, encoding = await spool(request.stream())
    with file:
        return await service.import_reviews(
            session,
            jobs,
            workspace_id=caller.workspace_id,
            file=file,
            encoding=encoding,
            fmt=file_format,
            analyser=analyser,
        )


@router.get(
    "/reviews/export",
    tags=["Reviews"],
    response_class=StreamingResponse,
    summary="Export reviews with their analysis",
    description="Every review (of one product with `product_id`), oldest first, with its "
    "sentiment, score, aspects (`term: polarity | ...`) and keywords, as CSV or JSON Lines. "
    "Text is as stored (redacted); a CSV cell a spreadsheet would run as a formula "
    "(starting with `=`, `+`, `-`, `@`) gets a leading `'`. CSV starts with a UTF-8 BOM so "
    "that Excel reads Chinese.",
    responses={
        200: {"description": "The file.", "content": _FILE_CONTENT},
        **error_responses(*AUTH_ERRORS),
    },
)
async def export_reviews(
    request: Request,
    caller: ReadCaller,
    product_id: Annotated[KnowledgeId | None, Query(description="One product.")] = None,
    fmt: Annotated[Format, Query(alias="format", description="csv or jsonl.")] = "csv",
) -> StreamingResponse:
    # Its own session: the request's closes when this returns, before the body is sent.
    database = request.app.state.database

    async def chunks() -> AsyncIterator[str]:
        async with database.read_sessions() as session:
            rows = service.export_reviews(
                session, workspace_id=caller.workspace_id, product_id=product_id, fmt=fmt
            )
            async for chunk in rows:
                yield chunk

    return uploads.download(chunks(), fmt, "reviews")


@router.get(
    "/reviews/imports/{import_id}",
    tags=["Reviews"],
    response_model=ImportRead,
    summary="Read an import",
    description="A batch's or a file's counts, the rows refused with their reasons, and how "
    "many of the reviews taken are analysed: `status` is `analysed` once all are.",
    responses=error_responses(404, *AUTH_ERRORS),
)
async def get_import(import_id: ImportId, session: SessionDep, caller: ReadCaller) -> Any:
    return await service.get_import(
        session, workspace_id=caller.workspace_id, import_id=str(import_id)
    )


def _scope(product_id: str | None, category: str | None, brand_id: str | None) -> Scope:
    # One of them, or none for the whole workspace.
    return Scope(product_id=product_id, category=category, brand_id=brand_id)


@router.get(
    "/insights",
    tags=["Reviews"],
    response_model=InsightsRead,
    summary="What the reviews say",
    description="For a product (`product_id`), a category, a brand, or the whole workspace, "
    "over a time range (a review's `reviewed_at`, else when it was stored): sentiment by day "
    "or week, the most praised and most criticised aspects with quotes, topics (groups of "
    "reviews speaking of the same things, as many as the data holds up to 8, each with its "
    "share, sentiment and trend), star ratings against what the text says (a five-star "
    "review with a complaint), and, with `since`, what changed against the period of the "
    "same length before. Reads the 100,000 newest reviews in range.",
    responses=error_responses(*AUTH_ERRORS, 422),
)
async def get_insights(
    session: SessionDep,
    caller: ReadCaller,
    product_id: Annotated[KnowledgeId | None, Query(description="One product.")] = None,
    category: Annotated[ShortText | None, Query(description="Products of a category.")] = None,
    brand_id: Annotated[KnowledgeId | None, Query(description="Products of a brand.")] = None,
    since: Annotated[IsoDatetime | None, Query(description="ISO 8601; naive means UTC.")] = None,
    until: Annotated[IsoDatetime | None, Query(description="ISO 8601; default now.")] = None,
    bucket: Annotated[Bucket, Query(description="day or week.")] = "week",
    analyser: Annotated[
        str,
        Query(max_length=64, description="Whose analyses: `offline`, or `llm:<alias>`."),
    ] = "offline",
) -> Any:
    return await insights(
        session,
        workspace_id=caller.workspace_id,
        scope=_scope(product_id, category, brand_id),
        since=service.aware(since) if since else None,
        until=service.aware(until) if until else None,
        bucket=bucket,
        analyser=analyser,
    )


class PersonaRequest(BaseModel):
    """Whose reviews to derive personas from."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"product_id": None, "language": "zh", "max_personas": 4}]},
    )

    product_id: KnowledgeId | None = None
    category: ShortText | None = None
    brand_id: KnowledgeId | None = None
    language: Language = Field(description="Personas from the reviews in this language.")
    since: IsoDatetime | None = None
    max_personas: Annotated[int, Field(ge=2, le=MAX_PERSONAS)] = MAX_PERSONAS


@router.post(
    "/personas",
    tags=["Reviews"],
    status_code=status.HTTP_201_CREATED,
    response_model=list[AudienceRead],
    summary="Derive personas from reviews",
    description="Groups the analysed reviews of a product, category or brand (in one "
    "language) by what their writers praise and criticise, and stores each group as an "
    "audience (`source: reviews`): a name, a summary, needs, pains, objections, the words "
    "they use, and `evidence` (share of reviews, the reviews it came from, quotes). Edit it "
    "with `PUT /v1/audiences/{id}` (the evidence stays) and write for it with "
    "`audience_id`. Needs at least 20 analysed reviews.",
    responses=error_responses(*AUTH_ERRORS, *BODY_ERRORS),
)
async def create_personas(
    body: PersonaRequest, session: SessionDep, caller: KnowledgeCaller
) -> Any:
    audiences = await derive_personas(
        session,
        workspace_id=caller.workspace_id,
        scope=_scope(body.product_id, body.category, body.brand_id),
        language=body.language,
        since=service.aware(body.since) if body.since else None,
        max_personas=body.max_personas,
    )
    return [knowledge.audience_read(a) for a in audiences]
