"""/permissions and /roles: what each role may do. Every endpoint needs manage_roles.

Every endpoint is walked in the same order: anonymous 401, missing permission 403,
not found 404 (where a path names a role), valid.
"""

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.auth.models import Permission, Role
from tests.helpers import assert_error, end_read

VIEWER_PERMISSIONS = ["read_article", "read_user"]
EDITOR_PERMISSIONS = ["create_article", "read_article", "read_user", "update_article"]


async def all_permissions(session: Any) -> list[str]:
    """Every permission the migrations created, sorted."""
    names = list(await session.scalars(select(Permission.name).order_by(Permission.name)))
    await end_read(session)
    return names


async def stored_role(session: Any, name: str) -> Role | None:
    role: Role | None = await session.scalar(
        select(Role)
        .options(selectinload(Role.permissions))
        .where(Role.name == name)
        .execution_options(populate_existing=True)
    )
    await end_read(session)
    return role


def permission_names(role: Role | None) -> list[str]:
    assert role is not None
    return sorted(permission.name for permission in role.permissions)


async def create_role(
    client: Any, headers: dict[str, str], name: str, permissions: list[str]
) -> Any:
    response = await client.post(
        "/roles", json={"name": name, "permissions": permissions}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response


class TestListPermissions:
    async def test_anonymous_is_401(self, client):
        response = await client.get("/permissions")

        assert_error(response, 401, "not_authenticated")

    async def test_without_manage_roles_is_403(self, client, make_user, auth_headers):
        editor = await make_user(roles=["editor"])

        response = await client.get("/permissions", headers=await auth_headers(editor))

        assert_error(response, 403, "permission_denied")

    async def test_lists_every_permission_with_its_description(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        expected = await all_permissions(session)

        response = await client.get("/permissions", headers=await auth_headers(admin))

        assert response.status_code == 200
        body = response.json()
        assert [permission["name"] for permission in body] == expected
        assert {*VIEWER_PERMISSIONS, *EDITOR_PERMISSIONS, "manage_roles"} <= set(expected)
        assert all(permission["description"] for permission in body)


class TestListRoles:
    async def test_anonymous_is_401(self, client):
        response = await client.get("/roles")

        assert_error(response, 401, "not_authenticated")

    async def test_without_manage_roles_is_403(self, client, make_user, auth_headers):
        editor = await make_user(roles=["editor"])

        response = await client.get("/roles", headers=await auth_headers(editor))

        assert_error(response, 403, "permission_denied")

    async def test_lists_roles_with_their_permissions(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        expected = await all_permissions(session)

        response = await client.get("/roles", headers=await auth_headers(admin))

        assert response.status_code == 200
        roles = {role["name"]: role["permissions"] for role in response.json()}
        assert roles == {
            "admin": expected,
            "editor": EDITOR_PERMISSIONS,
            "viewer": VIEWER_PERMISSIONS,
        }


class TestCreateRole:
    async def test_anonymous_is_401(self, client):
        response = await client.post("/roles", json={"name": "writer", "permissions": []})

        assert_error(response, 401, "not_authenticated")

    async def test_without_manage_roles_is_403(self, client, session, make_user, auth_headers):
        editor = await make_user(roles=["editor"])

        response = await client.post(
            "/roles", json={"name": "writer", "permissions": []}, headers=await auth_headers(editor)
        )

        assert_error(response, 403, "permission_denied")
        assert await stored_role(session, "writer") is None

    async def test_returns_201_with_the_new_role(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.post(
            "/roles",
            json={
                "name": "writer",
                "description": "Writes",
                "permissions": ["read_article", "create_article"],
            },
            headers=await auth_headers(admin),
        )

        assert response.status_code == 201, response.text
        assert response.json() == {
            "name": "writer",
            "description": "Writes",
            "permissions": ["create_article", "read_article"],
        }
        assert permission_names(await stored_role(session, "writer")) == [
            "create_article",
            "read_article",
        ]

    async def test_duplicate_name_is_409(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        await create_role(client, await auth_headers(admin), "writer", [])

        response = await client.post(
            "/roles", json={"name": "writer", "permissions": []}, headers=await auth_headers(admin)
        )

        assert_error(response, 409, "conflict")

    async def test_built_in_name_is_409(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.post(
            "/roles", json={"name": "viewer", "permissions": []}, headers=await auth_headers(admin)
        )

        assert_error(response, 409, "conflict")

    async def test_unknown_permission_is_422(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.post(
            "/roles",
            json={"name": "writer", "permissions": ["read_article", "fly"]},
            headers=await auth_headers(admin),
        )

        assert_error(response, 422, "validation_error")
        assert "fly" in response.json()["detail"]
        assert response.json()["errors"][0]["loc"] == ["body", "permissions"]
        assert await stored_role(session, "writer") is None

    @pytest.mark.parametrize(
        "name",
        ["", "Writer", "1writer", "-writer", "with space", "x" * 65, "wri/ter"],
    )
    async def test_bad_name_is_422(self, client, make_user, auth_headers, name):
        admin = await make_user(roles=["admin"])

        response = await client.post(
            "/roles", json={"name": name, "permissions": []}, headers=await auth_headers(admin)
        )

        assert_error(response, 422, "validation_error")
        assert response.json()["errors"][0]["loc"] == ["body", "name"]

    async def test_unknown_field_is_422(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.post(
            "/roles",
            json={"name": "writer", "permissions": [], "id": 1},
            headers=await auth_headers(admin),
        )

        assert_error(response, 422, "validation_error")


class TestSetRolePermissions:
    async def test_anonymous_is_401(self, client):
        response = await client.put("/roles/viewer/permissions", json={"permissions": []})

        assert_error(response, 401, "not_authenticated")

    async def test_without_manage_roles_is_403(self, client, session, make_user, auth_headers):
        editor = await make_user(roles=["editor"])

        response = await client.put(
            "/roles/editor/permissions",
            json={"permissions": await all_permissions(session)},
            headers=await auth_headers(editor),
        )

        assert_error(response, 403, "permission_denied")
        assert "manage_roles" not in permission_names(await stored_role(session, "editor"))

    async def test_unknown_role_is_404(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.put(
            "/roles/nonexistent/permissions",
            json={"permissions": []},
            headers=await auth_headers(admin),
        )

        assert_error(response, 404, "not_found")

    async def test_replaces_the_permissions(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.put(
            "/roles/viewer/permissions",
            json={"permissions": ["read_article"]},
            headers=await auth_headers(admin),
        )

        assert response.status_code == 200, response.text
        assert response.json()["permissions"] == ["read_article"]
        assert permission_names(await stored_role(session, "viewer")) == ["read_article"]

    async def test_granted_permission_applies_to_holders_at_their_next_request(
        self, client, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        viewer = await make_user(roles=["viewer"])
        headers = await auth_headers(viewer)
        refused = await client.post("/articles", json={"title": "T"}, headers=headers)
        assert refused.status_code == 403

        await client.put(
            "/roles/viewer/permissions",
            json={"permissions": ["read_article", "read_user", "create_article"]},
            headers=await auth_headers(admin),
        )

        response = await client.post("/articles", json={"title": "T"}, headers=headers)
        assert response.status_code == 201

    async def test_withdrawn_permission_applies_to_holders_at_their_next_request(
        self, client, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        viewer = await make_user(roles=["viewer"])
        headers = await auth_headers(viewer)
        assert (await client.get("/articles", headers=headers)).status_code == 200

        await client.put(
            "/roles/viewer/permissions",
            json={"permissions": ["read_user"]},
            headers=await auth_headers(admin),
        )

        response = await client.get("/articles", headers=headers)
        assert_error(response, 403, "permission_denied")

    async def test_unknown_permission_is_422_and_changes_nothing(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])

        response = await client.put(
            "/roles/viewer/permissions",
            json={"permissions": ["fly"]},
            headers=await auth_headers(admin),
        )

        assert_error(response, 422, "validation_error")
        assert permission_names(await stored_role(session, "viewer")) == VIEWER_PERMISSIONS

    async def test_taking_a_permission_from_admin_is_409(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        everything = await all_permissions(session)
        without_manage_roles = [name for name in everything if name != "manage_roles"]

        response = await client.put(
            "/roles/admin/permissions",
            json={"permissions": without_manage_roles},
            headers=await auth_headers(admin),
        )

        assert_error(response, 409, "conflict")
        assert permission_names(await stored_role(session, "admin")) == everything


class TestDeleteRole:
    async def test_anonymous_is_401(self, client):
        response = await client.delete("/roles/viewer")

        assert_error(response, 401, "not_authenticated")

    async def test_without_manage_roles_is_403(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        editor = await make_user(roles=["editor"])
        await create_role(client, await auth_headers(admin), "writer", [])

        response = await client.delete("/roles/writer", headers=await auth_headers(editor))

        assert_error(response, 403, "permission_denied")
        assert await stored_role(session, "writer") is not None

    async def test_unknown_role_is_404(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.delete("/roles/nonexistent", headers=await auth_headers(admin))

        assert_error(response, 404, "not_found")

    @pytest.mark.parametrize("name", ["viewer", "editor", "admin"])
    async def test_built_in_role_is_409(
        self, client, session, make_user, make_role, auth_headers, name
    ):
        # The caller holds no built-in role, so none is refused merely for being held.
        await make_role("role-manager", permissions=["manage_roles"])
        manager = await make_user(roles=["role-manager"])

        response = await client.delete(f"/roles/{name}", headers=await auth_headers(manager))

        assert_error(response, 409, "conflict")
        assert "Built-in" in response.json()["detail"]
        assert await stored_role(session, name) is not None

    async def test_role_held_by_users_is_409(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        await create_role(client, await auth_headers(admin), "writer", ["create_article"])
        await make_user(roles=["writer"])

        response = await client.delete("/roles/writer", headers=await auth_headers(admin))

        assert_error(response, 409, "conflict")
        assert "held by users" in response.json()["detail"]
        assert await stored_role(session, "writer") is not None

    async def test_unused_custom_role_is_deleted_with_204(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        await create_role(client, await auth_headers(admin), "writer", ["create_article"])

        response = await client.delete("/roles/writer", headers=await auth_headers(admin))

        assert response.status_code == 204, response.text
        assert await stored_role(session, "writer") is None
        listed = await client.get("/roles", headers=await auth_headers(admin))
        assert "writer" not in [role["name"] for role in listed.json()]
