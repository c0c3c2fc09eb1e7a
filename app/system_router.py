"""Service-level routes: health, readiness, metrics, models and templates."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from app import metrics
from app.config import LANGUAGES
from app.deps import AdminCaller, LLMDep, PromptsDep, ReadCaller
from app.error_handlers import error_response
from app.errors import AppError
from app.kinds import KINDS
from app.openapi_docs import AUTH_ERRORS, error_responses

router = APIRouter(tags=["Service"])


class ModelsRead(BaseModel):
    """The model aliases requests may name."""

    default: str | None
    models: list[dict[str, Any]]


class TemplateRead(BaseModel):
    """A prompt template and what it expects."""

    name: str
    kind: str
    language: str
    version: str = Field(description="sha256 of the template and everything it includes.")
    variables: list[str]
    includes: list[str]


@router.get("/healthz", summary="Liveness", description="200 while the process serves HTTP.")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness",
    description="200 when the database answers, every kind has its template in every "
    "language, and the model serving each language (when a request names none) can run; "
    "503 naming what is wrong otherwise. Nothing is loaded or called upstream to find out.",
    responses=error_responses(503),
)
async def readyz(request: Request, prompts: PromptsDep, registry: LLMDep) -> Any:
    problems = []
    try:
        async with request.app.state.database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        problems.append(f"database unavailable ({type(exc).__name__})")
    wanted = [name for kind in KINDS.values() for name in kind.template_names(LANGUAGES)]
    if missing := prompts.missing(wanted):
        problems.append(f"templates missing: {', '.join(missing)}")
    for language in LANGUAGES:
        try:
            alias = registry.resolve_alias(None, language)
        except AppError as exc:
            problems.append(exc.message)
            break
        if (problem := registry.problem(alias)) and problem not in problems:
            problems.append(problem)
    if problems:
        return error_response(request, 503, "not_ready", "Not ready: " + "; ".join(problems) + ".")
    return JSONResponse({"status": "ready", "templates": len(prompts.list())})


@router.get(
    "/v1/models",
    response_model=ModelsRead,
    summary="List model aliases",
    description="Aliases a request can name in `model`, which one is the default, and which "
    "provider serves each. Secrets are never shown.",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_models(registry: LLMDep, caller: ReadCaller) -> ModelsRead:
    return ModelsRead(default=registry.default, models=registry.describe())


@router.get(
    "/v1/templates",
    response_model=list[TemplateRead],
    summary="List prompt templates",
    description="Every template with its kind, language, version (sha256 of its source and "
    "includes) and the variables it expects. Generations record the version they used, so "
    "`GET /v1/stats?group_by=template_version` compares prompt revisions.",
    responses=error_responses(*AUTH_ERRORS),
)
async def list_templates(prompts: PromptsDep, caller: ReadCaller) -> list[TemplateRead]:
    return [TemplateRead(**vars(info)) for info in prompts.list()]


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="The Prometheus text format: requests by route and status with latency "
    "histograms, model calls by alias and outcome, tokens in and out, the embedded model's "
    "queue depth and wait, group-commit batch sizes and commit times, and events ingested. "
    "With several server processes every scrape sums all of them. Needs the `admin` scope "
    "(Prometheus sends the key with `authorization: {credentials: ...}`).",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, **error_responses(*AUTH_ERRORS)},
)
async def prometheus_metrics(caller: AdminCaller) -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
