"""One family of errors: every failure a client can see carries its Anthropic status and type.

The server turns any :class:`ApiError` into ``{"type": "error", "error": {...}}`` in one place,
so modules raise these instead of building response bodies themselves.
"""

from __future__ import annotations

from typing import Any

#: Anthropic's error type for each HTTP status we emit.
STATUS_TO_TYPE: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def error_type_for_status(status: int) -> str:
    """Anthropic error type for an HTTP status; unknown 4xx are invalid requests, 5xx api errors."""
    if status in STATUS_TO_TYPE:
        return STATUS_TO_TYPE[status]
    if 400 <= status < 500:
        return "invalid_request_error"
    return "api_error"


class CcrError(Exception):
    """The base of every error ccr raises on purpose; anything else is a bug."""


class ApiError(CcrError):
    """A failure the client sees, with the HTTP status and Anthropic error type to send."""

    def __init__(self, message: str, status: int = 500, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type or error_type_for_status(status)

    def to_body(self) -> dict[str, Any]:
        return error_body(self.error_type, self.message)


class InvalidRequest(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(message, 400, "invalid_request_error")


class AuthenticationFailed(ApiError):
    def __init__(self, message: str = "invalid API key: send the ccr APIKEY as x-api-key "
                 "or Authorization: Bearer") -> None:
        super().__init__(message, 401, "authentication_error")


class ConfigError(CcrError):
    """The configuration cannot be used; the message names the key path and what to fix."""

    def __init__(self, message: str, *, path: str | None = None, file: str | None = None) -> None:
        self.key_path = path
        self.file = file
        where = ""
        if file:
            where += f"{file}: "
        if path:
            where += f"{path}: "
        super().__init__(where + message)


def error_body(error_type: str, message: str) -> dict[str, Any]:
    """The Anthropic error envelope, used for JSON responses and ``event: error`` alike."""
    return {"type": "error", "error": {"type": error_type, "message": message}}
