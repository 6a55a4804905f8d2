"""POST /auth/register: who may sign up, with what, and what gets stored."""

import asyncio
from datetime import datetime

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func, select

from app.auth.models import User
from tests.helpers import PASSWORD, attempt_login


def _body(email: str = "alice@example.com", password: str = PASSWORD, **extra: object) -> dict:
    return {"email": email, "password": password, **extra}


async def test_register_returns_201_with_the_user_shape(client):
    response = await client.post("/auth/register", json=_body(full_name="Alice Liddell"))

    assert response.status_code == 201, response.text
    user = response.json()
    assert set(user) == {"id", "email", "full_name", "is_active", "created_at", "roles"}
    assert isinstance(user["id"], int)
    assert user["email"] == "alice@example.com"
    assert user["full_name"] == "Alice Liddell"
    assert user["is_active"] is True
    assert datetime.fromisoformat(user["created_at"]).tzinfo is not None
    assert user["roles"] == ["viewer"]


async def test_register_trims_and_lowercases_the_email(client, session):
    response = await client.post("/auth/register", json=_body(email="  Alice.Smith@Example.COM "))

    assert response.status_code == 201, response.text
    assert response.json()["email"] == "alice.smith@example.com"
    stored = await session.scalar(select(User.email).where(User.id == response.json()["id"]))
    assert stored == "alice.smith@example.com"


@pytest.mark.parametrize("email", ["not-an-email", "alice@", "@example.com", "alice example.com"])
async def test_register_refuses_an_invalid_email(client, email):
    response = await client.post("/auth/register", json=_body(email=email))

    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert body["code"] == "validation_error"
    assert isinstance(body["detail"], str)
    assert [error["loc"] for error in body["errors"]] == [["body", "email"]]


def _assert_password_refused(response) -> None:
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert [error["loc"] for error in body["errors"]] == [["body", "password"]]


async def test_register_refuses_a_password_of_7_characters(client):
    response = await client.post("/auth/register", json=_body(password="x" * 7))

    _assert_password_refused(response)


async def test_register_refuses_a_password_of_129_characters(client):
    response = await client.post("/auth/register", json=_body(password="x" * 129))

    _assert_password_refused(response)


async def test_register_accepts_a_password_of_128_characters(client):
    password = "x" * 128
    response = await client.post("/auth/register", json=_body(password=password))

    assert response.status_code == 201, response.text
    assert (await attempt_login(client, "alice@example.com", password)).status_code == 200


@pytest.mark.parametrize("password", ["alice@example.com", "Alice@Example.com"])
async def test_register_refuses_a_password_equal_to_the_email(client, password):
    response = await client.post(
        "/auth/register", json=_body(email="alice@example.com", password=password)
    )

    _assert_password_refused(response)


async def test_register_refuses_a_duplicate_email_with_409(client, make_user):
    await make_user("alice@example.com")

    response = await client.post("/auth/register", json=_body(email="alice@example.com"))

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


async def test_register_refuses_a_duplicate_email_in_another_case(client, make_user):
    await make_user("alice@example.com")

    response = await client.post("/auth/register", json=_body(email="ALICE@Example.com"))

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


@pytest.mark.parametrize(
    "extra",
    [{"roles": ["admin"]}, {"is_active": False}, {"id": 1}, {"hashed_password": "x"}],
    ids=["roles", "is_active", "id", "hashed_password"],
)
async def test_register_refuses_extra_fields(client, session, extra):
    response = await client.post("/auth/register", json=_body(**extra))

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert await session.scalar(select(func.count()).select_from(User)) == 0


async def test_register_stores_an_argon2id_hash_not_the_password(client, session):
    response = await client.post("/auth/register", json=_body())
    assert response.status_code == 201, response.text

    stored = await session.scalar(
        select(User.hashed_password).where(User.id == response.json()["id"])
    )

    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHash((Argon2Hasher(),)).verify(PASSWORD, stored)


async def test_concurrent_registrations_of_one_email_create_one_user(client, session):
    responses = await asyncio.gather(
        *(client.post("/auth/register", json=_body()) for _ in range(5))
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409], [r.text for r in responses]
    assert all(
        response.json()["code"] == "conflict"
        for response in responses
        if response.status_code == 409
    )
    assert await session.scalar(select(func.count()).select_from(User)) == 1
