"""OpenAPI pieces shared by routers: the documented error envelope."""

from typing import Any

from pydantic import BaseModel, Field

_DESCRIPTIONS = {
    304: "Not modified: the ETag you sent still matches.",
    400: "Malformed request (bad JSON, bad cursor).",
    401: "No API key, or an unknown or revoked one.",
    403: "The API key lacks the scope this operation needs.",
    404: "No such resource (another workspace's ids answer this too).",
    409: "Conflict: a SKU already taken, or an archived record changed.",
    413: "Request body too large.",
    415: "The body is not sent as application/json.",
    422: "A field failed validation; `param` names it.",
    429: "Rate limited (here or upstream); see `Retry-After`.",
    502: "The model API failed; the generation is stored with its error.",
    503: "Not ready, or the local model's queue is full; see `Retry-After`.",
    504: "The model did not answer within its deadline.",
}


class ErrorDetail(BaseModel):
    """What went wrong."""

    type: str = Field(examples=["validation_error"])
    message: str = Field(examples=["n: Input should be greater than or equal to 1"])
    param: str | None = Field(None, examples=["n"])
    request_id: str | None = Field(None, examples=["3f2a9c0e5b7d4e1f8a6b2c9d0e1f2a3b"])


class ErrorEnvelope(BaseModel):
    """The one shape of every error."""

    error: ErrorDetail


# Every operation behind an API key can answer these; every JSON body can answer BODY_ERRORS.
AUTH_ERRORS = (401, 403, 422, 429)
BODY_ERRORS = (400, 413, 415, 422)


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, all in the envelope."""
    return {
        code: {"model": ErrorEnvelope, "description": _DESCRIPTIONS.get(code, "Error.")}
        for code in sorted(set(codes))
    }
