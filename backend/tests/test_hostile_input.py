"""Hostile and malformed requests, written by hand beside the fuzzer (tests/test_fuzz.py): each
gets a 4xx in the project's error format, never a 500, on SQLite and on PostgreSQL.

Several of these were 500s on PostgreSQL before (NUL in a string, a time near year 1 or 9999)
and others were silently accepted (a duplicated query parameter, bad UTF-8 in the URL)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.helpers import PASSWORD

# Answers a request with the admin's token; cases that need no token ignore it.
Send = Callable[..., Any]


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    json: Any = None
    content: bytes | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 422
    code: str = "validation_error"


def assert_error_format(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["code"] == code
    return body


@pytest.fixture
async def send(client, make_user, auth_headers) -> Send:
    admin = await make_user(roles=["admin"])
    token = await auth_headers(admin)

    async def call(case: Case) -> httpx.Response:
        response: httpx.Response = await client.request(
            case.method,
            case.url,
            json=case.json,
            content=case.content,
            data=case.data,
            headers={**token, **case.headers},
        )
        return response

    return call


JSON = {"Content-Type": "application/json"}
NUL = "nul\x00here"
REGISTER = {"email": "new@example.com", "password": PASSWORD}


MALFORMED_BODIES = {
    "unterminated JSON": Case("POST", "/articles", content=b'{"title": "x', headers=JSON),
    "JSON that is not an object": Case("POST", "/articles", content=b"[1, 2]", headers=JSON),
    "empty JSON body": Case("POST", "/articles", content=b"", headers=JSON),
    "trailing garbage": Case("POST", "/articles", content=b'{"title": "x"} x', headers=JSON),
    "deeply nested arrays": Case(
        "POST",
        "/articles",
        content=b"[" * 30_000 + b"]" * 30_000,
        headers=JSON,
        status=400,
        code="bad_request",
    ),
    "deeply nested objects": Case(
        "POST",
        "/articles",
        content=b'{"a": ' * 8_000 + b"1" + b"}" * 8_000,
        headers=JSON,
        status=400,
        code="bad_request",
    ),
    "invalid UTF-8 in JSON": Case(
        "POST",
        "/articles",
        content=b'{"title": "\xff\xfe"}',
        headers=JSON,
        status=400,
        code="bad_request",
    ),
    "a lone surrogate in JSON": Case(
        "POST", "/articles", content=b'{"title": "\\ud800"}', headers=JSON
    ),
    "a field of the wrong type": Case("POST", "/articles", json={"title": ["x"]}),
    "an unknown field": Case("PATCH", "/users/me", json={"full_name": "A", "is_admin": True}),
}

WRONG_CONTENT_TYPES = {
    "JSON sent as text/plain": Case(
        "POST", "/articles", content=b'{"title": "x"}', headers={"Content-Type": "text/plain"}
    ),
    "JSON sent as a form": Case(
        "POST",
        "/auth/register",
        content=b"email=new%40example.com",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "a form sent as JSON to the login": Case(
        "POST", "/auth/login", json={"username": "a@example.com", "password": PASSWORD}
    ),
    "XML to the refresh": Case(
        "POST",
        "/auth/refresh",
        content=b"<token/>",
        headers={"Content-Type": "application/xml"},
        status=415,
        code="unsupported_media_type",
    ),
    "multipart to the register": Case(
        "POST",
        "/auth/register",
        content=b"--b\r\nContent-Disposition: form-data; name=email\r\n\r\nx\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    ),
}

HUGE_BODIES = {
    "a declared length over the limit": Case(
        "POST",
        "/articles",
        content=b" " * 70_000,
        headers=JSON,
        status=413,
        code="payload_too_large",
    ),
    "a JSON list over the limit": Case(
        "POST",
        "/roles",
        json={"name": "big", "permissions": ["read_article"] * 10_000},
        status=413,
        code="payload_too_large",
    ),
    "a list over its maximum length": Case(
        "POST", "/roles", json={"name": "many", "permissions": ["read_article"] * 101}
    ),
}

NUL_BYTES = {
    "in a registration's name": Case("POST", "/auth/register", json={**REGISTER, "full_name": NUL}),
    "in one's own name": Case("PATCH", "/users/me", json={"full_name": NUL}),
    "in an article's title": Case("POST", "/articles", json={"title": NUL}),
    "in an article's body": Case("POST", "/articles", json={"title": "T", "body": NUL}),
    "in a role's description": Case(
        "POST", "/roles", json={"name": "auditor", "description": NUL, "permissions": []}
    ),
    "in a permission name": Case("POST", "/roles", json={"name": "auditor", "permissions": [NUL]}),
    "in a role name given to a user": Case("PATCH", "/users/1", json={"roles": [NUL]}),
    "in the email filter": Case("GET", "/users?email=a%00b"),
    "in the role filter": Case("GET", "/users?role=a%00b"),
    "in a role name in the path": Case("DELETE", "/roles/a%00b"),
    "in an email": Case("POST", "/auth/register", json={**REGISTER, "email": "a\x00b@example.com"}),
}

OVERLONG = {
    "email": Case("POST", "/auth/register", json={**REGISTER, "email": "a" * 400 + "@example.com"}),
    "email's domain": Case(
        "POST", "/auth/register", json={**REGISTER, "email": "a@" + "b" * 300 + ".com"}
    ),
    "login username": Case("POST", "/auth/login", data={"username": "a" * 321, "password": "x"}),
    "name": Case("PATCH", "/users/me", json={"full_name": "n" * 201}),
    "password": Case("POST", "/auth/register", json={**REGISTER, "password": "p" * 129}),
    "article title": Case("POST", "/articles", json={"title": "t" * 201}),
    "role name": Case("POST", "/roles", json={"name": "r" * 65, "permissions": []}),
    "refresh token": Case("POST", "/auth/refresh", json={"refresh_token": "t" * 513}),
    "email filter": Case("GET", "/users?email=" + "a" * 321),
}

IDS_OUT_OF_RANGE = {
    "zero": Case("GET", "/users/0"),
    "negative": Case("GET", "/articles/-1"),
    "one past 32 bits": Case("GET", "/users/2147483648"),
    "huge": Case("DELETE", "/articles/99999999999999999999999999"),
    "not a number": Case("PATCH", "/articles/1e3", json={"title": "x"}),
    "not a UUID": Case("DELETE", "/auth/sessions/42"),
    "in a filter": Case("GET", "/audit-events?user_id=4294967296"),
}

PAGING = {
    "negative limit": Case("GET", "/articles?limit=-1"),
    "zero limit": Case("GET", "/articles?limit=0"),
    "limit over 100": Case("GET", "/users?limit=101"),
    "huge limit": Case("GET", "/users?limit=" + "9" * 40),
    "negative offset": Case("GET", "/articles?offset=-1"),
    "huge offset": Case("GET", "/audit-events?offset=" + "9" * 40),
    "fractional limit": Case("GET", "/articles?limit=2.5"),
    "empty limit": Case("GET", "/articles?limit="),
}

DUPLICATE_QUERY_PARAMETERS = {
    "limit twice": Case("GET", "/articles?limit=1&limit=100"),
    "an email filter twice": Case("GET", "/users?email=a&email=b"),
    "once empty, once not": Case("GET", "/audit-events?event=&event=logout"),
}

BAD_URLS = {
    "invalid UTF-8 in the query": Case(
        "GET", "/users?email=%FF%FE", status=400, code="bad_request"
    ),
    "an overlong UTF-8 encoding": Case("GET", "/users?role=%C0%AF", status=400, code="bad_request"),
    "invalid UTF-8 in the path": Case("DELETE", "/roles/%ED%A0%80", status=400, code="bad_request"),
}

GROUPS = {
    "malformed body": MALFORMED_BODIES,
    "wrong content type": WRONG_CONTENT_TYPES,
    "huge body": HUGE_BODIES,
    "NUL byte": NUL_BYTES,
    "overlong": OVERLONG,
    "id out of range": IDS_OUT_OF_RANGE,
    "paging": PAGING,
    "duplicate query parameter": DUPLICATE_QUERY_PARAMETERS,
    "bad URL": BAD_URLS,
}
CASES = [
    pytest.param(case, id=f"{group}: {name}")
    for group, cases in GROUPS.items()
    for name, case in cases.items()
]


@pytest.mark.parametrize("case", CASES)
async def test_hostile_input_gets_a_4xx_in_the_error_format(send, case: Case):
    response = await send(case)

    assert_error_format(response, case.status, case.code)


async def test_a_duplicated_query_parameter_is_named_in_the_error(send):
    response = await send(Case("GET", "/articles?offset=0&limit=1&limit=2"))

    body = assert_error_format(response, 422, "validation_error")
    assert body["errors"] == [
        {
            "loc": ["query", "limit"],
            "msg": "The query parameter 'limit' is given more than once.",
            "type": "duplicate_parameter",
        }
    ]


async def test_a_nul_byte_is_reported_on_its_field(send):
    response = await send(Case("PATCH", "/users/me", json={"full_name": NUL}))

    body = assert_error_format(response, 422, "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["body", "full_name"]]


async def test_a_nul_byte_in_the_login_form_is_never_a_500(send):
    # The form's schema refuses it, on every database, before any query.
    response = await send(Case("POST", "/auth/login", data={"username": NUL, "password": "x"}))

    body = assert_error_format(response, 422, "validation_error")
    assert [error["loc"] for error in body["errors"]] == [["body", "username"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Both ends lie outside what UTC can show: they compare as the earliest and latest
        # time, so every event is after the first and before the second.
        ("since=0001-01-01T00:00:00%2B14:00", 1),
        ("until=9999-12-31T23:59:59-14:00", 1),
        ("since=9999-12-31T23:59:59-14:00", 0),
        ("until=0001-01-01T00:00:00%2B14:00", 0),
    ],
)
async def test_times_at_the_ends_of_the_calendar_filter_instead_of_failing(
    client, make_user, auth_headers, query, expected
):
    admin = await make_user(roles=["admin"], email="edge@example.com")
    await client.post("/auth/login", data={"username": "edge@example.com", "password": PASSWORD})

    response = await client.get(
        f"/audit-events?event=login_succeeded&{query}", headers=await auth_headers(admin)
    )

    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == expected
