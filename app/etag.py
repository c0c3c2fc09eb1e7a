"""ETags over the exact JSON a GET answers with, and 304 when the client already has it."""

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel

from app.responses import model_json


def json_with_etag(request: Request, model: BaseModel, *, status_code: int = 200) -> Response:
    """The model as JSON with a strong ETag; 304 when If-None-Match already names it."""
    response = model_json(model, status_code=status_code)
    etag = '"' + hashlib.sha256(response.body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    # Weak comparison, as RFC 9110 asks for If-None-Match.
    candidates = {c.strip().removeprefix("W/") for c in header.split(",")}
    return etag in candidates
