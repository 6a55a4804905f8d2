"""The browser transport of the refresh token: an HttpOnly cookie, guarded against CSRF.

A browser client opts in with `X-Client: browser`. Its refresh token then lives in a cookie
that JavaScript cannot read (so an XSS cannot steal it), sent only to /auth and only by
same-site requests (SameSite=Strict). Every request that uses the cookie must also carry
`X-CSRF-Token`, equal to the readable CSRF cookie: a signed double submit, where the CSRF
token is an HMAC of the refresh token under the server's key, so a cookie planted by a sibling
subdomain cannot be paired with a token of the attacker's choosing. A sibling can still add a
whole session of its own (its refresh cookie beside ours, cookie tossing): a request that
names one of our cookies twice is refused. API clients are unaffected: they send and receive
the refresh token in JSON.
"""

import hashlib
import hmac
from datetime import datetime

from fastapi import Request, Response

from app.auth.exceptions import CsrfFailed, RefreshTokenInvalid
from app.core.clock import utcnow
from app.core.config import Settings
from app.core.security import CSRF_KEY_PURPOSE, derive_key

CLIENT_HEADER = "x-client"
REFRESH_COOKIE = "refresh_token"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "x-csrf-token"
REFRESH_COOKIE_PATH = "/auth"
# With COOKIE_SECURE, the names carry the browsers' prefixes. A __Secure- cookie is accepted
# only with the Secure flag from an https page, so a page served over http cannot plant it; a
# __Host- cookie also needs Path=/ and no Domain, so no sibling subdomain can plant it at all.
# The refresh cookie is Path=/auth, so __Secure- is the most it can have.
SECURE_REFRESH_COOKIE = f"__Secure-{REFRESH_COOKIE}"
SECURE_CSRF_COOKIE = f"__Host-{CSRF_COOKIE}"


def is_browser(request: Request) -> bool:
    return request.headers.get(CLIENT_HEADER, "").strip().lower() == "browser"


def refresh_cookie_name(settings: Settings) -> str:
    return SECURE_REFRESH_COOKIE if settings.cookie_secure else REFRESH_COOKIE


def csrf_cookie_name(settings: Settings) -> str:
    return SECURE_CSRF_COOKIE if settings.cookie_secure else CSRF_COOKIE


def has_session_cookie(request: Request, settings: Settings) -> bool:
    """Whether a browser request carries a refresh cookie at all."""
    return refresh_cookie_name(settings) in request.cookies


def _csrf_token(refresh_token: str, settings: Settings) -> str:
    # A key of its own: CSRF tokens are readable by scripts, and tell nothing of the key that
    # signs access tokens.
    key = derive_key(settings.jwt_secret.get_secret_value(), CSRF_KEY_PURPOSE)
    return hmac.new(key, b"csrf:" + refresh_token.encode(), hashlib.sha256).hexdigest()


def set_session_cookies(
    response: Response, *, refresh_token: str, expires_at: datetime, settings: Settings
) -> None:
    """Set the refresh cookie and its CSRF companion, both living as long as the session."""
    max_age = max(0, int((expires_at - utcnow()).total_seconds()))
    response.set_cookie(
        refresh_cookie_name(settings),
        refresh_token,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        csrf_cookie_name(settings),
        _csrf_token(refresh_token, settings),
        max_age=max_age,
        path="/",
        secure=settings.cookie_secure,
        httponly=False,  # the page reads it and echoes it in X-CSRF-Token
        samesite="strict",
    )


def clear_session_cookies(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        refresh_cookie_name(settings),
        path=REFRESH_COOKIE_PATH,
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(
        csrf_cookie_name(settings),
        path="/",
        secure=settings.cookie_secure,
        httponly=False,
        samesite="strict",
    )


def refresh_token_from_cookie(request: Request, settings: Settings) -> str:
    """The refresh cookie of a browser request, after the CSRF check (403 csrf_failed)."""
    _refuse_repeated_cookies(request, settings)
    refresh_token = request.cookies.get(refresh_cookie_name(settings))
    if refresh_token is None:
        # No cookie, nothing a forged request could use: just not signed in.
        raise RefreshTokenInvalid("No session cookie; log in again.")
    presented = request.headers.get(CSRF_HEADER, "")
    expected = _csrf_token(refresh_token, settings)
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CsrfFailed()
    return refresh_token


def _refuse_repeated_cookies(request: Request, settings: Settings) -> None:
    """403 csrf_failed when the Cookie header names one of our cookies twice. Only a cookie
    that this site did not set can be the second: one of a sibling subdomain, for the parent
    domain or a narrower path. Which copy a parser keeps (Starlette: the last) would then be
    the attacker's choice, and the victim's console could be signed in to their account."""
    ours = (refresh_cookie_name(settings), csrf_cookie_name(settings))
    seen: set[str] = set()
    for header in request.headers.getlist("cookie"):
        for pair in header.split(";"):
            name, equals, _value = pair.partition("=")
            name = name.strip()
            if not equals or name not in ours:  # as Starlette reads it: no "=", no name
                continue
            if name in seen:
                raise CsrfFailed(
                    f"The cookie {name} was sent twice; this site sets it once, so another site "
                    "set the other copy. Clear this site's cookies and sign in again."
                )
            seen.add(name)
