"""HTTP routes that write copy: one typed POST per kind in `KINDS`, JSON or Server-Sent Events."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status

from app.auth.limits import TokenReservation
from app.auth.principal import Authenticator, Principal
from app.deps import GenerateCaller, LLMDep
from app.disconnect import client_gone
from app.error_handlers import app_error_response, request_id_of
from app.generation import service, streaming
from app.generation.outcome import Generated
from app.generation.plan import Order
from app.generation.schemas import GenerationRead
from app.generation.views import generation_read
from app.kinds import KINDS
from app.kinds.base import Brief, ContentKind
from app.openapi_docs import AUTH_ERRORS, BODY_ERRORS, error_responses
from app.responses import model_json


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


class CallerTokens:
    """The caller's API-key token budget, as the generation service asks for it."""

    def __init__(self, request: Request, caller: Principal) -> None:
        self._request, self._caller = request, caller

    async def reserve(self, tokens: int) -> TokenReservation | None:
        """Set aside tokens on the key (its headers go on the response), or refuse."""
        # Read from state: a dependency costs more per request.
        authenticator: Authenticator = self._request.app.state.authenticator
        return await authenticator.reserve_tokens(self._request, self._caller, tokens)


async def _write(
    kind: ContentKind[Any],
    brief: Brief,
    request: Request,
    context: service.GenerationContext,
    caller: Principal,
    idempotency_key: str | None,
) -> Any:
    order = Order(kind, brief, caller.workspace_id, idempotency_key)
    tokens = CallerTokens(request, caller)
    if "text/event-stream" in request.headers.get("accept", ""):
        return await streaming.stream(
            context,
            order,
            tokens=tokens,
            background=request.app.state.background,
            request_id=request_id_of(request),
        )
    async with client_gone(request) as gone:
        result = await service.generate(context, order, tokens=tokens, cancelled=gone)
    return _answer(request, result)


def _answer(request: Request, result: Generated) -> Any:
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    failure = result.failure()
    if failure is not None:
        # The failed generation is stored; the answer is its error, naming it.
        failure.headers.update(headers)
        return app_error_response(request, failure)
    read = generation_read(result.generation, with_prompt=True)
    return model_json(read, status_code=201, headers=headers)


def _operation(kind: ContentKind[Any]) -> dict[str, Any]:
    return {
        "path": kind.path.removeprefix("/v1"),
        "methods": ["POST"],
        "name": "write_" + kind.slug.replace("-", "_"),
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
            **error_responses(404, *AUTH_ERRORS, *BODY_ERRORS, 502, 503, 504),
        },
    }


def _add_route(router: APIRouter, kind: ContentKind[Any]) -> None:
    async def write(
        body: Brief,
        request: Request,
        context: ContextDep,
        caller: GenerateCaller,
        idempotency_key: IdempotencyKey = None,
    ) -> Any:
        return await _write(kind, body, request, context, caller, idempotency_key)

    # FastAPI reads the body's model from the signature: each kind's own brief, so the
    # OpenAPI document and validation are as typed as a hand-written endpoint's.
    write.__annotations__["body"] = kind.brief_model
    router.add_api_route(endpoint=write, **_operation(kind))


def write_router() -> APIRouter:
    """One POST route per kind registered in `KINDS` when the app is built."""
    router = APIRouter(prefix="/v1", tags=["Write copy"])
    for kind in KINDS.values():
        _add_route(router, kind)
    return router
