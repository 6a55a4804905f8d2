"""User administration: /users and /users/{id}, gated by read_user, update_user, delete_user.

Every endpoint is walked in the same order: anonymous 401, missing permission 403,
not found 404, valid.
"""

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.articles.models import Article
from app.auth.models import Permission, RefreshToken, Role
from tests.helpers import assert_error, bearer, end_read, fetch_user, login


async def refresh_tokens_of(session: Any, user_id: int) -> list[RefreshToken]:
    tokens = list(
        await session.scalars(
            select(RefreshToken)
            .where(RefreshToken.user_id == user_id)
            .execution_options(populate_existing=True)
        )
    )
    await end_read(session)
    return tokens


def emails(page: dict[str, Any]) -> list[str]:
    return [item["email"] for item in page["items"]]


class TestListUsers:
    @pytest.fixture(autouse=True)
    async def _viewers_see_emails(self, session):
        """These tests read the list by its emails: here viewers may see them. (Who may see
        emails is specified by TestPrivateFields.)"""
        viewer = await session.scalar(
            select(Role).options(selectinload(Role.permissions)).where(Role.name == "viewer")
        )
        private = await session.scalar(
            select(Permission).where(Permission.name == "read_user_private")
        )
        viewer.permissions.append(private)
        await session.commit()

    async def test_anonymous_is_401(self, client):
        response = await client.get("/users")

        assert_error(response, 401, "not_authenticated")

    async def test_without_read_user_is_403(self, client, make_user, auth_headers):
        nobody = await make_user(roles=[])

        response = await client.get("/users", headers=await auth_headers(nobody))

        assert_error(response, 403, "permission_denied")

    async def test_returns_a_page_of_users(self, client, make_user, auth_headers):
        viewer = await make_user("viewer@example.com", roles=["viewer"], full_name="Vi")

        response = await client.get("/users", headers=await auth_headers(viewer))

        assert response.status_code == 200
        page = response.json()
        assert (page["limit"], page["offset"], page["has_more"]) == (20, 0, False)
        (item,) = page["items"]
        assert item["id"] == viewer.id
        assert item["email"] == "viewer@example.com"
        assert item["full_name"] == "Vi"
        assert item["is_active"] is True
        assert item["roles"] == ["viewer"]
        assert "hashed_password" not in item

    async def test_limit_and_offset_select_a_window(self, client, make_user, auth_headers):
        users = [await make_user(f"u{i}@example.com") for i in range(5)]

        response = await client.get(
            "/users", params={"limit": 2, "offset": 1}, headers=await auth_headers(users[0])
        )

        page = response.json()
        # Newest first: the window is the 2nd and 3rd newest.
        assert emails(page) == ["u3@example.com", "u2@example.com"]
        assert (page["limit"], page["offset"], page["has_more"]) == (2, 1, True)

    async def test_an_exactly_full_page_with_nothing_after_has_no_more(
        self, client, make_user, auth_headers
    ):
        users = [await make_user(f"u{i}@example.com") for i in range(2)]

        response = await client.get(
            "/users", params={"limit": 2}, headers=await auth_headers(users[0])
        )

        page = response.json()
        assert emails(page) == ["u1@example.com", "u0@example.com"]
        assert page["has_more"] is False

    async def test_one_user_more_than_a_page_has_more(self, client, make_user, auth_headers):
        users = [await make_user(f"u{i}@example.com") for i in range(3)]

        response = await client.get(
            "/users", params={"limit": 2}, headers=await auth_headers(users[0])
        )

        page = response.json()
        assert emails(page) == ["u2@example.com", "u1@example.com"]
        assert page["has_more"] is True

    async def test_the_last_page_has_no_more(self, client, make_user, auth_headers):
        users = [await make_user(f"u{i}@example.com") for i in range(5)]

        response = await client.get(
            "/users", params={"limit": 2, "offset": 4}, headers=await auth_headers(users[0])
        )

        page = response.json()
        assert emails(page) == ["u0@example.com"]
        assert page["has_more"] is False

    async def test_pages_together_list_every_user_once(self, client, make_user, auth_headers):
        users = [await make_user(f"u{i}@example.com") for i in range(5)]
        headers = await auth_headers(users[0])

        listed: list[str] = []
        for offset in (0, 2, 4):
            response = await client.get(
                "/users", params={"limit": 2, "offset": offset}, headers=headers
            )
            listed += emails(response.json())

        assert sorted(listed) == sorted(user.email for user in users)

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}])
    async def test_paging_out_of_range_is_422(self, client, make_user, auth_headers, params):
        viewer = await make_user()

        response = await client.get("/users", params=params, headers=await auth_headers(viewer))

        assert_error(response, 422, "validation_error")

    async def test_email_filter_matches_a_substring(self, client, make_user, auth_headers):
        viewer = await make_user("viewer@example.com")
        await make_user("alice@wonderland.org")
        await make_user("malice@wonderland.org")
        await make_user("bob@example.com")

        response = await client.get(
            "/users", params={"email": "alice"}, headers=await auth_headers(viewer)
        )

        page = response.json()
        assert sorted(emails(page)) == ["alice@wonderland.org", "malice@wonderland.org"]
        assert page["has_more"] is False

    async def test_has_more_counts_only_the_filtered_users(self, client, make_user, auth_headers):
        viewer = await make_user("viewer@example.com")
        await make_user("alice@wonderland.org")
        await make_user("bob@example.com")

        response = await client.get(
            "/users", params={"email": "alice", "limit": 1}, headers=await auth_headers(viewer)
        )

        page = response.json()
        assert emails(page) == ["alice@wonderland.org"]
        assert page["has_more"] is False

    async def test_email_filter_ignores_case(self, client, make_user, auth_headers):
        viewer = await make_user("viewer@example.com")
        await make_user("alice@wonderland.org")

        response = await client.get(
            "/users", params={"email": "ALICE@Wonder"}, headers=await auth_headers(viewer)
        )

        assert emails(response.json()) == ["alice@wonderland.org"]

    @pytest.mark.parametrize(
        ("needle", "expected"),
        [
            ("%", ["per%cent@example.com"]),
            ("_", ["under_score@example.com"]),
            ("r_s", ["under_score@example.com"]),
            ("\\", ["back\\slash@example.com"]),
        ],
    )
    async def test_email_filter_treats_like_wildcards_literally(
        self, client, make_user, auth_headers, needle, expected
    ):
        viewer = await make_user("viewer@example.com")
        for email in (
            "per%cent@example.com",
            "under_score@example.com",
            "underxscore@example.com",
            "back\\slash@example.com",
        ):
            await make_user(email)

        response = await client.get(
            "/users", params={"email": needle}, headers=await auth_headers(viewer)
        )

        assert emails(response.json()) == expected

    async def test_role_filter_lists_holders_of_the_role(self, client, make_user, auth_headers):
        viewer = await make_user("viewer@example.com", roles=["viewer"])
        await make_user("editor1@example.com", roles=["editor"])
        await make_user("editor2@example.com", roles=["viewer", "editor"])
        await make_user("admin@example.com", roles=["admin"])

        response = await client.get(
            "/users", params={"role": "editor"}, headers=await auth_headers(viewer)
        )

        page = response.json()
        assert sorted(emails(page)) == ["editor1@example.com", "editor2@example.com"]
        assert page["has_more"] is False

    async def test_email_and_role_filters_combine(self, client, make_user, auth_headers):
        viewer = await make_user("viewer@example.com", roles=["viewer"])
        await make_user("ed@corp.example", roles=["editor"])
        await make_user("ed@other.example", roles=["editor"])
        await make_user("vi@corp.example", roles=["viewer"])

        response = await client.get(
            "/users", params={"role": "editor", "email": "corp"}, headers=await auth_headers(viewer)
        )

        assert emails(response.json()) == ["ed@corp.example"]

    async def test_unknown_role_filter_is_an_empty_page(self, client, make_user, auth_headers):
        viewer = await make_user()

        response = await client.get(
            "/users", params={"role": "nonexistent"}, headers=await auth_headers(viewer)
        )

        assert response.status_code == 200
        assert response.json()["items"] == []
        assert response.json()["has_more"] is False


