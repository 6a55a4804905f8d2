"""Who may call what: every route, as each kind of caller, with the status each must get.

One row per route. A new route fails `test_matrix_lists_every_route` until it has a row here,
so adding an endpoint means deciding, in one readable place, who may call it.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from app.articles.models import Article
from app.auth.models import AuthSession, PersonalAccessToken, ServiceAccount, User
from app.auth.pat_format import new_personal_access_token
from app.core.clock import utcnow
from app.core.security import hash_opaque_token
from tests.helpers import PASSWORD, end_read, login

ANONYMOUS, VIEWER, EDITOR, ADMIN = "anonymous", "viewer", "editor", "admin"
CALLERS = (ANONYMOUS, VIEWER, EDITOR, ADMIN)
ALL_200 = (200, 200, 200, 200)


@dataclass(frozen=True)
class Targets:
    """What the requests of a row act on: none of it belongs to the caller."""

    article_id: int
    user_id: int
    user_email: str
    role: str
    refresh_token: str | None
    session_id: uuid.UUID | None
    token_id: int
    service_account_id: int


Body = Callable[[Targets], dict[str, Any]]


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    statuses: tuple[int, int, int, int]  # anonymous, viewer, editor, admin
    body: Body | None = None
    form: Body | None = None
    needs_login: bool = False  # the target user logs in: a refresh token and a session


MATRIX = [
    # Operations and docs: public.
    Row("GET", "/health", ALL_200),
    Row("GET", "/", (307, 307, 307, 307)),
    Row("GET", "/ui", (307, 307, 307, 307)),
    Row("GET", "/ready", ALL_200),
    # For services that verify py-auth's tokens: public keys and endpoint addresses.
    Row("GET", "/.well-known/jwks.json", ALL_200),
    Row("GET", "/.well-known/oauth-authorization-server", ALL_200),
    # Prometheus's, with METRICS_TOKEN (tests/core/test_metrics.py); no one's until it is set.
    Row("GET", "/metrics", (404, 404, 404, 404)),
    Row("GET", "/openapi.json", ALL_200),
    Row("GET", "/docs", ALL_200),
    Row("GET", "/docs/oauth2-redirect", ALL_200),
    Row("GET", "/redoc", ALL_200),
    # Authentication: public, except ending every session, which needs one.
    Row(
        "POST",
        "/auth/register",
        (201, 201, 201, 201),
        body=lambda _: {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
    ),
    Row(
        "POST",
        "/auth/login",
        ALL_200,
        form=lambda t: {"username": t.user_email, "password": PASSWORD},
    ),
    Row(
        "POST",
        "/auth/refresh",
        ALL_200,
        body=lambda t: {"refresh_token": t.refresh_token},
        needs_login=True,
    ),
    Row(
        "POST",
        "/auth/logout",
        (204, 204, 204, 204),
        body=lambda t: {"refresh_token": t.refresh_token},
        needs_login=True,
    ),
    Row(
        "POST",
        "/auth/revoke",
        ALL_200,
        form=lambda t: {"token": t.refresh_token},
        needs_login=True,
    ),
    # Recovery: public; a mailed token is the credential, and the answer tells nothing.
    Row(
        "POST",
        "/auth/forgot-password",
        (202, 202, 202, 202),
        body=lambda t: {"email": t.user_email},
    ),
    Row(
        "POST",
        "/auth/reset-password",
        (400, 400, 400, 400),
        body=lambda _: {"token": "not-a-mailed-token", "password": PASSWORD + "!"},
    ),
    Row(
        "POST",
        "/auth/request-verify-token",
        (202, 202, 202, 202),
        body=lambda t: {"email": t.user_email},
    ),
    Row("POST", "/auth/verify", (400, 400, 400, 400), body=lambda _: {"token": "not-mailed"}),
    Row(
        "POST",
        "/auth/accept-invitation",
        (400, 400, 400, 400),
        body=lambda _: {"token": "not-mailed", "password": PASSWORD},
    ),
    # The second step of a login: its mfa_token is the credential, whoever calls.
    Row(
        "POST",
        "/auth/mfa/verify",
        (401, 401, 401, 401),
        body=lambda _: {"mfa_token": "not-issued", "code": "123456"},
    ),
    Row(
        "POST", "/auth/reauthenticate", (401, 200, 200, 200), body=lambda _: {"password": PASSWORD}
    ),
    Row("POST", "/auth/logout-all", (401, 204, 204, 204)),
    Row("GET", "/auth/sessions", (401, 200, 200, 200)),
    # Another user's session does not exist for the caller, whoever the caller is.
    Row("DELETE", "/auth/sessions/{session_id}", (401, 404, 404, 404), needs_login=True),
    # The caller's own account: any authenticated user.
    Row("GET", "/users/me", (401, 200, 200, 200)),
    Row("PATCH", "/users/me", (401, 200, 200, 200), body=lambda _: {"full_name": "Me"}),
    Row(
        "POST",
        "/users/me/password",
        (401, 204, 204, 204),
        body=lambda _: {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    ),
    # The caller's own second factor (tests/auth/test_mfa*.py go through the flows).
    Row("GET", "/users/me/mfa", (401, 200, 200, 200)),
    Row("POST", "/users/me/mfa/totp", (401, 201, 201, 201)),
    Row("POST", "/users/me/mfa/totp/confirm", (401, 400, 400, 400), body=lambda _: {"code": "1"}),
    Row("DELETE", "/users/me/mfa/totp", (401, 409, 409, 409), body=lambda _: {"code": "1"}),
    Row("POST", "/users/me/mfa/recovery-codes", (401, 409, 409, 409)),
    # User administration. The directory is open to read_user; emails and other users'
    # sessions need read_user_private, creating accounts create_user (admin only).
    Row(
        "POST",
        "/users",
        (401, 403, 403, 201),
        body=lambda _: {"email": f"made-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD},
    ),
    Row("GET", "/users", (401, 200, 200, 200)),
    Row(
        "POST",
        "/users/me/email",
        (401, 202, 202, 202),
        body=lambda _: {
            "new_email": f"moved-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
        },
    ),
    Row(
        "POST",
        "/users/me/email/confirm",
        (401, 400, 400, 400),
        body=lambda _: {"token": "not-mailed"},
    ),
    Row(
        "POST",
        "/users/invitations",
        (401, 403, 403, 202),
        body=lambda _: {"email": f"invited-{uuid.uuid4().hex[:8]}@example.com", "roles": []},
    ),
    Row("POST", "/users/{user_id}/password-reset", (401, 403, 403, 202)),
    Row("GET", "/users/{user_id}", (401, 200, 200, 200)),
    Row("PATCH", "/users/{user_id}", (401, 403, 403, 200), body=lambda _: {"full_name": "R"}),
    Row("DELETE", "/users/{user_id}", (401, 403, 403, 204)),
    Row("GET", "/users/{user_id}/sessions", (401, 403, 403, 200), needs_login=True),
    Row("DELETE", "/users/{user_id}/sessions", (401, 403, 403, 204), needs_login=True),
    Row("POST", "/users/{user_id}/unlock", (401, 403, 403, 204)),
    # The target has no second factor: nothing to reset.
    Row(
        "POST",
        "/users/{user_id}/mfa/reset",
        (401, 403, 403, 409),
        body=lambda _: {"reason": "lost their phone"},
    ),
    # Articles.
    Row("GET", "/articles", (401, 200, 200, 200)),
    Row("POST", "/articles", (401, 403, 201, 201), body=lambda _: {"title": "New"}),
    Row("GET", "/articles/{article_id}", (401, 200, 200, 200)),
    # The target article is someone else's: an editor may edit only their own
    # (update_article); admin holds update_any_article and delete_any_article.
    Row("PATCH", "/articles/{article_id}", (401, 403, 403, 200), body=lambda _: {"title": "E"}),
    Row("DELETE", "/articles/{article_id}", (401, 403, 403, 204)),
    # Roles and permissions: manage_roles only.
    Row("GET", "/permissions", (401, 403, 403, 200)),
    Row("GET", "/roles", (401, 403, 403, 200)),
    Row(
        "POST",
        "/roles",
        (401, 403, 403, 201),
        body=lambda _: {"name": "matrix-new", "permissions": ["read_article"]},
    ),
    Row(
        "PUT",
        "/roles/{name}/permissions",
        (401, 403, 403, 200),
        body=lambda _: {"permissions": ["read_article"]},
    ),
    Row("DELETE", "/roles/{name}", (401, 403, 403, 204)),
    # The policy and explanations: manage_roles.
    Row("GET", "/authz/policy", (401, 403, 403, 200)),
    Row(
        "POST",
        "/authz/explain",
        (401, 403, 403, 200),
        body=lambda t: {"user_id": t.user_id, "method": "GET", "path": "/users/me"},
    ),
    # The audit log: read_audit, which only admin holds.
    Row("GET", "/audit-events", (401, 403, 403, 200)),
    # Personal access tokens: one's own, logged in; anyone's for administrators. Another
    # user's token does not exist for the caller.
    Row(
        "POST",
        "/users/me/tokens",
        (401, 201, 201, 201),
        body=lambda _: {"name": "matrix", "scopes": ["read_article"]},
    ),
    Row("GET", "/users/me/tokens", (401, 200, 200, 200)),
    Row("DELETE", "/users/me/tokens/{token_id}", (401, 404, 404, 404)),
    Row("GET", "/users/{user_id}/tokens", (401, 403, 403, 200)),
    Row("DELETE", "/users/{user_id}/tokens/{token_id}", (401, 403, 403, 204)),
    # Service accounts: manage_service_accounts (admin).
    Row(
        "POST",
        "/service-accounts",
        (401, 403, 403, 201),
        body=lambda _: {"name": "Matrix service", "roles": ["viewer"]},
    ),
    Row("GET", "/service-accounts", (401, 403, 403, 200)),
    Row("POST", "/service-accounts/{account_id}/secret", (401, 403, 403, 200)),
    # Introspection (RFC 7662): introspect_tokens (admin), or a service account's HTTP Basic
    # credentials (tests/tokens/test_introspection.py).
    Row(
        "POST",
        "/auth/introspect",
        (401, 403, 403, 200),
        form=lambda t: {"token": t.refresh_token},
        needs_login=True,
    ),
]

CELLS = [
    pytest.param(row, caller, status, id=f"{row.method} {row.path} as {caller}")
    for row in MATRIX
    for caller, status in zip(CALLERS, row.statuses, strict=True)
]


async def arrange_targets(
    client: Any, session: Any, make_user: Any, make_role: Any, row: Row
) -> Targets:
    owner = await make_user(roles=["viewer"])
    article = Article(title="Target", body="", author_id=owner.id)
    session.add(article)
    await session.commit()
    role = await make_role("matrix-role", permissions=["read_user"])
    refresh_token = session_id = None
    if row.needs_login:
        refresh_token = (await login(client, owner.email))["refresh_token"]
        session_id = await session.scalar(
            select(AuthSession.id).where(AuthSession.user_id == owner.id)
        )
        await end_read(session)
    token = PersonalAccessToken(
        user_id=owner.id,
        name="target",
        token_hash=hash_opaque_token(new_personal_access_token()),
        display_prefix="pya_pat_target",
        expires_at=utcnow() + timedelta(days=1),
    )
    service_user = User(
        email="matrix-service@service-accounts.invalid",
        hashed_password="!service-account",
        is_service_account=True,
    )
    session.add_all([token, service_user])
    await session.flush()
    session.add(ServiceAccount(user_id=service_user.id, client_id="matrix", secret_hash="0" * 64))
    await session.commit()
    return Targets(
        article.id,
        owner.id,
        owner.email,
        role.name,
        refresh_token,
        session_id,
        token.id,
        service_user.id,
    )


def path_of(row: Row, targets: Targets) -> str:
    """The row's path, with the ids of its targets."""
    return row.path.format(
        article_id=targets.article_id,
        user_id=targets.user_id,
        name=targets.role,
        session_id=targets.session_id,
        token_id=targets.token_id,
        account_id=targets.service_account_id,
    )


@pytest.mark.parametrize(("row", "caller", "expected"), CELLS)
async def test_route_answers_each_caller_as_the_matrix_says(
    client, session, make_user, make_role, auth_headers, row, caller, expected
):
    targets = await arrange_targets(client, session, make_user, make_role, row)
    headers = {} if caller == ANONYMOUS else await auth_headers(await make_user(roles=[caller]))
    path = path_of(row, targets)

    response = await client.request(
        row.method,
        path,
        headers=headers,
        json=row.body(targets) if row.body else None,
        data=row.form(targets) if row.form else None,
    )

    assert response.status_code == expected, response.text


async def test_matrix_lists_every_route(app):
    routes = {
        (method, context.path_format)
        for context in iter_route_contexts(app.routes)
        for method in context.methods or ()
        if method != "HEAD"
    }
    rows = [(row.method, row.path) for row in MATRIX]

    assert len(rows) == len(set(rows)), "a route has two rows"
    assert routes - set(rows) == set(), "routes without a row in MATRIX"
    assert set(rows) - routes == set(), "rows for routes that do not exist"
