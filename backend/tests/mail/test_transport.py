"""The transports MAIL_URL names, against real SMTP servers (tests/mail/conftest.py) and a real
folder: what arrives, over TLS when it can, with the credentials of the URL."""

import ssl
import stat
from email.message import EmailMessage

import aiosmtplib
import pytest

from app.mail.compose import TEMPLATE_HEADER, compose
from app.mail.transport import FileTransport, SmtpTransport, transport_for
from tests.mail.conftest import read_eml
from tests.servers import free_port

LINK = "https://auth.example.com/ui/#/verify-email?token=t0k3n"


def message(to: str = "ann@example.com") -> EmailMessage:
    return compose("verify_email", to=to, sender="py-auth <no-reply@example.com>", link=LINK)


async def test_smtp_delivers_the_message_as_composed(start_smtp):
    server = start_smtp()

    await transport_for(server.url()).send(message())

    [received] = server.inbox.received
    assert received.envelope_from == "no-reply@example.com"
    assert received.envelope_to == ["ann@example.com"]
    assert received.message["From"] == "py-auth <no-reply@example.com>"
    assert received.message["To"] == "ann@example.com"
    assert received.message["Subject"] == "Confirm your email address for py-auth"
    assert received.message[TEMPLATE_HEADER] == "verify_email"
    assert LINK in received.message.get_body(preferencelist=("plain",)).get_content()


async def test_smtp_upgrades_with_starttls_when_the_server_offers_it(start_smtp, certificate):
    # The server refuses mail before STARTTLS: a message that arrives came over TLS.
    server = start_smtp(starttls=True, require_starttls=True)

    await transport_for(server.url(), tls_context=certificate.client).send(message())

    [received] = server.inbox.received
    assert received.over_tls


async def test_smtp_sends_in_the_clear_when_the_server_offers_no_starttls(start_smtp):
    server = start_smtp()

    await transport_for(server.url()).send(message())

    [received] = server.inbox.received
    assert not received.over_tls


async def test_tls_off_does_not_ask_for_starttls_even_when_offered(start_smtp, certificate):
    server = start_smtp(starttls=True)

    await transport_for(server.url(query="?tls=off"), tls_context=certificate.client).send(
        message()
    )

    [received] = server.inbox.received
    assert not received.over_tls


async def test_the_server_certificate_is_verified(start_smtp):
    # Trusting the system's authorities only, the self-signed certificate is refused.
    server = start_smtp(starttls=True)

    with pytest.raises((ssl.SSLError, aiosmtplib.SMTPException)):
        await transport_for(server.url()).send(message())
    assert server.inbox.received == []


async def test_the_credentials_of_the_url_are_percent_decoded(start_smtp, certificate):
    server = start_smtp(starttls=True, auth=True)
    url = server.url(credentials="ann%40example.com:p%40ss%3Aw%2Frd@")

    await transport_for(url, tls_context=certificate.client).send(message())

    assert server.inbox.logins == [("ann@example.com", "p@ss:w/rd")]
    assert len(server.inbox.received) == 1


async def test_credentials_are_never_sent_without_tls(start_smtp):
    # A server (or whoever strips STARTTLS from its answer) that would take them in the clear.
    server = start_smtp(auth=True, auth_require_tls=False)

    with pytest.raises(aiosmtplib.SMTPException, match="STARTTLS"):
        await transport_for(server.url(credentials="ann:secret@")).send(message())
    assert server.inbox.logins == []
    assert server.inbox.received == []


async def test_smtps_speaks_tls_from_the_first_byte(start_smtp, certificate):
    server = start_smtp(implicit_tls=True, auth=True, auth_require_tls=False)

    transport = transport_for(
        server.url("smtps", credentials="ann:secret@"), tls_context=certificate.client
    )
    assert isinstance(transport, SmtpTransport)
    assert transport.implicit_tls
    await transport.send(message())

    [received] = server.inbox.received
    assert received.over_tls
    assert server.inbox.logins == [("ann", "secret")]


async def test_an_unreachable_server_fails_the_send():
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await transport_for(f"smtp://127.0.0.1:{free_port()}", timeout=2).send(message())


async def test_the_file_transport_writes_one_eml_file_per_message(tmp_path):
    folder = tmp_path / "var" / "mail"
    transport = transport_for(folder.as_uri())
    assert isinstance(transport, FileTransport)

    await transport.send(message("ann@example.com"))
    await transport.send(message("bob@example.com"))

    files = sorted(folder.iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]  # and no partial file left
    recipients = {read_eml(path)["To"] for path in files}
    assert recipients == {"ann@example.com", "bob@example.com"}
    parsed = read_eml(files[0])
    assert parsed[TEMPLATE_HEADER] == "verify_email"
    assert LINK in parsed.get_body(preferencelist=("plain",)).get_content()


async def test_the_mail_folder_and_files_are_private(tmp_path):
    # The messages hold links that sign in.
    folder = tmp_path / "mail"

    await transport_for(folder.as_uri()).send(message())

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [path] = folder.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_the_file_transport_reads_a_percent_encoded_folder(tmp_path):
    folder = tmp_path / "my mail"

    await transport_for(folder.as_uri()).send(message())

    assert len(list(folder.glob("*.eml"))) == 1


async def test_the_files_sort_in_the_order_written_while_the_apps_clock_stands_still(
    tmp_path, clock
):
    transport = transport_for(tmp_path.as_uri())
    recipients = [f"user{number}@example.com" for number in range(5)]

    for recipient in recipients:
        await transport.send(message(recipient))

    assert [read_eml(path)["To"] for path in sorted(tmp_path.glob("*.eml"))] == recipients
