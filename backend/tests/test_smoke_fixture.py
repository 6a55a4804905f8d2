from tests.helpers import login


async def test_fixtures_work(client, make_user, auth_headers):
    user = await make_user(roles=["editor"])
    tokens = await login(client, user.email)
    me = await client.get("/users/me", headers=auth_headers(user))
    assert me.status_code == 200
    assert tokens["token_type"] == "bearer"
