"""HTTP answers for every failure, all in the one envelope of app/errors.py."""

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.errors import AppError, error_body

logger = logging.getLogger("copyforge.errors")

_STATUS_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


def request_id_of(request: Request) -> str | None:
    """The id the request-id middleware gave this request."""
    request_id: str | None = request.scope.get("state", {}).get("request_id")
    return request_id


def error_response(
    request: Request,
    status_code: int,
    type_: str,
    message: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A JSONResponse in the error envelope, tagged with the request id."""
    request_id = request_id_of(request)
    all_headers = dict(headers or {})
    if request_id:
        all_headers["X-Request-ID"] = request_id
    return JSONResponse(
        error_body(type_, message, param=param, request_id=request_id, extra=extra),
        status_code=status_code,
        headers=all_headers,
    )


_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "missing"})


def _param_of(loc: tuple[Any, ...]) -> str | None:
    # ("body", "n") -> "n"; ("query", "limit") -> "limit"; the source stays implied.
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts) or None


def app_error_response(request: Request, exc: AppError) -> JSONResponse:
    """The envelope response for an AppError (for errors answered without raising)."""
    return error_response(
        request,
        exc.status_code,
        exc.type,
        exc.message,
        param=exc.param,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return app_error_response(request, exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return error_response(
            request, 400, "invalid_json", f"Request body is not valid JSON: {first.get('msg')}"
        )
    if tuple(first.get("loc", ())) == ("body",) and first.get("type") in _NOT_AN_OBJECT:
        content_type = request.headers.get("content-type", "")
        if "json" not in content_type:
            return error_response(
                request,
                415,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json.",
            )
        return error_response(
            request, 422, "validation_error", "The body must be a JSON object.", param="body"
        )
    param = _param_of(tuple(first.get("loc", ())))
    message = f"{param}: {first['msg']}" if param else str(first["msg"])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    details = [
        {"param": _param_of(tuple(e.get("loc", ()))), "message": e.get("msg")} for e in errors
    ]
    return error_response(
        request, 422, "validation_error", message, param=param, extra={"details": details}
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, AppError):
        # FastAPI wraps errors raised while reading the body (e.g. the size limit) in a 400.
        return app_error_response(request, exc.__cause__)
    type_ = _STATUS_TYPES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    if exc.status_code == 404 and message == "Not Found":
        message = f"No route for {request.method} {request.url.path}."
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return error_response(request, exc.status_code, type_, message, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    # Starlette's 405 names only the first route matching the path; a path served by
    # several routes (GET and DELETE /v1/generations/{id}) must list them all.
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log, never to the client.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "internal_error", "Internal server error.")


def install_error_handlers(app: FastAPI) -> None:
    """Route every kind of failure into the one envelope."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
