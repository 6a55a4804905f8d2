"""One log record is one line: a value sent by a client (an email with CR, LF or other control
characters) cannot end a line and forge another, in the JSON format or the console one."""

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from app.audit_log.models import AuditEvent
from app.core.logging import configure_logging

FORGED = '{"level": "info", "logger": "app.auth", "message": "admin logged in"}'
# No NUL: PostgreSQL cannot store it, so a login with one is refused (422) before any audit.
EVIL_EMAIL = f"mallory@example.com\r\n{FORGED}\n\x1b[2J\u2028\x7fend"

ReadLines = Callable[[], list[str]]


class Records(logging.Handler):
    """Keeps the records it is given, to count them against the lines written."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Records:
    return Records()


@pytest.fixture
def log_lines(capsys, records) -> Iterator[Callable[[str], ReadLines]]:
    """`read = log_lines("json")`: log through the app's configuration in that format, to the
    captured stderr (and to `records`); `read()` gives the lines written since. The old
    handlers come back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def configure(log_format: str) -> ReadLines:
        configure_logging("INFO", log_format)
        root.addHandler(records)
        capsys.readouterr()
        return lambda: capsys.readouterr().err.split("\n")[:-1]

    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_a_login_with_control_characters_in_the_email_writes_only_json_lines(
    client, session, log_lines, records
):
    read = log_lines("json")

    response = await client.post(
        "/auth/login", data={"username": EVIL_EMAIL, "password": "whatever it is"}
    )

    assert response.status_code == 401
    lines = read()
    assert len(lines) == len(records.records) > 0
    for line in lines:
        assert isinstance(json.loads(line), dict), line
    assert FORGED not in lines
    # What is not shaped like an email is not kept at all (it could be a mistyped password).
    details = await session.scalar(select(AuditEvent.details))
    assert details["reason"] == "unknown_email"
    assert details["email"] is None


def test_a_json_record_carrying_control_characters_stays_one_line(log_lines):
    read = log_lines("json")

    logging.getLogger("app.auth").warning(
        "login failed for %s", EVIL_EMAIL, extra={"fields": {"email": EVIL_EMAIL}}
    )

    (line,) = read()
    entry = json.loads(line)
    assert entry["message"] == f"login failed for {EVIL_EMAIL}"
    assert entry["email"] == EVIL_EMAIL


def test_a_console_record_carrying_control_characters_stays_one_line(log_lines):
    read = log_lines("console")

    logging.getLogger("app.auth").warning(
        "login failed for %s", EVIL_EMAIL, extra={"fields": {"email": EVIL_EMAIL}}
    )

    (line,) = read()
    for character in ("\r", "\x1b", "\u2028", "\x7f"):
        assert character not in line
    assert "mallory@example.com" in line