class TestReadUser:
    async def test_anonymous_is_401(self, client, make_user):
        user = await make_user()

        response = await client.get(f"/users/{user.id}")

        assert_error(response, 401, "not_authenticated")

    async def test_without_read_user_is_403(self, client, make_user, auth_headers):
        nobody = await make_user(roles=[])

        response = await client.get(f"/users/{nobody.id}", headers=await auth_headers(nobody))

        assert_error(response, 403, "permission_denied")

    async def test_unknown_id_is_404(self, client, make_user, auth_headers):
        viewer = await make_user()

        response = await client.get("/users/999999", headers=await auth_headers(viewer))

        assert_error(response, 404, "not_found")
        assert response.json()["detail"] == "User not found."

    async def test_returns_the_user(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        other = await make_user("other@example.com", roles=["editor", "viewer"], full_name="O")

        response = await client.get(f"/users/{other.id}", headers=await auth_headers(admin))

        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["email"], body["full_name"]) == (other.id, other.email, "O")
        assert body["roles"] == ["editor", "viewer"]
        assert "hashed_password" not in body

    @pytest.mark.parametrize("user_id", [0, 2**31, 10**30])
    async def test_id_outside_the_id_range_is_422(self, client, make_user, auth_headers, user_id):
        viewer = await make_user()

        response = await client.get(f"/users/{user_id}", headers=await auth_headers(viewer))

        assert_error(response, 422, "validation_error")


