import pytest

from app.core.config import SettingsError, load_settings
from app.main import create_app


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    return monkeypatch


def test_a_missing_jwt_secret_refuses_to_start_and_says_how_to_make_one(environment):
    with pytest.raises(SettingsError) as error:
        load_settings(env_file=None)
    assert "JWT_SECRET is missing" in str(error.value)
    assert "secrets.token_urlsafe" in str(error.value)


def test_a_jwt_secret_under_32_bytes_refuses_to_start(environment):
    environment.setenv("JWT_SECRET", "x" * 31)
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        load_settings(env_file=None)


def test_a_32_byte_jwt_secret_is_accepted(environment):
    environment.setenv("JWT_SECRET", "x" * 32)
    assert load_settings(env_file=None).jwt_secret.get_secret_value() == "x" * 32


def test_the_app_factory_refuses_to_build_without_a_secret(environment, monkeypatch):
    monkeypatch.setattr("app.main.load_settings", lambda: load_settings(env_file=None))
    with pytest.raises(SettingsError):
        create_app()


def test_the_secret_is_not_shown_in_the_settings_repr(environment):
    environment.setenv("JWT_SECRET", "s3cret-" * 6)
    assert "s3cret-" not in repr(load_settings(env_file=None))


def test_defaults_match_the_documented_ones(environment):
    environment.setenv("JWT_SECRET", "x" * 40)
    settings = load_settings(env_file=None)
    assert settings.access_token_minutes == 15
    assert settings.refresh_token_days == 14
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (3, 65536)
    assert settings.jwt_algorithm == "RS256"
    assert settings.key_rotation_days == 90


def test_cors_origins_are_read_as_a_comma_separated_list(environment):
    environment.setenv("JWT_SECRET", "x" * 40)
    environment.setenv("CORS_ORIGINS", "http://a.example, https://b.example")
    assert load_settings(env_file=None).cors_origins == ["http://a.example", "https://b.example"]


def test_a_wildcard_cors_origin_is_refused(environment):
    environment.setenv("JWT_SECRET", "x" * 40)
    environment.setenv("CORS_ORIGINS", "*")
    with pytest.raises(SettingsError, match="CORS_ORIGINS"):
        load_settings(env_file=None)


def test_public_url_is_the_token_issuer(environment):
    environment.setenv("JWT_SECRET", "x" * 40)
    environment.setenv("PUBLIC_URL", "https://auth.example.com/")

    assert load_settings(env_file=None).token_issuer == "https://auth.example.com"


def test_a_jwt_issuer_other_than_public_url_does_not_start(environment):
    environment.setenv("JWT_SECRET", "x" * 40)
    environment.setenv("PUBLIC_URL", "https://auth.example.com")
    environment.setenv("JWT_ISSUER", "py-auth")

    with pytest.raises(SettingsError, match="JWT_ISSUER and PUBLIC_URL differ"):
        load_settings(env_file=None)


def test_two_algorithms_of_one_family_do_not_start(environment):
    environment.setenv("JWT_SECRET", "x" * 40)
    environment.setenv("JWT_ALGORITHM", "RS256,ES256")

    with pytest.raises(SettingsError, match="one algorithm only"):
        load_settings(env_file=None)
