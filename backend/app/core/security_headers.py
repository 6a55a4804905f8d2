"""The headers every response carries: safe defaults for the API, a Content-Security-Policy
of their own for the pages (the docs, the console), HSTS when asked for."""

from collections.abc import Iterable

HeaderList = list[tuple[bytes, bytes]]

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
# Any path of a page starts so (the API's paths, almost every request, are told by this alone).
_PAGE_PREFIXES = tuple(f"/{segment}" for segment in PAGE_CSPS)


class SecurityHeaders:
    """The prepared header blocks, built once: per request only a lookup by path."""

    def __init__(self, *, hsts: bool) -> None:
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
        self._api: tuple[HeaderList, HeaderList] = ([], self.api_defaults)

    def for_path(self, path: str) -> tuple[HeaderList, HeaderList]:
        """The headers forced on a response to this path, and the defaults it may override."""
        if not path.startswith(_PAGE_PREFIXES):
            return self._api
        page_csp = self.page_csps.get(_first_segment(path))
        if page_csp is None:
            return self._api
        return page_csp, self.page_defaults


def _encoded(headers: dict[str, str]) -> HeaderList:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()
    ]


def with_headers(
    headers: Iterable[tuple[bytes, bytes]],
    request_id: tuple[bytes, bytes],
    forced: HeaderList,
    defaults: HeaderList,
) -> HeaderList:
    """The response headers with the request id and the forced ones in place of any of the
    same name, and each default added unless the response set that header itself."""
    headers = list(headers)
    for name, _ in headers:
        if name in OUR_HEADER_NAMES:
            break
    else:  # the usual case: the response set none of ours
        headers.append(request_id)
        headers += forced
        headers += defaults
        return headers
    forced = [request_id, *forced]
    forced_names = {name for name, _ in forced}
    kept = [header for header in headers if header[0] not in forced_names]
    present = {name for name, _ in kept}
    return [*kept, *forced, *(header for header in defaults if header[0] not in present)]


def _first_segment(path: str) -> str:
    """The first segment of a path: ui for /ui, /ui/ and /ui/js/app.js, uiX for /uiX."""
    end = path.find("/", 1)
    return path[1:end] if end != -1 else path[1:]
