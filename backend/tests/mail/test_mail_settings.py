"""MAIL_URL, MAIL_FROM and PUBLIC_URL: what the app starts with, and what it refuses to start
with, saying why (and never repeating a password)."""

import pytest

from app.core.config import BACKEND_DIR, SettingsError, load_settings

MAIL_VARIABLES = ("MAIL_URL", "MAIL_FROM", "PUBLIC_URL")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    for name in MAIL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_by_default_mail_is_written_to_backend_var_mail(environment):
    settings = load_settings(env_file=None)
    assert settings.mail_url == f"file://{BACKEND_DIR}/var/mail"
    assert settings.mail_from == "py-auth <no-reply@localhost>"
    assert settings.public_url is None


@pytest.mark.parametrize(
    "url",
    [
        "smtp://mail.example.com:587",
        "smtp://user:p%40ss%2Fword@mail.example.com:587",
        "smtp://127.0.0.1:25?tls=off",
        "smtp://[::1]:25/",
        "smtps://mail.example.com:465",
        "smtps://user:secret@mail.example.com:465",
        "file:///var/spool/py-auth",
    ],
)
def test_supported_mail_urls_are_accepted(environment, url):
    environment.setenv("MAIL_URL", url)
    assert load_settings(env_file=None).mail_url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "not smtp://"),
        ("mail.example.com:25", "not smtp://"),
        ("http://mail.example.com:25", "not smtp://"),
        ("smtp://mail.example.com", "needs a host and a port"),
        ("smtp://mail.example.com:0", "needs a host and a port"),
        ("smtp://mail.example.com:port", "needs a host and a port"),
        ("smtp://mail.example.com:99999", "needs a host and a port"),
        ("smtp://:25", "needs a host and a port"),
        ("smtp://mail.example.com:25/inbox", "needs a host and a port"),
        ("smtp://user@mail.example.com:25", "user:password@"),
        ("smtp://mail.example.com:25?tls=no", "only option is ?tls=off"),
        ("smtp://mail.example.com:25?starttls=off", "only option is ?tls=off"),
        ("smtps://mail.example.com:465?tls=off", "only option is ?tls=off"),
        ("smtp://user:hunter22@mail.example.com:25?tls=off", "unencrypted"),
        ("file://var/mail", "file:///absolute/path"),
        ("file:var/mail", "file:///absolute/path"),
        ("file:///var/mail?x=1", "file:///absolute/path"),
    ],
)
def test_an_unsupported_mail_url_refuses_to_start_and_says_why(environment, url, reason):
    environment.setenv("MAIL_URL", url)
    with pytest.raises(SettingsError, match="MAIL_URL") as error:
        load_settings(env_file=None)
    assert reason in str(error.value)


def test_the_mail_password_is_never_shown(environment):
    environment.setenv("MAIL_URL", "smtp://user:hunter22@mail.example.com:25?tls=off")
    with pytest.raises(SettingsError) as error:
        load_settings(env_file=None)
    assert "hunter22" not in str(error.value)
    environment.setenv("MAIL_URL", "smtp://user:hunter22@mail.example.com:587")
    assert "hunter22" not in repr(load_settings(env_file=None))


@pytest.mark.parametrize(
    "sender",
    ["", "no-reply", "a@example.com, b@example.com", "py-auth <a@example.com>\r\nBcc: x@evil.test"],
)
def test_mail_from_must_be_one_address_on_one_line(environment, sender):
    environment.setenv("MAIL_FROM", sender)
    with pytest.raises(SettingsError, match="MAIL_FROM"):
        load_settings(env_file=None)


def test_public_url_is_kept_without_its_trailing_slash(environment):
    environment.setenv("PUBLIC_URL", "https://auth.example.com/")
    assert load_settings(env_file=None).public_url == "https://auth.example.com"


def test_an_empty_public_url_means_the_served_address(environment):
    environment.setenv("PUBLIC_URL", "")
    assert load_settings(env_file=None).public_url is None


@pytest.mark.parametrize(
    "url", ["auth.example.com", "ftp://auth.example.com", "https://auth.example.com/?next=1"]
)
def test_public_url_must_be_an_http_address(environment, url):
    environment.setenv("PUBLIC_URL", url)
    with pytest.raises(SettingsError, match="PUBLIC_URL"):
        load_settings(env_file=None)
