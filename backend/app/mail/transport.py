"""The ways a message leaves: SMTP (STARTTLS or implicit TLS) or a folder of .eml files.

Chosen from MAIL_URL, which the settings have already checked (app.core.config).
"""

import asyncio
import os
import secrets
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib

from app.mail.compose import SMTP_POLICY

# Bounds connecting and each SMTP command: a server that hangs fails the attempt instead.
SMTP_TIMEOUT_SECONDS = 10.0


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand the message over, or raise."""


class SmtpTransport:
    """A connection per message: mail is rare (a reset, a verification), and a held connection
    would only be one more thing for a server's idle timeout to break."""

    def __init__(
        self,
        hostname: str,
        port: int,
        *,
        implicit_tls: bool = False,
        start_tls: bool | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = SMTP_TIMEOUT_SECONDS,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """`start_tls`: None upgrades when the server offers STARTTLS, True requires it, False
        never asks. `tls_context`: whom to trust (None: the system's certificate authorities)."""
        self.hostname = hostname
        self.port = port
        self.implicit_tls = implicit_tls
        self.start_tls = False if implicit_tls else start_tls
        self.username = username
        self._password = password
        self.timeout = timeout
        self.tls_context = tls_context

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.hostname,
            port=self.port,
            username=self.username,
            password=self._password,
            use_tls=self.implicit_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
            tls_context=self.tls_context,
        )


class FileTransport:
    """Each message as `<timestamp>-<random>.eml` in a folder (made 0700 if missing), for
    development and tests: the messages hold links that sign in, so the files are 0600."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message.as_bytes(policy=SMTP_POLICY))

    def _write(self, data: bytes) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The real clock, not the app's (which a test may hold still): the names sort in the
        # order the messages were written.
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.eml"
        # Written under a name that no reader takes for a message, then renamed: a reader
        # never sees half a message.
        partial = self.folder / f".{name}.partial"
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            partial.replace(self.folder / name)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise


def transport_for(
    mail_url: str,
    *,
    timeout: float = SMTP_TIMEOUT_SECONDS,
    tls_context: ssl.SSLContext | None = None,
) -> MailTransport:
    """The transport MAIL_URL names (a URL the settings accepted)."""
    url = urlsplit(mail_url)
    if url.scheme == "file":
        return FileTransport(Path(unquote(url.path)))
    if url.scheme not in ("smtp", "smtps") or not url.hostname or not url.port:
        raise ValueError("MAIL_URL is not smtp://, smtps:// or file:// (see app.core.config)")
    tls_off = ("tls", "off") in parse_qsl(url.query)
    has_credentials = url.username is not None
    return SmtpTransport(
        url.hostname,
        url.port,
        implicit_tls=url.scheme == "smtps",
        # With credentials STARTTLS is required, so that a server (or someone in the path)
        # that leaves it out of its answer cannot have the password sent in the clear.
        start_tls=False if tls_off else (True if has_credentials else None),
        username=unquote(url.username) if url.username is not None else None,
        password=unquote(url.password) if url.password is not None else None,
        timeout=timeout,
        tls_context=tls_context,
    )


def is_permanent(error: Exception) -> bool:
    """Whether a retry cannot help: the server answered 5xx (a refused recipient or sender,
    bad credentials). A 4xx, a refused connection or a timeout may pass."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return all(refusal.code >= 500 for refusal in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and error.code >= 500
