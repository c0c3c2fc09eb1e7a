"""HTTP routes that write copy: one typed POST per kind in `KINDS`, JSON or Server-Sent
Events, and its per-audience sibling that writes one generation for each of several audiences."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, status
from pydantic import BaseModel, Field, create_model, model_validator

from app.auth.limits import TokenReservation
from app.auth.principal import Authenticator, Principal
from app.deps import GenerateCaller, LLMDep
from app.disconnect import client_gone
from app.error_handlers import app_error_response, request_id_of
from app.errors import AppError
from app.fields import KnowledgeId
from app.generation import service, streaming
from app.generation.outcome import Generated
from app.generation.plan import Order
from app.generation.schemas import (
    AudienceFailure,
    AudienceGeneration,
    GenerationRead,
    PerAudienceRead,
)
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
        state.store, state.database, registry, state.prompts, state.settings, state.scorers
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


MAX_AUDIENCES = 10


class ForAudiences(BaseModel):
    """The audiences of a per-audience request (mixed into each kind's brief)."""

    audience_ids: list[KnowledgeId] = Field(
        min_length=2,
        max_length=MAX_AUDIENCES,
        description="Audiences (from `POST /v1/audiences` or `POST /v1/personas`) to write "
        "for, 2 to 10, each once: one generation each.",
    )

    @model_validator(mode="after")
    def _audiences_once(self) -> "ForAudiences":
        if getattr(self, "audience_id", None) is not None:
            raise ValueError("give audience_ids, not audience_id, when writing per audience")
        if len(set(self.audience_ids)) != len(self.audience_ids):
            raise ValueError("audience_ids name an audience twice")
        return self


def _per_audience_body(kind: ContentKind[Any]) -> type[BaseModel]:
    """The kind's own brief plus `audience_ids`, as typed as the kind's route."""
    name = kind.brief_model.__name__.removesuffix("Brief") + "PerAudienceBrief"
    return create_model(name, __base__=(kind.brief_model, ForAudiences))


def _add_per_audience_route(router: APIRouter, kind: ContentKind[Any]) -> None:
    async def write_per_audience(
        body: Brief,
        request: Request,
        context: ContextDep,
        caller: GenerateCaller,
        idempotency_key: IdempotencyKey = None,
    ) -> Any:
        # Only what the client sent: defaults dumped here would count as set, and a rule on
        # which fields were given (a Meta ad takes no `headlines`) would refuse them.
        brief = kind.brief_model.model_validate(
            body.model_dump(exclude={"audience_ids"}, exclude_unset=True)
        )
        order = Order(kind, brief, caller.workspace_id, idempotency_key)
        audience_ids = [str(a) for a in body.audience_ids]  # type: ignore[attr-defined]
        async with client_gone(request) as gone:
            results = await service.generate_per_audience(
                context, order, audience_ids, tokens=CallerTokens(request, caller), cancelled=gone
            )
        answer = PerAudienceRead(
            results=[_audience_result(a, r) for a, r in zip(audience_ids, results, strict=True)]
        )
        return model_json(answer, status_code=201)

    write_per_audience.__annotations__["body"] = _per_audience_body(kind)
    router.add_api_route(
        path=kind.path.removeprefix("/v1") + "/per-audience",
        endpoint=write_per_audience,
        methods=["POST"],
        name="write_" + kind.slug.replace("-", "_") + "_per_audience",
        status_code=status.HTTP_201_CREATED,
        response_model=PerAudienceRead,
        summary=kind.title + ", one generation per audience",
        description=f"The brief of `POST {kind.path}` with `audience_ids` instead of "
        "`audience_id`: one generation for each audience, written from its needs, pains, "
        "objections, its words and, for a persona derived from reviews, its customers' own "
        "quotes, and stored on its own (so stats by `audience` compare them). The answer "
        "lists them in the order asked, each with its generation or the error it met. An "
        "unknown audience refuses the whole request before any model runs. Two generations "
        "run at once; the answer is JSON only (no event stream).",
        responses=error_responses(404, *AUTH_ERRORS, *BODY_ERRORS, 503),
    )


def _audience_result(audience_id: str, result: Generated | AppError) -> AudienceGeneration:
    failure = result if isinstance(result, AppError) else result.failure()
    if failure is not None:
        generation_id = failure.extra.get("generation_id")
        return AudienceGeneration(
            audience_id=audience_id,
            generation=None,
            error=AudienceFailure(
                type=failure.type, message=failure.message, generation_id=generation_id
            ),
        )
    assert isinstance(result, Generated)
    read = generation_read(result.generation, with_prompt=True)
    return AudienceGeneration(audience_id=audience_id, generation=read, error=None)


def write_router() -> APIRouter:
    """One POST route per kind registered in `KINDS` when the app is built, and its
    per-audience sibling."""
    router = APIRouter(prefix="/v1", tags=["Write copy"])
    for kind in KINDS.values():
        _add_route(router, kind)
        _add_per_audience_route(router, kind)
    return router
