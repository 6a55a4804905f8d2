"""One normalization of email addresses everywhere: NFKC, case-folded (security review,
item 13)."""

import pytest

from app.core.types import normalize_email
from tests.helpers import PASSWORD, login


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Alice@Example.COM ", "alice@example.com"),
        ("ADMIN@ＥＸＡＭＰＬＥ.COM", "admin@example.com"),  # full-width letters  # noqa: RUF001
        ("Straße@example.com", "strasse@example.com"),
    ],
)
def test_normalize_email_folds_width_and_case(typed, stored):
    assert normalize_email(typed) == stored


async def test_an_address_with_full_width_letters_registers_and_then_logs_in(client):
    typed = "ADMIN@ＥＸＡＭＰＬＥ.COM"  # noqa: RUF001

    registered = await client.post("/auth/register", json={"email": typed, "password": PASSWORD})

    assert registered.status_code == 201, registered.text
    assert registered.json()["email"] == "admin@example.com"
    await login(client, typed)
    await login(client, "admin@example.com")


async def test_an_address_that_folds_onto_an_existing_account_is_409(client, make_user):
    await make_user("strasse@example.com")

    response = await client.post(
        "/auth/register", json={"email": "STRAßE@example.com", "password": PASSWORD}
    )

    assert response.status_code == 409, response.text


async def test_login_folds_the_typed_address_as_registration_did(client):
    await client.post("/auth/register", json={"email": "Straße@example.com", "password": PASSWORD})

    await login(client, "STRASSE@EXAMPLE.COM")
