"""The policy as data, locked: docs/policy.md is what `python -m app.cli policy` prints for the
code and the seeded roles, and the app refuses to start on a permission the database lacks."""

from pathlib import Path

import pytest

from app.auth.dependencies import require_permission
from app.authz.policy import render_markdown, route_policies
from app.authz.service import role_permissions
from app.core.config import SettingsError
from tests.helpers import BACKEND_DIR, fresh_app

POLICY_FILE = Path(BACKEND_DIR).parent / "docs" / "policy.md"


async def test_the_committed_policy_is_the_codes(app, session):
    current = render_markdown(route_policies(app.routes), await role_permissions(session))

    assert POLICY_FILE.read_text() == current, (
        "Who may do what changed: run `cd backend && .venv/bin/python -m app.cli policy "
        "> ../docs/policy.md` on a freshly migrated database, and review the diff."
    )


async def test_the_policy_endpoint_shows_routes_roles_and_decisions(
    client, make_user, auth_headers
):
    admin = await make_user(roles=["admin"])

    response = await client.get("/authz/policy", headers=await auth_headers(admin))

    assert response.status_code == 200, response.text
    body = response.json()
    patch = next(
        r for r in body["routes"] if (r["method"], r["path"]) == ("PATCH", "/articles/{article_id}")
    )
    assert patch["permissions"] == ["update_article"]
    assert patch["ownership"] == {"own": "update_article", "any": "update_any_article"}
    assert body["matrix"]["PATCH /articles/{article_id}"] == {
        "admin": "allowed",
        "editor": "own_only",
        "viewer": "denied",
    }
    assert "manage_roles" in body["roles"]["admin"]


async def test_the_policy_needs_manage_roles(client, make_user, auth_headers):
    editor = await make_user(roles=["editor"])

    response = await client.get("/authz/policy", headers=await auth_headers(editor))

    assert response.status_code == 403
    assert response.json()["missing"] == ["manage_roles"]


async def test_the_app_refuses_to_start_on_a_permission_the_database_lacks(database_url):
    async with fresh_app(database_url) as typo:

        @typo.get("/typo", dependencies=[require_permission("reed_article")])
        async def typo_route() -> None: ...

        with pytest.raises(SettingsError, match="reed_article"):
            async with typo.router.lifespan_context(typo):
                pass


async def test_the_app_starts_when_every_permission_exists(database_url):
    async with fresh_app(database_url) as fine, fine.router.lifespan_context(fine):
        pass