class TestUpdateUser:
    async def test_anonymous_is_401(self, client, make_user):
        user = await make_user()

        response = await client.patch(f"/users/{user.id}", json={"full_name": "X"})

        assert_error(response, 401, "not_authenticated")

    async def test_without_update_user_is_403(self, client, session, make_user, auth_headers):
        editor = await make_user(roles=["editor"])
        target = await make_user(roles=["viewer"])

        response = await client.patch(
            f"/users/{target.id}", json={"roles": ["admin"]}, headers=await auth_headers(editor)
        )

        assert_error(response, 403, "permission_denied")
        stored = await fetch_user(session, target.id)
        assert stored is not None
        assert [role.name for role in stored.roles] == ["viewer"]

    async def test_unknown_id_is_404(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.patch(
            "/users/999999", json={"full_name": "X"}, headers=await auth_headers(admin)
        )

        assert_error(response, 404, "not_found")

    async def test_changes_full_name(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        target = await make_user(full_name="Before")

        response = await client.patch(
            f"/users/{target.id}", json={"full_name": "After"}, headers=await auth_headers(admin)
        )

        assert response.status_code == 200
        assert response.json()["full_name"] == "After"
        stored = await fetch_user(session, target.id)
        assert stored is not None
        assert stored.full_name == "After"

    async def test_full_name_can_be_cleared(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        target = await make_user(full_name="Before")

        response = await client.patch(
            f"/users/{target.id}", json={"full_name": None}, headers=await auth_headers(admin)
        )

        assert response.status_code == 200
        assert response.json()["full_name"] is None

    async def test_fields_not_sent_are_left_alone(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        target = await make_user(roles=["editor"], full_name="Kept")

        response = await client.patch(
            f"/users/{target.id}", json={"is_active": False}, headers=await auth_headers(admin)
        )

        body = response.json()
        assert (body["full_name"], body["roles"], body["is_active"]) == ("Kept", ["editor"], False)

    async def test_changes_is_active(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        target = await make_user(is_active=False)

        response = await client.patch(
            f"/users/{target.id}", json={"is_active": True}, headers=await auth_headers(admin)
        )

        assert response.status_code == 200
        assert response.json()["is_active"] is True
        stored = await fetch_user(session, target.id)
        assert stored is not None
        assert stored.is_active is True

    async def test_replaces_roles(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        target = await make_user(roles=["viewer"])

        response = await client.patch(
            f"/users/{target.id}",
            json={"roles": ["editor", "viewer"]},
            headers=await auth_headers(admin),
        )

        assert response.status_code == 200
        assert response.json()["roles"] == ["editor", "viewer"]
        stored = await fetch_user(session, target.id)
        assert stored is not None
        assert sorted(role.name for role in stored.roles) == ["editor", "viewer"]

    async def test_unknown_role_is_422_and_changes_nothing(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        target = await make_user(roles=["viewer"], full_name="Before")

        response = await client.patch(
            f"/users/{target.id}",
            json={"full_name": "After", "roles": ["editor", "wizard"]},
            headers=await auth_headers(admin),
        )

        assert_error(response, 422, "validation_error")
        assert "wizard" in response.json()["detail"]
        assert response.json()["errors"][0]["loc"] == ["body", "roles"]
        stored = await fetch_user(session, target.id)
        assert stored is not None
        assert (stored.full_name, [r.name for r in stored.roles]) == ("Before", ["viewer"])

    @pytest.mark.parametrize(
        "payload",
        [
            pytest.param({"email": "taken-over@example.com"}, id="email"),
            pytest.param({"hashed_password": "$argon2id$forged"}, id="hashed_password"),
            pytest.param({"id": 1}, id="id"),
            pytest.param({"created_at": "2020-01-01T00:00:00Z"}, id="created_at"),
            pytest.param({"permissions": ["manage_roles"]}, id="permissions"),
        ],
    )
    async def test_mass_assignment_is_422_and_changes_nothing(
        self, client, session, make_user, auth_headers, payload
    ):
        admin = await make_user(roles=["admin"])
        target = await make_user("target@example.com")
        before = target.hashed_password

        response = await client.patch(
            f"/users/{target.id}", json=payload, headers=await auth_headers(admin)
        )

        assert_error(response, 422, "validation_error")
        stored = await fetch_user(session, target.id)
        assert stored is not None
        assert (stored.email, stored.hashed_password) == ("target@example.com", before)

    async def test_deactivating_revokes_the_users_refresh_tokens(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        target = await make_user()
        first = await login(client, target.email)
        await login(client, target.email)

        response = await client.patch(
            f"/users/{target.id}", json={"is_active": False}, headers=await auth_headers(admin)
        )

        assert response.status_code == 200
        tokens = await refresh_tokens_of(session, target.id)
        assert len(tokens) == 2
        assert all(token.revoked_at is not None for token in tokens)
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert refreshed.status_code == 401

    async def test_deactivated_users_access_token_is_refused_at_once(
        self, client, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        target = await make_user()
        access = bearer((await login(client, target.email))["access_token"])
        assert (await client.get("/articles", headers=access)).status_code == 200

        await client.patch(
            f"/users/{target.id}", json={"is_active": False}, headers=await auth_headers(admin)
        )

        response = await client.get("/articles", headers=access)
        assert_error(response, 401, "invalid_token")

    async def test_granted_role_applies_to_the_next_request_with_the_same_token(
        self, client, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        target = await make_user(roles=["viewer"])
        headers = await auth_headers(target)
        refused = await client.post("/articles", json={"title": "T"}, headers=headers)
        assert refused.status_code == 403

        await client.patch(
            f"/users/{target.id}", json={"roles": ["editor"]}, headers=await auth_headers(admin)
        )

        response = await client.post("/articles", json={"title": "T"}, headers=headers)
        assert response.status_code == 201

    async def test_removed_role_applies_to_the_next_request_with_the_same_token(
        self, client, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        target = await make_user(roles=["editor"])
        headers = await auth_headers(target)
        allowed = await client.post("/articles", json={"title": "T"}, headers=headers)
        assert allowed.status_code == 201

        await client.patch(
            f"/users/{target.id}", json={"roles": ["viewer"]}, headers=await auth_headers(admin)
        )

        response = await client.post("/articles", json={"title": "T"}, headers=headers)
        assert_error(response, 403, "permission_denied")

    async def test_cannot_grant_a_role_holding_permissions_one_lacks(
        self, client, session, make_user, make_role, auth_headers
    ):
        await make_role("user-manager", permissions=["read_user", "update_user"])
        manager = await make_user(roles=["user-manager"])

        response = await client.patch(
            f"/users/{manager.id}",
            json={"roles": ["user-manager", "admin"]},
            headers=await auth_headers(manager),
        )

        assert_error(response, 403, "permission_denied")
        assert "manage_roles" in response.json()["missing"]
        stored = await fetch_user(session, manager.id)
        assert stored is not None
        assert [role.name for role in stored.roles] == ["user-manager"]

    async def test_cannot_remove_a_role_from_a_user_holding_permissions_one_lacks(
        self, client, session, make_user, make_role, auth_headers
    ):
        await make_role("user-manager", permissions=["read_user", "update_user"])
        manager = await make_user(roles=["user-manager"])
        await make_user(roles=["admin"])
        admin = await make_user(roles=["admin"])

        response = await client.patch(
            f"/users/{admin.id}", json={"roles": ["viewer"]}, headers=await auth_headers(manager)
        )

        assert_error(response, 403, "target_outranks_actor")
        stored = await fetch_user(session, admin.id)
        assert stored is not None
        assert [role.name for role in stored.roles] == ["admin"]

    async def test_can_grant_a_role_whose_permissions_one_holds(
        self, client, make_user, make_role, auth_headers
    ):
        await make_role("user-manager", permissions=["read_article", "read_user", "update_user"])
        manager = await make_user(roles=["user-manager"])
        target = await make_user(roles=[])

        response = await client.patch(
            f"/users/{target.id}", json={"roles": ["viewer"]}, headers=await auth_headers(manager)
        )

        assert response.status_code == 200, response.text
        assert response.json()["roles"] == ["viewer"]


class TestDeleteUser:
    async def test_anonymous_is_401(self, client, make_user):
        user = await make_user()

        response = await client.delete(f"/users/{user.id}")

        assert_error(response, 401, "not_authenticated")

    async def test_without_delete_user_is_403(self, client, session, make_user, auth_headers):
        editor = await make_user(roles=["editor"])
        target = await make_user()

        response = await client.delete(f"/users/{target.id}", headers=await auth_headers(editor))

        assert_error(response, 403, "permission_denied")
        assert await fetch_user(session, target.id) is not None

    async def test_unknown_id_is_404(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])

        response = await client.delete("/users/999999", headers=await auth_headers(admin))

        assert_error(response, 404, "not_found")

    async def test_returns_204_and_the_user_is_gone(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        target = await make_user()

        response = await client.delete(f"/users/{target.id}", headers=await auth_headers(admin))

        assert response.status_code == 204
        assert response.content == b""
        again = await client.get(f"/users/{target.id}", headers=await auth_headers(admin))
        assert_error(again, 404, "not_found")
        assert await fetch_user(session, target.id) is None

    async def test_deletes_the_users_refresh_tokens(self, client, session, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        target = await make_user()
        tokens = await login(client, target.email)
        assert len(await refresh_tokens_of(session, target.id)) == 1

        await client.delete(f"/users/{target.id}", headers=await auth_headers(admin))

        assert await refresh_tokens_of(session, target.id) == []
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 401

    async def test_deleted_users_access_token_is_refused(self, client, make_user, auth_headers):
        admin = await make_user(roles=["admin"])
        target = await make_user()
        headers = await auth_headers(target)

        await client.delete(f"/users/{target.id}", headers=await auth_headers(admin))

        response = await client.get("/articles", headers=headers)
        assert_error(response, 401, "invalid_token")

    async def test_keeps_the_users_articles_without_an_author(
        self, client, session, make_user, auth_headers
    ):
        admin = await make_user(roles=["admin"])
        target = await make_user(roles=["editor"])
        created = await client.post(
            "/articles", json={"title": "T"}, headers=await auth_headers(target)
        )
        article_id = created.json()["id"]

        await client.delete(f"/users/{target.id}", headers=await auth_headers(admin))

        response = await client.get(f"/articles/{article_id}", headers=await auth_headers(admin))
        assert response.status_code == 200
        assert response.json()["author"] is None
        count = await session.scalar(select(func.count()).select_from(Article))
        await end_read(session)
        assert count == 1
