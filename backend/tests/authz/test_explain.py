"""POST /authz/explain says what a request gets: for every route of the authorization matrix
and every seeded role, its decision agrees with the answer of the real call."""

import pytest

from tests.test_authorization_matrix import ANONYMOUS, CALLERS, MATRIX, arrange_targets, path_of

CELLS = [
    pytest.param(row, role, id=f"{row.method} {row.path} as {role}")
    for row in MATRIX
    for role in CALLERS
    if role != ANONYMOUS
]


async def _explain(client, headers, user_id: int, method: str, path: str):
    response = await client.post(
        "/authz/explain",
        json={"user_id": user_id, "method": method, "path": path},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("row", "role"), CELLS)
async def test_explain_agrees_with_the_real_call(
    client, session, make_user, make_role, auth_headers, row, role
):
    targets = await arrange_targets(client, session, make_user, make_role, row)
    caller = await make_user(roles=[role])
    explainer = await auth_headers(await make_user(roles=["admin"]))
    headers = await auth_headers(caller)
    path = path_of(row, targets)

    explained = await _explain(client, explainer, caller.id, row.method, path)
    response = await client.request(
        row.method,
        path,
        headers=headers,
        json=row.body(targets) if row.body else None,
        data=row.form(targets) if row.form else None,
    )

    # The targets belong to someone else: "own_only" is a refusal here, as "denied" is.
    refused = response.status_code == 403
    assert refused == (explained["decision"] in ("denied", "own_only")), (
        explained,
        response.text,
    )


async def test_explain_names_what_is_required_held_and_missing(client, make_user, auth_headers):
    viewer = await make_user(roles=["viewer"])
    admin = await auth_headers(await make_user(roles=["admin"]))

    explained = await _explain(client, admin, viewer.id, "GET", "/users/7/sessions")

    assert explained["route"] == "/users/{user_id}/sessions"
    assert explained["decision"] == "denied"
    assert explained["required"] == ["read_user", "read_user_private"]
    assert explained["held"] == ["read_user"]
    assert explained["missing"] == ["read_user_private"]


async def test_explain_tells_own_objects_only(client, make_user, auth_headers):
    editor = await make_user(roles=["editor"])
    admin = await auth_headers(await make_user(roles=["admin"]))

    explained = await _explain(client, admin, editor.id, "PATCH", "/articles/1")

    assert explained["decision"] == "own_only"
    assert explained["ownership"] == {"own": "update_article", "any": "update_any_article"}
    assert explained["missing"] == []


async def test_a_deactivated_user_is_denied_everywhere(client, make_user, auth_headers):
    inactive = await make_user(roles=["admin"], is_active=False)
    admin = await auth_headers(await make_user(roles=["admin"]))

    explained = await _explain(client, admin, inactive.id, "GET", "/users/me")

    assert explained["decision"] == "denied"


async def test_an_unknown_path_is_422(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.post(
        "/authz/explain",
        json={"user_id": admin.id, "method": "GET", "path": "/nowhere"},
        headers=await auth_headers(admin),
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "unknown_route"


async def test_an_unknown_user_is_404(client, make_user, auth_headers):
    admin = await make_user(roles=["admin"])

    response = await client.post(
        "/authz/explain",
        json={"user_id": 999_999, "method": "GET", "path": "/users/me"},
        headers=await auth_headers(admin),
    )

    assert response.status_code == 404


async def test_explain_needs_manage_roles(client, make_user, auth_headers):
    editor = await make_user(roles=["editor"])

    response = await client.post(
        "/authz/explain",
        json={"user_id": editor.id, "method": "GET", "path": "/users/me"},
        headers=await auth_headers(editor),
    )

    assert response.status_code == 403
