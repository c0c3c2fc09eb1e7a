"""HTTP routes that write copy: one typed POST per kind."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse

from app.content import service
from app.content.kinds import AD_SLOGAN, BLOG_POST, PRODUCT_DESCRIPTION, ContentKind
from app.content.schemas import (
    AdSloganRequest,
    BlogPostRequest,
    GenerationOptionsIn,
    GenerationRead,
    ProductDescriptionRequest,
)
from app.content.views import generation_read
from app.deps import LLMDep, PromptsDep, SessionDep, SettingsDep
from app.disconnect import client_gone
from app.errors import app_error_response
from app.openapi_docs import error_responses

router = APIRouter(prefix="/v1", tags=["Write copy"])


def _context(
    session: SessionDep, settings: SettingsDep, registry: LLMDep, prompts: PromptsDep
) -> service.GenerationContext:
    return service.GenerationContext(session, registry, prompts, settings)


ContextDep = Annotated[service.GenerationContext, Depends(_context)]


async def _write(
    kind: ContentKind, body: GenerationOptionsIn, request: Request, context: ContextDep
) -> GenerationRead | JSONResponse:
    async with client_gone(request) as gone:
        result = await service.generate(context, kind=kind, request=body, cancelled=gone)
    failure = result.failure()
    if failure is not None:
        # Answer with the error but keep the failed row: returning (not raising) commits it.
        return app_error_response(request, failure)
    return generation_read(result.generation, with_prompt=True)


def _route(kind: ContentKind) -> dict[str, object]:
    return {
        "path": kind.path.removeprefix("/v1"),
        "status_code": status.HTTP_201_CREATED,
        "response_model": GenerationRead,
        "summary": kind.title,
        "description": kind.description
        + "\n\nThe answer holds every variant (best first) with the checks it passed, the "
        "rendered prompt, the template version, the model and the token usage. The generation "
        "is stored before the answer is sent, even when the model fails (the error then names "
        "its `generation_id`).",
        "responses": error_responses(400, 413, 422, 429, 502, 503, 504),
    }


@router.post(**_route(AD_SLOGAN))  # type: ignore[arg-type]
async def write_ad_slogans(
    body: AdSloganRequest, request: Request, context: ContextDep
) -> GenerationRead | JSONResponse:
    return await _write(AD_SLOGAN, body, request, context)


@router.post(**_route(PRODUCT_DESCRIPTION))  # type: ignore[arg-type]
async def write_product_descriptions(
    body: ProductDescriptionRequest, request: Request, context: ContextDep
) -> GenerationRead | JSONResponse:
    return await _write(PRODUCT_DESCRIPTION, body, request, context)


@router.post(**_route(BLOG_POST))  # type: ignore[arg-type]
async def write_blog_posts(
    body: BlogPostRequest, request: Request, context: ContextDep
) -> GenerationRead | JSONResponse:
    return await _write(BLOG_POST, body, request, context)
