"""OpenAPI pieces shared by routers: the documented error envelope."""

from typing import Any

from pydantic import BaseModel, Field

_DESCRIPTIONS = {
    304: "Not modified: the ETag you sent still matches.",
    400: "Malformed request (bad JSON, bad cursor).",
    404: "No such resource.",
    413: "Request body too large.",
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


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, all in the envelope."""
    return {
        code: {"model": ErrorEnvelope, "description": _DESCRIPTIONS.get(code, "Error.")}
        for code in codes
    }
