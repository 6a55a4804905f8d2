"""The one middleware every request goes through. Pure ASGI: Starlette's BaseHTTPMiddleware
costs a lot per request, and this sits on the hot path."""

import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.client_address import ClientAddress
from app.core.errors import InternalError, app_error_response
from app.core.logging import request_id_var
from app.core.metrics import HTTP_METRICS
from app.core.request_checks import TOO_LARGE, BodyLimit, BodyLimitExceeded, refusal
from app.core.security_headers import SecurityHeaders, with_headers

logger = logging.getLogger("app.request")


_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,128}")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Probes are called every few seconds by load balancers: counted in metrics, not logged.
QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})


class RequestContextMiddleware:
    """For every HTTP request: an id, a size limit on the body, a refusal of a URL that is not
    UTF-8 or repeats a query parameter, safe headers on the response, a metric and a log line;
    and an unhandled exception turned into a logged 500 in the project's error format (with
    those headers, which Starlette's own error page would lack).

    It runs on every request, so its per-request work is kept small: one pass over the request
    headers, response headers added as prepared bytes, one metric series per route and status,
    the client's address resolved only when something asks for it (app_state.client_ip_of).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        client_address: ClientAddress,
        max_body_bytes: int = 64 * 1024,
        hsts: bool = False,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.client_address = client_address
        self.security_headers = SecurityHeaders(hsts=hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        content_length, has_body, client_request_id = _read_request_headers(scope["headers"])
        request_id = client_request_id or _new_request_id()
        token = request_id_var.set(request_id)
        status = 500
        response_started = False
        forced, defaults = self.security_headers.for_path(scope["path"])
        request_id_header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started, status
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = with_headers(
                    message.get("headers", ()), request_id_header, forced, defaults
                )
            await send(message)

        # In HTTP/1.x only a request that declares a body (Content-Length or Transfer-Encoding)
        # has one, and only then is its receive counted and its answer watched. HTTP/2 frames
        # a body without either: there, every request is watched.
        app_receive: Receive = receive
        send_from_app = send_with_headers
        if has_body or scope.get("http_version") not in ("1.1", "1.0"):
            body_limit = BodyLimit(receive, self.max_body_bytes)
            app_receive = body_limit

            async def send_from_app(message: Message) -> None:
                if body_limit.exceeded:
                    # The app caught the overflow and answered for itself (FastAPI answers 400
                    # to a body model it could not read): the client gets the 413 instead.
                    if message["type"] == "http.response.start" and not response_started:
                        await app_error_response(TOO_LARGE)(scope, receive, send_with_headers)
                    return
                await send_with_headers(message)

        try:
            if content_length > self.max_body_bytes:
                raise BodyLimitExceeded()
            if (refused := refusal(scope)) is not None:
                await app_error_response(refused)(scope, receive, send_with_headers)
                return
            await self.app(scope, app_receive, send_from_app)
        except BodyLimitExceeded:
            if response_started:
                raise
            await app_error_response(TOO_LARGE)(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            await app_error_response(InternalError())(scope, receive, send_with_headers)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, status: int, duration: float) -> None:
        template = _route_template(scope)
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
        HTTP_METRICS.observe(method, template, status, duration)
        if template in QUIET_ROUTES or not logger.isEnabledFor(logging.INFO):
            return
        state = scope.get("state", {})
        logger.info(
            "%s %s %s",
            method,
            template,
            status,
            extra={
                "fields": {
                    "method": method,
                    "route": template,
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                    "user_id": state.get("user_id"),
                    "client_ip": self.client_address.of(scope),
                }
            },
        )


def _read_request_headers(headers: Sequence[tuple[bytes, bytes]]) -> tuple[int, bool, str]:
    """What the middleware needs from the request headers, in one pass: the declared body
    length, whether a body is declared at all, and the client's request id ("" for none, or
    for one that is not safe to log: a new one is made)."""
    content_length = 0
    has_body = False
    request_id = None
    for name, value in headers:
        if name == b"content-length":
            has_body = True
            try:
                content_length = int(value)
            except ValueError:
                content_length = 0
        elif name == b"transfer-encoding":
            has_body = True
        elif name == b"x-request-id" and request_id is None:
            request_id = value.decode("latin-1")
            if not _SANE_REQUEST_ID.fullmatch(request_id):
                request_id = ""
    return content_length, has_body, request_id or ""


# A request id names a request in logs: it must be unique, not unpredictable. A random prefix
# per process and a counter make one without a system call per request.
_process_prefix = secrets.token_hex(8)
_request_numbers = itertools.count()


def _new_request_id() -> str:
    return f"{_process_prefix}{next(_request_numbers):016x}"


def _new_process_prefix() -> None:
    global _process_prefix  # a forked worker must not repeat its parent's ids
    _process_prefix = secrets.token_hex(8)


os.register_at_fork(after_in_child=_new_process_prefix)


def _route_template(scope: Scope) -> str:
    """The route that served the request, as a template: /users/{user_id}, never /users/42
    (one metric series per route, not per id)."""
    route = scope.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    root_path = scope.get("root_path", "")
    app_root_path = scope.get("app_root_path", root_path)
    if root_path != app_root_path:
        # Inside a mount (/ui, /static/docs): the mount's path, whatever the file.
        return f"{root_path[len(app_root_path) :]}/{{path}}"
    if scope.get("endpoint") is not None and not scope.get("path_params"):
        # A plain route without parameters (/openapi.json): its path is its template.
        return str(scope["path"])
    return "unmatched"
