"""MFA_REQUIRED_PERMISSIONS: an account holding any of them can do nothing but enroll until it
has a second factor; a name that is no permission stops the app from starting."""

import pyotp
import pytest

from app.core.config import SettingsError
from tests.auth.conftest import start_enrollment
from tests.helpers import assert_error, bearer, client_of, fresh_app, login, make_settings


@pytest.fixture
async def strict_client(database_url, clean_database):
    """A client of an app that requires MFA of whoever may update users."""
    async with (
        fresh_app(database_url, mfa_required_permissions="update_user") as app,
        client_of(app) as client,
    ):
        yield client


async def test_a_holder_of_a_required_permission_must_enroll_first(strict_client, make_user):
    admin = await make_user(roles=["admin"])
    access_token = (await login(strict_client, admin.email))["access_token"]

    response = await strict_client.get("/users", headers=bearer(access_token))

    assert_error(response, 403, "mfa_enrollment_required")


async def test_enrolling_works_for_a_holder_who_must_enroll(strict_client, make_user, clock):
    admin = await make_user(roles=["admin"])
    access_token = (await login(strict_client, admin.email))["access_token"]

    status = await strict_client.get("/users/me/mfa", headers=bearer(access_token))
    secret = (await start_enrollment(strict_client, access_token))["secret"]
    confirmed = await strict_client.post(
        "/users/me/mfa/totp/confirm",
        json={"code": pyotp.TOTP(secret).at(clock.now)},
        headers=bearer(access_token),
    )

    assert status.status_code == 200
    assert confirmed.status_code == 200
    assert (await strict_client.get("/users", headers=bearer(access_token))).status_code == 200


async def test_an_account_without_a_required_permission_needs_no_second_factor(
    strict_client, make_user
):
    viewer = await make_user(roles=["viewer"])
    access_token = (await login(strict_client, viewer.email))["access_token"]

    response = await strict_client.get("/users/me", headers=bearer(access_token))

    assert response.status_code == 200


async def test_the_app_refuses_to_start_on_an_unknown_required_permission(database_url):
    async with fresh_app(database_url, mfa_required_permissions="updat_user") as broken:
        with pytest.raises(SettingsError, match="MFA_REQUIRED_PERMISSIONS"):
            async with broken.router.lifespan_context(broken):
                pass


def test_required_permissions_are_read_from_a_comma_separated_list():
    settings = make_settings("sqlite://", mfa_required_permissions="update_user, delete_user,")

    assert settings.mfa_required_permissions == {"update_user", "delete_user"}
