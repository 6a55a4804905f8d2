"""No redirect trusts the Host header: a client chooses it, and an absolute Location built
from it would send the next request (a browser's, behind a cache) wherever the client said."""

import pytest

EVIL = {"Host": "evil.example"}


@pytest.mark.parametrize("path", ["/users/", "/articles/", "/auth/sessions/", "/docs/"])
async def test_a_trailing_slash_is_not_found_rather_than_redirected(client, path):
    response = await client.get(path, headers=EVIL)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found", "code": "not_found"}
    assert "location" not in response.headers


async def test_the_console_without_its_slash_is_redirected_by_a_relative_location(client):
    response = await client.get("/ui", headers=EVIL)

    assert response.status_code == 307
    assert response.headers["location"] == "/ui/"


@pytest.mark.parametrize(
    "path", ["/", "/ui", "/ui/", "/ui/js/%2E%2E", "/ui/js/%2E%2E?x=1", "/users/", "/docs/"]
)
async def test_no_redirect_names_a_host(client, path):
    """%2E%2E: a directory of the console's files (/ui/js/.. is /ui/), which Starlette's
    StaticFiles redirects to the same path with a slash."""
    response = await client.get(path, headers=EVIL)

    location = response.headers.get("location", "/")
    assert location.startswith("/")
    assert not location.startswith("//")


async def test_a_directory_of_the_console_is_redirected_by_a_relative_location(client):
    response = await client.get("/ui/js/%2E%2E", headers=EVIL)

    assert response.status_code == 307
    assert response.headers["location"] == "/ui/js/../"
