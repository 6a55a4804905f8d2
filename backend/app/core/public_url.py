"""The base URL of py-auth as others reach it: in mailed links, in the authorization server
metadata."""

from starlette.requests import HTTPConnection

from app.core.app_state import settings_of


def served_address(connection: HTTPConnection) -> str:
    """The address this process listens on, from the socket (the ASGI server's `server`),
    never from the Host header, which the client writes: a link built from it would send a
    reset token wherever the requester chose. Behind a proxy, set PUBLIC_URL."""
    scheme = connection.scope.get("scheme", "http")
    host, port = connection.scope.get("server") or ("127.0.0.1", 8000)
    default_port = {"http": 80, "https": 443}.get(scheme)
    shown = f"[{host}]" if ":" in str(host) else str(host)
    return f"{scheme}://{shown}" + ("" if port == default_port else f":{port}")


def public_base(connection: HTTPConnection) -> str:
    """PUBLIC_URL, or the served address while it is unset."""
    return settings_of(connection).public_url or served_address(connection)
