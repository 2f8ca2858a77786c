"""Every error as `application/problem+json` (RFC 9457) with a stable `code`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError, WebSocketRequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketState

from missionctl.errors import (
    MissionControlError,
    ModelUnavailable,
    RateLimited,
    TooManyAttempts,
    Unauthenticated,
)

PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """An error (RFC 9457): a stable `code` to act on, a `detail` for people."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status.")
    detail: str = Field(description="What went wrong, for a person.")
    code: str = Field(description="Stable machine-readable code, e.g. `invalid_transition`.")
    instance: str = Field(description="The path that failed.")


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# Declared on every operation, so clients (and schemathesis) know every answer they may get.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem("Malformed request (e.g. invalid JSON)."),
    401: _problem("Not signed in, or the credentials are invalid."),
    403: _problem("The caller's role does not allow this."),
    404: _problem("Not found (or in another tenant)."),
    405: _problem("Method not allowed."),
    409: _problem("Conflicts with the current state (see `code`)."),
    413: _problem("Body too large."),
    422: _problem("Invalid input; `errors` names each field."),
    428: _problem("A precondition header (If-Match) is required."),
    429: _problem("Rate limited or too many attempts; see Retry-After."),
    503: _problem("Temporarily unavailable; retry."),
}
log = structlog.get_logger("missionctl.web")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def problem(
    status: int, code: str, title: str, detail: str, request: Request, **extra: Any
) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": f"https://missionctl.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _clean(value: Any) -> Any:
    """Make validation error context JSON-safe (it may hold exceptions or bytes)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | WebSocketRequestValidationError)
    errors = [
        {
            "loc": list(error.get("loc", ())),
            "field": ".".join(str(p) for p in error.get("loc", ())[1:]),
            "msg": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    if any(error["type"] == "json_invalid" for error in errors):
        return problem(
            400,
            "malformed_json",
            "Malformed JSON",
            "the request body is not valid JSON",
            request,
            errors=_clean(errors),
        )
    first = errors[0] if errors else {"field": "", "msg": "invalid"}
    where = first["field"] or ".".join(str(p) for p in first.get("loc", []))
    return problem(
        422,
        "validation_failed",
        "Validation failed",
        f"{where}: {first['msg']}" + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
        request,
        errors=_clean(errors),
    )


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MissionControlError)
    response = problem(exc.status, exc.code, exc.title, exc.detail, request, **_clean(exc.extra))
    if isinstance(exc, RateLimited):
        response.headers.raw.extend(exc.headers)
    elif isinstance(exc, TooManyAttempts) or (
        isinstance(exc, ModelUnavailable) and exc.retry_after is not None
    ):
        response.headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, Unauthenticated):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = problem(
        exc.status_code, code, code.replace("_", " ").capitalize(), str(exc.detail), request
    )
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _integrity(request: Request, exc: Exception) -> JSONResponse:
    # Two requests raced past a uniqueness check; the database kept its invariant.
    log.info("integrity_conflict", path=request.url.path, error=str(exc).splitlines()[0])
    return problem(
        409, "conflict", "Conflict", "the change clashes with a concurrent one; retry", request
    )


async def _data(request: Request, exc: Exception) -> JSONResponse:
    # Schemas refuse what databases cannot store; this is the net under that, not the plan.
    log.warning("database_rejected_value", path=request.url.path, error=str(exc).splitlines()[0])
    return problem(422, "invalid_input", "Invalid input", "a value cannot be stored", request)


async def _operational(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database_unavailable", path=request.url.path, error=str(exc).splitlines()[0])
    response = problem(
        503, "unavailable", "Service unavailable", "the database is busy; retry shortly", request
    )
    response.headers["Retry-After"] = "1"
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path)
    return problem(500, "internal_error", "Internal error", "an unexpected error happened", request)


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]
# Close codes for a WebSocket that was already accepted (RFC 6455 §7.4.1).
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011


def _also_for_websockets(handler: Handler) -> Callable[[HTTPConnection, Exception], Any]:
    """A handler that also answers WebSockets: the problem as the handshake's HTTP response
    (the ASGI denial-response extension) before accepting, a close frame after."""

    async def handle(connection: HTTPConnection, exc: Exception) -> JSONResponse | None:
        response = await handler(connection, exc)  # type: ignore[arg-type]
        if not isinstance(connection, WebSocket):
            return response
        is_handshake = connection.application_state is WebSocketState.CONNECTING
        if is_handshake and "websocket.http.response" in connection.scope.get("extensions", {}):
            await connection.send_denial_response(response)
            return None
        if connection.application_state is not WebSocketState.DISCONNECTED:
            code = INTERNAL_ERROR if response.status_code >= 500 else POLICY_VIOLATION
            await connection.close(code=code, reason=str(exc)[:120])
        return None

    return handle


def install_problem_handlers(app: FastAPI) -> None:
    """Map every exception class to its problem response."""
    for exc_class, handler in (
        (RequestValidationError, _validation),
        (WebSocketRequestValidationError, _validation),
        (MissionControlError, _domain),
        (StarletteHTTPException, _http),
        (IntegrityError, _integrity),
        (DataError, _data),
        (OperationalError, _operational),
        (Exception, _unexpected),
    ):
        app.add_exception_handler(exc_class, _also_for_websockets(handler))
