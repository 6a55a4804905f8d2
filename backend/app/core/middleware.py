"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a lot per request)."""

import logging
import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_response
from app.core.logging import request_id_var

logger = logging.getLogger("app.request")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
# The interactive docs load Swagger UI / ReDoc scripts, styles and images.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "worker-src 'self' blob:; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")


class RequestContextMiddleware:
    """Gives every request an id, puts safe headers on every response, and turns an
    unhandled exception into a logged 500 in the project's error format (with those headers,
    which Starlette's own error page would not carry)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id_from(scope)
        is_docs = scope["path"].startswith(DOCS_PATHS)
        token = request_id_var.set(request_id)
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if is_docs:
                    headers["Content-Security-Policy"] = DOCS_CSP
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            body = {"detail": "Internal server error.", "code": "internal_error"}
            response = error_response(500, body)
            await response(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)


def _request_id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex
