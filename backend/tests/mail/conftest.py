"""Real SMTP servers for the mail tests: aiosmtpd in a thread of this process, on 127.0.0.1 and
a free port, with a self-signed certificate for STARTTLS and implicit TLS; each records what
it received and how (over TLS or not, with which credentials)."""

import ipaddress
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.servers import free_port


@dataclass(frozen=True)
class Received:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage
    over_tls: bool


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it accepts. `answers`: the replies to DATA, one per
    message, before it accepts (e.g. ["451 4.3.0 Try again later"]); `refuse_all`: a reply
    given to every DATA for good."""

    answers: list[str] = field(default_factory=list)
    refuse_all: str | None = None
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    attempts: int = 0

    async def handle_DATA(  # noqa: N802 (the name aiosmtpd calls)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.attempts += 1
        if self.refuse_all is not None:
            return self.refuse_all
        if self.answers:
            return self.answers.pop(0)
        assert isinstance(envelope.content, bytes)
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        assert envelope.mail_from is not None
        transport = server.transport
        assert transport is not None
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message,
                over_tls=transport.get_extra_info("cipher") is not None,
            )
        )
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)


@dataclass(frozen=True)
class Certificate:
    server: ssl.SSLContext
    # Trusts this certificate only, as a client that was given its authority would.
    client: ssl.SSLContext


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "py-auth test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return Certificate(server, ssl.create_default_context(cadata=cert_pem.decode()))


@dataclass(frozen=True)
class SmtpServer:
    inbox: Inbox
    port: int

    def url(self, scheme: str = "smtp", credentials: str = "", query: str = "") -> str:
        return f"{scheme}://{credentials}127.0.0.1:{self.port}{query}"


StartSmtp = Callable[..., SmtpServer]


@pytest.fixture
def start_smtp(certificate: Certificate) -> Iterator[StartSmtp]:
    """Starts SMTP servers for the test, stopped at its end.

    `starttls`: offer STARTTLS; `implicit_tls`: TLS from the first byte (smtps); `auth`:
    accept any credentials (and record them); other keywords go to aiosmtpd's SMTP."""
    controllers: list[Controller] = []

    def start(
        inbox: Inbox | None = None,
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        auth: bool = False,
        **smtp: Any,
    ) -> SmtpServer:
        inbox = inbox or Inbox()
        port = free_port()
        if starttls:
            smtp["tls_context"] = certificate.server
        if auth:
            smtp["authenticator"] = inbox.authenticate
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            ssl_context=certificate.server if implicit_tls else None,
            **smtp,
        )
        controller.start()
        controllers.append(controller)
        return SmtpServer(inbox, port)

    yield start
    for controller in controllers:
        controller.stop()


def read_eml(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message
