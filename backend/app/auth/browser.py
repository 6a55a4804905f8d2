"""The browser transport of the refresh token: an HttpOnly cookie, guarded against CSRF.

A browser client opts in with `X-Client: browser`. Its refresh token then lives in a cookie
that JavaScript cannot read (so an XSS cannot steal it), sent only to /auth and only by
same-site requests (SameSite=Strict). Every request that uses the cookie must also carry
`X-CSRF-Token`, equal to the readable `csrf_token` cookie: a signed double submit, where the
CSRF token is an HMAC of the refresh token under the server's key, so a cookie planted by a
sibling subdomain cannot be paired with a token of the attacker's choosing. API clients are
unaffected: they send and receive the refresh token in JSON.
"""

import hashlib
import hmac
from datetime import datetime

from fastapi import Request, Response

from app.auth.exceptions import CsrfFailed, RefreshTokenInvalid
from app.core.clock import utcnow
from app.core.config import Settings

CLIENT_HEADER = "x-client"
REFRESH_COOKIE = "refresh_token"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "x-csrf-token"
REFRESH_COOKIE_PATH = "/auth"


def is_browser(request: Request) -> bool:
    return request.headers.get(CLIENT_HEADER, "").strip().lower() == "browser"


def _csrf_token(refresh_token: str, settings: Settings) -> str:
    key = settings.jwt_secret.get_secret_value().encode()
    return hmac.new(key, b"csrf:" + refresh_token.encode(), hashlib.sha256).hexdigest()


def set_session_cookies(
    response: Response, *, refresh_token: str, expires_at: datetime, settings: Settings
) -> None:
    """Set the refresh cookie and its CSRF companion, both living as long as the session."""
    max_age = max(0, int((expires_at - utcnow()).total_seconds()))
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE,
        _csrf_token(refresh_token, settings),
        max_age=max_age,
        path="/",
        secure=settings.cookie_secure,
        httponly=False,  # the page reads it and echoes it in X-CSRF-Token
        samesite="strict",
    )


def clear_session_cookies(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(
        CSRF_COOKIE, path="/", secure=settings.cookie_secure, httponly=False, samesite="strict"
    )


def refresh_token_from_cookie(request: Request, settings: Settings) -> str:
    """The refresh cookie of a browser request, after the CSRF check (403 csrf_failed)."""
    refresh_token = request.cookies.get(REFRESH_COOKIE)
    if refresh_token is None:
        # No cookie, nothing a forged request could use: just not signed in.
        raise RefreshTokenInvalid("No session cookie; log in again.")
    presented = request.headers.get(CSRF_HEADER, "")
    expected = _csrf_token(refresh_token, settings)
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CsrfFailed()
    return refresh_token
