"""What every request passes through: a body-size bound enforced while reading, strict JSON
parsing, security headers, HEAD for every GET, and 4xx/503/507 answers instead of 500s."""
from __future__ import annotations

import errno
import json
import logging
import math
import sqlite3
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shoprank.personalization.store.base import StoreUnavailable

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
# The pages run only their own scripts, served from /static (no inline script, so an injected one
# cannot run); inline styles, photos from this origin, the microphone's recording as a blob.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


INTERNAL_ERROR = "internal error (logged on the server)"


class ErrorResponse(BaseModel):
    """Every error answer (4xx and 5xx): one sentence saying what was wrong."""

    detail: str


# For the OpenAPI spec: the answers any route may give besides its own.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed body (not UTF-8, not JSON, nested too deeply)"},
    413: {"model": ErrorResponse, "description": "Body, upload or photo larger than allowed"},
    422: {"model": ErrorResponse, "description": "Well-formed but invalid request"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "A store is unavailable or busy; retry (see Retry-After)"},
    507: {"model": ErrorResponse, "description": "The server's disk is full; nothing was stored"},
    500: {"model": ErrorResponse, "description": "Internal error, logged on the server (a retry fails alike)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such product (or photo)"}}
UNSUPPORTED_MEDIA: dict[int | str, dict[str, Any]] = {
    415: {"model": ErrorResponse, "description": "Content-Type not accepted here (JSON or NDJSON)"}}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or unknown API key"},
    403: {"model": ErrorResponse, "description": "The key lacks this scope"},
}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class RequestGuard:
    """ASGI middleware: refuse a body over its limit before reading it (by Content-Length) or as
    soon as the limit is crossed (chunked bodies), and add security headers to every response."""

    def __init__(self, app: ASGIApp, max_body: int, max_multipart: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.max_multipart = max_multipart
        self.larger = larger or {}  # paths that take bigger bodies (bulk writes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:  # HEAD is GET without the body (curl -I), for every GET route
            scope = {**scope, "method": "GET"}
        headers = Headers(scope=scope)
        multipart = headers.get("content-type", "").lower().startswith("multipart/")
        limit = self.max_multipart if multipart else self.larger.get(scope["path"], self.max_body)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _plain_error(send, 400, "Content-Length is not a number")
                return
            if int(declared) > limit:
                await _plain_error(send, 413, f"request body larger than {limit} bytes")
                return
        seen = 0

        async def bounded_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def send_with_headers(message: Message) -> None:
            if head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in h:
                        h[name] = value
            await send(message)

        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, bounded_receive, send_tracked)
        except Exception:
            if started:  # half a response: only closing the connection tells the client
                raise
            # Answered here, not re-raised: Starlette's last-resort handler re-raises, and the
            # server then drops the connection, failing the client's next request too.
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            await _plain_error(send, 500, INTERNAL_ERROR, close=False)


async def _plain_error(send: Send, status: int, detail: str, close: bool = True) -> None:
    body = json.dumps({"detail": detail}).encode()
    # close: the unread body would otherwise be taken for the next request on this connection.
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *([(b"connection", b"close")] if close else []),
               *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters, lower case ("" when absent)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_media(request: Request, *allowed: str) -> None:
    """A 415 unless the body is of an ``allowed`` type. Writes take only types a browser must
    ask about first (CORS preflight): a page on another origin can send text/plain, a form, or
    a typeless blob without asking, and with them delete products or add purchases."""
    media = media_type(request)
    if media not in allowed:
        raise HTTPException(415, f"Content-Type must be {' or '.join(allowed)}, not {media or 'absent'}")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_strict(text: str) -> Any:
    """JSON text as Python values, or ValueError saying why not: NaN, Infinity and numbers beyond
    float range are refused, as is nesting deeper than Python's parser takes."""
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"{e.msg} (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    # Other ValueErrors (NaN/Infinity, 1e400, integers of more than 4300 digits) carry their reason.


def parse_json(raw: bytes) -> Any:
    """A request body as JSON (:func:`loads_strict`), or a 400 saying why not. Bodies are UTF-8
    (a BOM is allowed)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise HTTPException(400, f"body is not UTF-8 (invalid byte at offset {e.start})") from None
    if not text.strip():
        return None
    try:
        return loads_strict(text)
    except ValueError as e:
        raise HTTPException(400, f"body is not valid JSON: {e}") from None


def _validation_reason(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


_SQLITE_BUSY = ("locked", "busy", "disk i/o error")  # SQLITE_BUSY/LOCKED/IOERR: transient, retry
_SQLITE_FULL = ("full",)  # SQLITE_FULL: "database or disk is full"


def storage_error(exc: Exception) -> tuple[int, str]:
    """The status and reason for a failure of the server's own storage: 507 when the disk is
    full (retrying will not help until space is freed), 503 for a transient failure (I/O error,
    database locked or busy), else 500: a missing file, a refused permission or a misused
    connection is the server's fault and a retry would fail the same way. The reason names the
    kind of failure, not paths or other internals."""
    message = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return 507, "the server's disk is full; free space, then retry"
    if isinstance(exc, sqlite3.OperationalError) and any(w in message for w in _SQLITE_FULL):
        return 507, "the server's disk is full; free space, then retry"
    if isinstance(exc, OSError) and exc.errno == errno.EIO:
        return 503, f"storage unavailable ({exc.strerror or 'I/O error'}); retry"
    if isinstance(exc, sqlite3.OperationalError) and any(w in message for w in _SQLITE_BUSY):
        return 503, "storage unavailable (busy); retry"
    return 500, INTERNAL_ERROR


def install_error_handlers(app: FastAPI) -> None:
    """One error shape (``{"detail": "..."}``) for every 4xx; a missing optional extra is a 503
    naming what to install; an unavailable or busy store is a 503, a full disk a 507 and another
    storage failure a 500 (the connection stays usable); anything unforeseen is logged and
    answered 500 without internals."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_reason(exc)}, status_code=422)

    @app.exception_handler(405)
    async def _method(request: Request, exc: Exception) -> JSONResponse:
        # Routes of one path live in several routers; Allow lists what all of them take.
        path = request.url.path
        allowed = sorted({m for r in app.routes if isinstance(r, APIRoute) and r.path_regex.match(path)
                          for m in r.methods or ()})
        return JSONResponse({"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(allowed)})

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(OSError)
    async def _storage(request: Request, exc: Exception) -> JSONResponse:
        status, detail = storage_error(exc)
        log.error("%s %s: %s", request.method, request.url.path, exc, exc_info=status == 500)
        return JSONResponse({"detail": detail}, status_code=status,
                            headers=None if status == 500 else {"Retry-After": "5"})

    @app.exception_handler(ImportError)
    async def _missing_extra(_: Request, exc: ImportError) -> JSONResponse:
        log.warning("optional dependency missing: %s", exc)
        return JSONResponse(jsonable_encoder({"detail": f"unavailable on this server: {exc}"}), status_code=503)
