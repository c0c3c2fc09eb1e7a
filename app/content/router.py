"""HTTP routes that write copy: one typed POST per kind, JSON or Server-Sent Events."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import StreamingResponse

from app.auth.principal import Authenticator, Principal
from app.content import idempotency, service, streaming
from app.content.kinds import AD_SLOGAN, BLOG_POST, PRODUCT_DESCRIPTION, ContentKind
from app.content.outcome import Generated
from app.content.schemas import (
    AdSloganRequest,
    BlogPostRequest,
    GenerationOptionsIn,
    GenerationRead,
    ProductDescriptionRequest,
)
from app.content.views import generation_read
from app.deps import GenerateCaller, LLMDep
from app.disconnect import client_gone
from app.error_handlers import app_error_response, request_id_of
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, error_responses
from app.responses import model_json

router = APIRouter(prefix="/v1", tags=["Write copy"])


async def _context(request: Request, registry: LLMDep) -> service.GenerationContext:
    # Read straight from the app's state: one dependency per part would cost more per
    # request than everything else here (only the registry is swapped by tests).
    state = request.app.state
    return service.GenerationContext(
        state.store, state.database, registry, state.prompts, state.settings
    )


ContextDep = Annotated[service.GenerationContext, Depends(_context)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any unique string (e.g. a UUID). Sending the same key again returns the "
        "first answer and creates nothing; the same key with a different body is a 422.",
    ),
]

_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True)
class Call:
    """One write request: what was asked, by whom, and how to answer."""

    kind: ContentKind
    body: GenerationOptionsIn
    request: Request
    context: service.GenerationContext
    caller: Principal
    idempotency_key: str | None

    @property
    def auth(self) -> Authenticator:
        """The app's authenticator (read from state: a dependency costs more per request)."""
        authenticator: Authenticator = self.request.app.state.authenticator
        return authenticator


async def _write(call: Call) -> Any:
    request, context = call.request, call.context
    plan = service.plan(
        context,
        kind=call.kind,
        request=call.body,
        workspace_id=call.caller.workspace_id,
        idempotency_key=call.idempotency_key,
    )
    streamed = "text/event-stream" in request.headers.get("accept", "")
    existing = await idempotency.find(
        context.database, call.caller.workspace_id, call.idempotency_key
    )
    if existing is not None:
        # A replay spends nothing, so it is answered even when the budget is gone.
        replay = idempotency.replay(existing, plan.request_hash)
        return _stream_replay(replay, request) if streamed else _answer(request, replay)
    reservation = await call.auth.reserve_tokens(request, call.caller, plan.token_ceiling)
    if streamed:
        return StreamingResponse(
            streaming.events(
                context, plan, request.app.state.background, request_id_of(request), reservation
            ),
            media_type="text/event-stream",
            headers=_STREAM_HEADERS,
        )
    async with client_gone(request) as gone:
        result = await service.generate(context, plan, reservation=reservation, cancelled=gone)
    return _answer(request, result)


def _answer(request: Request, result: Generated) -> Any:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    failure = result.failure()
    if failure is not None:
        # Answer with the error but keep the failed row: returning (not raising) commits it.
        failure.headers.update(headers)
        return app_error_response(request, failure)
    read = generation_read(result.generation, with_prompt=True)
    return model_json(read, status_code=201, headers=headers)


def _stream_replay(replay: Generated, request: Request) -> StreamingResponse:
    return StreamingResponse(
        streaming.replayed(replay, request_id_of(request)),
        media_type="text/event-stream",
        headers={**_STREAM_HEADERS, "Idempotent-Replayed": "true"},
    )


def _route(kind: ContentKind) -> dict[str, Any]:
    return {
        "path": kind.path.removeprefix("/v1"),
        "status_code": status.HTTP_201_CREATED,
        "response_model": GenerationRead,
        "summary": kind.title,
        "description": kind.description
        + "\n\nThe answer holds every variant (best first) with the checks it passed, the "
        "rendered prompt, the template version, the model and the token usage. The generation "
        "is stored before the answer is sent, even when the model fails (the error then names "
        "its `generation_id`).\n\n" + streaming.STREAM_DOC,
        "responses": {
            201: {
                "description": "The stored generation (JSON), or with `Accept: "
                "text/event-stream` a 200 event stream.",
                "content": {
                    "text/event-stream": {
                        "schema": {"type": "string"},
                        "example": streaming.STREAM_EXAMPLE,
                    }
                },
            },
            **error_responses(*AUTH_ERRORS, *BODY_ERRORS, 502, 503, 504),
        },
    }


@router.post(**_route(AD_SLOGAN))
async def write_ad_slogans(
    body: AdSloganRequest,
    request: Request,
    context: ContextDep,
    caller: GenerateCaller,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    return await _write(Call(AD_SLOGAN, body, request, context, caller, idempotency_key))


@router.post(**_route(PRODUCT_DESCRIPTION))
async def write_product_descriptions(
    body: ProductDescriptionRequest,
    request: Request,
    context: ContextDep,
    caller: GenerateCaller,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    return await _write(Call(PRODUCT_DESCRIPTION, body, request, context, caller, idempotency_key))


@router.post(**_route(BLOG_POST))
async def write_blog_posts(
    body: BlogPostRequest,
    request: Request,
    context: ContextDep,
    caller: GenerateCaller,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    return await _write(Call(BLOG_POST, body, request, context, caller, idempotency_key))
