"""JSON responses straight from pydantic models."""

from collections.abc import Mapping

from fastapi import Response
from pydantic import BaseModel


def model_json(
    model: BaseModel, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """The model as compact UTF-8 JSON, serialised by pydantic-core in one pass.

    The same bytes `JSONResponse(model.model_dump(mode="json"))` would send, for less CPU:
    no intermediate dict, no second walk by the json module."""
    return Response(
        model.model_dump_json(),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
    )
