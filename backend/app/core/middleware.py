"""The one middleware every request goes through. Pure ASGI: Starlette's BaseHTTPMiddleware
costs a lot per request, and this sits on the hot path."""

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Sequence

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_response
from app.core.logging import request_id_var
from app.core.metrics import HTTP_LATENCY, HTTP_REQUESTS

logger = logging.getLogger("app.request")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,128}")
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Probes are called every few seconds by load balancers: counted in metrics, not logged.
QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
# The interactive docs and the console load scripts, styles and images of their own.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
PAGE_PATHS = ("/docs", "/redoc", "/ui", "/static")


class PayloadTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """For every HTTP request: an id, the client's address, a size limit on the body, safe
    headers on the response, a metric and a log line; and an unhandled exception turned into
    a logged 500 in the project's error format (with those headers, which Starlette's own
    error page would lack)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = 64 * 1024,
        trusted_proxies: Sequence[IPNetwork] = (),
        hsts: bool = False,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.trusted_proxies = tuple(trusted_proxies)
        self.headers = list(SECURITY_HEADERS.items()) + ([HSTS] if hsts else [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id_from(scope)
        token = request_id_var.set(request_id)
        state = scope.setdefault("state", {})
        state["client_ip"] = self.client_ip(scope)
        status = 500
        response_started = False
        is_page = scope["path"].startswith(PAGE_PATHS)

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started, status
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in self.headers:
                    headers.setdefault(name, value)
                if is_page:
                    headers["Content-Security-Policy"] = PAGE_CSP
            await send(message)

        try:
            if self._declared_length(scope) > self.max_body_bytes:
                raise PayloadTooLarge()
            await self.app(scope, self._limited(receive), send_with_headers)
        except PayloadTooLarge:
            if response_started:
                raise
            body = {"detail": "The request body is too large.", "code": "payload_too_large"}
            await error_response(413, body)(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            body = {"detail": "Internal server error.", "code": "internal_error"}
            await error_response(500, body)(scope, receive, send_with_headers)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        remaining = self.max_body_bytes

        async def receive_limited() -> Message:
            nonlocal remaining
            message = await receive()
            if message["type"] == "http.request":
                remaining -= len(message.get("body", b""))
                if remaining < 0:
                    raise PayloadTooLarge()
            return message

        return receive_limited

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    def client_ip(self, scope: Scope) -> str:
        """The socket peer; behind a trusted proxy, the rightmost X-Forwarded-For entry that is
        not itself a trusted proxy (entries to its left could have been written by the client)."""
        peer = scope["client"][0] if scope.get("client") else "unknown"
        if not self.trusted_proxies or not self._is_trusted(peer):
            return str(peer)
        forwarded = [
            entry.strip()
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
            for entry in value.decode("latin-1").split(",")
        ]
        for entry in reversed(forwarded):
            if not self._is_trusted(entry):
                return entry if _is_ip(entry) else str(peer)
        return str(peer)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    @staticmethod
    def _record(scope: Scope, status: int, duration: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
        HTTP_REQUESTS.labels(method, template, str(status)).inc()
        HTTP_LATENCY.labels(method, template).observe(duration)
        if template in QUIET_ROUTES:
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
                    "client_ip": state.get("client_ip"),
                }
            },
        )


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _request_id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex
