"""The one middleware every request goes through. Pure ASGI: Starlette's BaseHTTPMiddleware
costs a lot per request, and this sits on the hot path."""

import ipaddress
import itertools
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_response
from app.core.logging import request_id_var
from app.core.metrics import HTTP_METRICS

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
OUR_HEADER_NAMES = frozenset(
    name.lower().encode("latin-1") for name in [*SECURITY_HEADERS, HSTS[0], "X-Request-ID"]
)
# The interactive docs load scripts, styles and images of their own, and start from inline
# scripts and styles (Swagger UI's and ReDoc's pages).
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# The console has no inline script, event handler or style attribute, so whatever markup got
# into it could not run: it holds an access token, and gets no 'unsafe-inline'.
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# The pages, by the first segment of their path (a whole segment: /uiX is not the console).
PAGE_CSPS = {"docs": DOCS_CSP, "redoc": DOCS_CSP, "static": DOCS_CSP, "ui": CONSOLE_CSP}
# The ip columns of sessions and audit events are String(45): the longest IPv6 text form.
MAX_IP_LENGTH = 45


TOO_LARGE = {"detail": "The request body is too large.", "code": "payload_too_large"}
NOT_UTF8 = {"detail": "The URL is not valid percent-encoded UTF-8.", "code": "bad_request"}


class PayloadTooLarge(Exception):
    pass


