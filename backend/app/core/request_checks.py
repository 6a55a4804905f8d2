"""Checks of a request made before the app sees it: the body's size, a URL that is not UTF-8,
a query parameter given twice."""

from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import Message, Receive, Scope

from app.core.errors import AppError, PayloadTooLarge, RequestInvalid

TOO_LARGE = PayloadTooLarge()
NOT_UTF8 = AppError("The URL is not valid percent-encoded UTF-8.")


class BodyLimitExceeded(Exception):
    """Raised by BodyLimit into the app, and caught by the middleware."""


class BodyLimit:
    """The app's receive, counting the body: past the limit, it raises BodyLimitExceeded and
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
                raise BodyLimitExceeded()
        return message


def refusal(scope: Scope) -> AppError | None:
    """Why the request's URL is refused before the app sees it, or None: a path or query
    string that is not UTF-8, a query parameter sent twice."""
    path: bytes = scope.get("raw_path") or b""
    query: bytes = scope["query_string"]
    if not query and path.isascii() and b"%" not in path:
        return None  # almost every request: nothing to decode, no parameter to count
    if _url_is_not_utf8(path, query):
        return NOT_UTF8
    if (duplicate := _duplicate_query_parameter(query)) is not None:
        return _duplicate_parameter(duplicate)
    return None


def _url_is_not_utf8(path: bytes, query: bytes) -> bool:
    """Whether the path or query string decodes to something other than UTF-8 (the server
    would otherwise replace the bad bytes with U+FFFD and let a mangled value through)."""
    if path.isascii() and b"%" not in path and query.isascii() and b"%" not in query:
        return False
    # "?" keeps an escape cut short at the end of the path from joining the query's.
    url = path + b"?" + query
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


def _duplicate_parameter(name: str) -> RequestInvalid:
    reason = f"The query parameter {name!r} is given more than once."
    return RequestInvalid.at(["query", name], reason, "duplicate_parameter")
