"""Map errors to typed JSON responses: ``{"error": {"code", "message"}}``, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from watchkeeper.api.schemas import ErrorBody, ErrorOut
from watchkeeper.domain import NotFoundError, WatchkeeperError
from watchkeeper.media.protocol import ObjectStoreError

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[WatchkeeperError], int] = {NotFoundError: 404, ObjectStoreError: 503}
"""HTTP status of each domain error; any other ``WatchkeeperError`` is a 400."""

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Refused by a rule of the domain"},
    404: {"model": ErrorOut, "description": "Not found"},
    422: {"model": ErrorOut, "description": "Invalid request"},
}
"""Documented error responses, attached to routes so the OpenAPI schema tells clients the shape."""
FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"
"""The detail of the 400 FastAPI raises for a body it cannot decode at all."""


def error_response(status: int, code: str, message: str) -> JSONResponse:
    """Build the error envelope."""
    body = ErrorOut(error=ErrorBody(code=code, message=message))
    return JSONResponse(body.model_dump(), status_code=status)


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for item in err.errors()[:5]:
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, WatchkeeperError):
        raise TypeError(type(exc).__name__)
    status = next((code for kind, code in STATUS_BY_ERROR.items() if isinstance(exc, kind)), 400)
    return error_response(status, exc.code, str(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        raise TypeError(type(exc).__name__)
    return error_response(422, "invalid_request", _validation_message(exc))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        raise TypeError(type(exc).__name__)
    if exc.status_code == 400 and exc.detail == FASTAPI_BODY_PARSE_ERROR:
        # A body that is not even text (bad UTF-8): the same kind of error as malformed JSON, which is a 422.
        return error_response(422, "invalid_request", "the request body is not valid UTF-8 JSON")
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(WatchkeeperError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