class _BodyLimit:
    """The app's receive, counting the body: past the limit, it raises PayloadTooLarge and
    remembers that it did (the app may catch the error and answer for itself)."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._remaining = limit
        self.exceeded = False

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._remaining -= len(message.get("body", b""))
            if self._remaining < 0:
                self.exceeded = True
                raise PayloadTooLarge()
        return message


class RequestContextMiddleware:
    """For every HTTP request: an id, the client's address, a size limit on the body, a
    refusal of a URL that is not UTF-8 or repeats a query parameter, safe headers on the
    response, a metric and a log line; and an unhandled exception turned into a logged 500 in
    the project's error format (with those headers, which Starlette's own error page would
    lack).

    It runs on every request, so its per-request work is kept small: one pass over the request
    headers, response headers added as prepared bytes, metric series looked up once per route.
    """

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
        defaults = {**SECURITY_HEADERS, **dict([HSTS] if hsts else [])}
        self.api_defaults = _encoded(defaults)
        # Pages get their own CSP whatever they say; other defaults yield to the response's.
        self.page_csps = {
            segment: _encoded({"Content-Security-Policy": policy})
            for segment, policy in PAGE_CSPS.items()
        }
        self.page_defaults = _encoded(
            {name: value for name, value in defaults.items() if name != "Content-Security-Policy"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = _RequestHeaders(scope["headers"])
        request_id = request.request_id or _new_request_id()
        token = request_id_var.set(request_id)
        state = scope.setdefault("state", {})
        state["client_ip"] = self.client_ip(scope)
        status = 500
        response_started = False
        forced = [(b"x-request-id", request_id.encode("latin-1"))]
        defaults = self.api_defaults
        page_csp = self.page_csps.get(_first_segment(scope["path"]))
        if page_csp is not None:
            forced += page_csp
            defaults = self.page_defaults

        async def send_with_headers(message: Message) -> None:
            nonlocal response_started, status
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = _with_headers(message.get("headers", ()), forced, defaults)
            await send(message)

        # In HTTP/1.x only a request that declares a body (Content-Length or Transfer-Encoding)
        # has one, and only then is its receive counted and its answer watched. HTTP/2 frames
        # a body without either: there, every request is watched.
        app_receive: Receive = receive
        send_from_app = send_with_headers
        if request.has_body or scope.get("http_version") not in ("1.1", "1.0"):
            body_limit = _BodyLimit(receive, self.max_body_bytes)
            app_receive = body_limit

            async def send_from_app(message: Message) -> None:
                if body_limit.exceeded:
                    # The app caught the overflow and answered for itself (FastAPI answers 400
                    # to a body model it could not read): the client gets the 413 instead.
                    if message["type"] == "http.response.start" and not response_started:
                        await error_response(413, TOO_LARGE)(scope, receive, send_with_headers)
                    return
                await send_with_headers(message)

        try:
            if request.content_length > self.max_body_bytes:
                raise PayloadTooLarge()
            if _url_is_not_utf8(scope):
                await error_response(400, NOT_UTF8)(scope, receive, send_with_headers)
                return
            if (duplicate := _duplicate_query_parameter(scope["query_string"])) is not None:
                await error_response(422, _duplicate_body(duplicate))(
                    scope, receive, send_with_headers
                )
                return
            await self.app(scope, app_receive, send_from_app)
        except PayloadTooLarge:
            if response_started:
                raise
            await error_response(413, TOO_LARGE)(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if response_started:
                raise
            body = {"detail": "Internal server error.", "code": "internal_error"}
            await error_response(500, body)(scope, receive, send_with_headers)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    def client_ip(self, scope: Scope) -> str:
        """The socket peer; behind a trusted proxy, the rightmost X-Forwarded-For entry that is
        not itself a trusted proxy (entries to its left could have been written by the client),
        unless that entry is not an IP address that can be stored: then the peer."""
        peer = str(scope["client"][0]) if scope.get("client") else "unknown"
        if len(peer) > MAX_IP_LENGTH:
            # A link-local IPv6 peer with a long interface name: the zone id names an
            # interface of this host, not the client, and would not fit the ip columns.
            peer = peer.partition("%")[0][:MAX_IP_LENGTH]
        if not self.trusted_proxies or not self._is_trusted(peer):
            return peer
        forwarded = [
            entry.strip()
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
            for entry in value.decode("latin-1").split(",")
        ]
        for entry in reversed(forwarded):
            if not self._is_trusted(entry):
                return entry if _is_storable_ip(entry) else peer
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

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
                    "client_ip": state.get("client_ip"),
                }
            },
        )


class _RequestHeaders:
    """What the middleware needs from the request headers, in one pass."""

    __slots__ = ("content_length", "has_body", "request_id")

    def __init__(self, headers: Sequence[tuple[bytes, bytes]]) -> None:
        self.content_length = 0
        self.has_body = False
        self.request_id: str | None = None
        for name, value in headers:
            if name == b"content-length":
                self.has_body = True
                try:
                    self.content_length = int(value)
                except ValueError:
                    self.content_length = 0
            elif name == b"transfer-encoding":
                self.has_body = True
            elif name == b"x-request-id" and self.request_id is None:
                candidate = value.decode("latin-1")
                # A client's id is kept only when it is safe to log; else a new one is made.
                self.request_id = candidate if _SANE_REQUEST_ID.fullmatch(candidate) else ""


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


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def _with_headers(
    headers: Iterable[tuple[bytes, bytes]],
    forced: list[tuple[bytes, bytes]],
    defaults: list[tuple[bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """The response headers with the forced ones in place of any of the same name, and each
    default added unless the response set that header itself."""
    headers = list(headers)
    names = {name for name, _ in headers}
    if names.isdisjoint(OUR_HEADER_NAMES):  # the usual case: the response set none of ours
        return headers + forced + defaults
    forced_names = {name for name, _ in forced}
    kept = [header for header in headers if header[0] not in forced_names]
    present = {name for name, _ in kept}
    return [*kept, *forced, *(header for header in defaults if header[0] not in present)]


def _is_storable_ip(value: str) -> bool:
    """An IP address that the ip columns of sessions and audit events can hold: an IPv6
    address with a long zone id ("fe80::1%...") is one, but would fail the insert."""
    if len(value) > MAX_IP_LENGTH:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _first_segment(path: str) -> str:
    """The first segment of a path: ui for /ui, /ui/ and /ui/js/app.js, uiX for /uiX."""
    end = path.find("/", 1)
    return path[1:end] if end != -1 else path[1:]


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


def _url_is_not_utf8(scope: Scope) -> bool:
    """Whether the path or query string decodes to something other than UTF-8 (the server
    would otherwise replace the bad bytes with U+FFFD and let a mangled value through)."""
    # "?" keeps an escape cut short at the end of the path from joining the query's.
    url = (scope.get("raw_path") or b"") + b"?" + scope["query_string"]
    if b"%" not in url and url.isascii():
        return False
    try:
        unquote_to_bytes(url).decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _duplicate_query_parameter(query_string: bytes) -> str | None:
    """The first query parameter sent twice, if any. Every parameter of the API is single:
    which copy would count is a guess, so the request is refused instead."""
    if not query_string:
        return None
    seen: set[str] = set()
    for name, _value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in seen:
            return name
        seen.add(name)
    return None


def _duplicate_body(name: str) -> dict[str, object]:
    reason = f"The query parameter {name!r} is given more than once."
    return {
        "detail": reason,
        "code": "validation_error",
        "errors": [{"loc": ["query", name], "msg": reason, "type": "duplicate_parameter"}],
    }
