"""The AppError tree and the one error envelope: what every failure is, apart from HTTP.

Services raise these; app/error_handlers.py renders them (and every other failure) as HTTP
answers. Nothing here imports the web framework."""

from collections.abc import Mapping
from typing import Any


class AppError(Exception):
    """A failure the client should hear about; subclasses fix the status and type."""

    status_code = 500
    type = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


class InvalidRequest(AppError):
    status_code = 400
    type = "invalid_request"


class Unauthorized(AppError):
    status_code = 401
    type = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    type = "forbidden"


class NotFound(AppError):
    status_code = 404
    type = "not_found"


class Conflict(AppError):
    status_code = 409
    type = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    type = "payload_too_large"


class ValidationFailed(AppError):
    status_code = 422
    type = "validation_error"


class RateLimited(AppError):
    status_code = 429
    type = "rate_limited"


class UpstreamRateLimited(AppError):
    status_code = 429
    type = "upstream_rate_limited"


class UpstreamError(AppError):
    status_code = 502
    type = "upstream_error"


class ServiceUnavailable(AppError):
    status_code = 503
    type = "service_unavailable"


class UpstreamTimeout(AppError):
    status_code = 504
    type = "upstream_timeout"


def error_body(
    type_: str,
    message: str,
    *,
    param: str | None = None,
    request_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The one error envelope."""
    error: dict[str, Any] = {
        "type": type_,
        "message": message,
        "param": param,
        "request_id": request_id,
    }
    error.update(extra or {})
    return {"error": error}
