"""Mailer.deliver: a few attempts for what may pass, then a WARNING line that names the message
and the recipient's domain only, and mail_deliveries_total by outcome; never an exception."""

import logging

import httpx
import pytest
from fastapi import FastAPI

from app.core.metrics import REGISTRY
from app.mail.compose import compose
from app.mail.dependencies import MailerDep
from app.mail.mailer import Mailer
from app.mail.transport import FileTransport
from tests.helpers import make_settings
from tests.mail.conftest import Inbox
from tests.servers import free_port

LINK = "https://auth.example.com/ui/#/reset-password?token=s3cr3t-t0k3n"
RECIPIENT = "ann.secret-name@example.org"
OUTCOMES = ("sent", "retried", "failed")


def mailer_for(mail_url: str) -> Mailer:
    # A tiny backoff: the pauses are not what these tests are about.
    settings = make_settings("sqlite+aiosqlite://", mail_url=mail_url)
    return Mailer(settings, backoff=(0.001, 0.001))


def reset_message():
    return compose(
        "reset_password",
        to=RECIPIENT,
        sender="py-auth <no-reply@example.com>",
        link=LINK,
        minutes="30",
    )


class Deliveries:
    """mail_deliveries_total by outcome, counted from when it was made (the counter belongs to
    the process)."""

    def __init__(self) -> None:
        self.before = self._counts()

    @staticmethod
    def _counts() -> dict[str, float]:
        return {
            outcome: REGISTRY.get_sample_value("mail_deliveries_total", {"outcome": outcome}) or 0.0
            for outcome in OUTCOMES
        }

    def since(self) -> dict[str, float]:
        now = self._counts()
        return {outcome: now[outcome] - self.before[outcome] for outcome in OUTCOMES}


async def test_a_delivered_message_is_counted_sent(start_smtp):
    server = start_smtp()
    deliveries = Deliveries()

    await mailer_for(server.url()).deliver(reset_message())

    assert len(server.inbox.received) == 1
    assert deliveries.since() == {"sent": 1, "retried": 0, "failed": 0}


async def test_a_refusal_for_now_is_retried(start_smtp):
    server = start_smtp(Inbox(answers=["451 4.3.0 Try again later"]))
    deliveries = Deliveries()

    await mailer_for(server.url()).deliver(reset_message())

    assert server.inbox.attempts == 2
    assert len(server.inbox.received) == 1
    assert deliveries.since() == {"sent": 1, "retried": 1, "failed": 0}


async def test_a_server_that_never_accepts_fails_after_three_attempts(start_smtp, caplog):
    server = start_smtp(Inbox(refuse_all="451 4.3.0 Try again later"))
    deliveries = Deliveries()

    with caplog.at_level(logging.DEBUG, logger="app.mail"):
        await mailer_for(server.url()).deliver(reset_message())  # returns: no exception

    assert server.inbox.attempts == 3
    assert deliveries.since() == {"sent": 0, "retried": 2, "failed": 1}
    [failure] = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert failure.fields["template"] == "reset_password"
    assert failure.fields["recipient_domain"] == "example.org"
    assert failure.fields["smtp_code"] == 451


async def test_the_log_holds_neither_the_link_nor_the_body_nor_the_address(start_smtp, caplog):
    server = start_smtp(Inbox(refuse_all="451 4.3.0 Try again later"))

    with caplog.at_level(logging.DEBUG, logger="app.mail"):
        await mailer_for(server.url()).deliver(reset_message())

    # The app's records (the test server's own log, mail.log, quotes the recipient).
    records = [record for record in caplog.records if record.name.startswith("app")]
    assert len(records) == 3
    for record in records:
        logged = f"{record.getMessage()} {vars(record)}"
        for secret in ("s3cr3t-t0k3n", "reset-password", "Someone asked", RECIPIENT, "ann."):
            assert secret not in logged


async def test_a_permanent_refusal_is_not_retried(start_smtp):
    server = start_smtp(Inbox(refuse_all="550 5.1.1 No such mailbox"))
    deliveries = Deliveries()

    await mailer_for(server.url()).deliver(reset_message())

    assert server.inbox.attempts == 1
    assert deliveries.since() == {"sent": 0, "retried": 0, "failed": 1}


async def test_an_unreachable_server_is_retried_then_counted_failed():
    deliveries = Deliveries()

    await mailer_for(f"smtp://127.0.0.1:{free_port()}").deliver(reset_message())

    assert deliveries.since() == {"sent": 0, "retried": 2, "failed": 1}


async def test_the_default_mailer_writes_files(tmp_path):
    mailer = mailer_for((tmp_path / "mail").as_uri())
    assert isinstance(mailer.transport, FileTransport)

    await mailer.deliver(reset_message())
    await mailer.close()

    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_the_sender_is_mail_from():
    settings = make_settings("sqlite+aiosqlite://", mail_from="Acme <no-reply@acme.test>")

    assert Mailer(settings).sender == "Acme <no-reply@acme.test>"


async def test_routes_get_the_apps_mailer(tmp_path):
    app = FastAPI()
    app.state.mailer = mailer_for((tmp_path / "mail").as_uri())

    @app.get("/sender")
    async def sender(mailer: MailerDep) -> dict[str, bool]:
        return {"is_the_apps": mailer is app.state.mailer}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get("/sender")
    assert response.json() == {"is_the_apps": True}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_each_outcome_is_exported_from_the_start(outcome):
    assert REGISTRY.get_sample_value("mail_deliveries_total", {"outcome": outcome}) is not None


async def test_a_rehearsal_sends_nothing_and_counts_nothing(start_smtp):
    server = start_smtp()
    mailer = mailer_for(server.url(query="?tls=off"))
    deliveries = Deliveries()

    await mailer.rehearse(reset_message())

    assert server.inbox.attempts == 0
    assert deliveries.since() == {"sent": 0, "retried": 0, "failed": 0}
