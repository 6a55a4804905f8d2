"""Delivery: a few attempts, then a log line; never an exception for the caller.

A message that cannot be sent must not turn a password reset into a 500 (nor tell the caller
whether the address has an account), so `deliver` reports failures to the operator only: a
WARNING line and `mail_deliveries_total{outcome="failed"}`.
"""

import asyncio
import logging
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses

from prometheus_client import Counter

from app.core.config import Settings
from app.core.metrics import REGISTRY
from app.mail.compose import TEMPLATE_HEADER
from app.mail.transport import MailTransport, is_permanent, transport_for

logger = logging.getLogger("app.mail")

# Pauses between attempts: three attempts in about five seconds ride out a relay's restart.
BACKOFF_SECONDS = (1.0, 4.0)

DELIVERIES = Counter(
    "mail_deliveries_total",
    "Mail delivery attempts by outcome: sent, retried (an attempt failed, another follows), "
    "failed (the last attempt failed, or the server refused for good).",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("sent", "retried", "failed"):
    DELIVERIES.labels(_outcome)  # each outcome is scraped from the start, at 0


class Mailer:
    """Sends composed messages through the transport MAIL_URL names; one per app."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: MailTransport | None = None,
        backoff: Sequence[float] = BACKOFF_SECONDS,
    ) -> None:
        """`transport` replaces the one MAIL_URL names; `backoff` is the pause before each
        retry (its length is the number of retries)."""
        self.transport = transport or transport_for(settings.mail_url)
        # The From of every message: compose(..., sender=mailer.sender).
        self.sender = settings.mail_from
        self.backoff = tuple(backoff)

    async def deliver(self, message: EmailMessage) -> None:
        """Send `message`, retrying what may pass; log and count, never raise.

        Takes up to the sum of the backoff plus the attempts' timeouts: call it where nobody
        waits on it (a background task after the response), not before answering.
        """
        fields = {
            "template": message.get(TEMPLATE_HEADER, "unknown"),
            "recipient_domain": _recipient_domain(message),
        }
        for attempt, pause in enumerate((*self.backoff, None), start=1):
            try:
                await self.transport.send(message)
            except Exception as error:
                # The error's type and SMTP code only: its text may quote the recipient.
                failure = {
                    **fields,
                    "attempt": attempt,
                    "error": type(error).__name__,
                    "smtp_code": getattr(error, "code", None),
                }
                if pause is None or is_permanent(error):
                    DELIVERIES.labels("failed").inc()
                    logger.warning(
                        "mail not delivered", extra={"fields": {"event": "mail_failed", **failure}}
                    )
                    return
                DELIVERIES.labels("retried").inc()
                logger.info(
                    "mail delivery retried", extra={"fields": {"event": "mail_retried", **failure}}
                )
                await asyncio.sleep(pause)
            else:
                DELIVERIES.labels("sent").inc()
                logger.info(
                    "mail sent",
                    extra={"fields": {"event": "mail_sent", "attempt": attempt, **fields}},
                )
                return

    async def rehearse(self, message: EmailMessage) -> None:
        """Do what `deliver` does for a message that must not be sent (the decoy of a request
        that has to cost what a mailing one costs): the same bookkeeping, the message encoded
        as the transport would, on a worker thread as the file transport writes; only the
        hand-over itself is left out."""
        _recipient_domain(message)
        message.get(TEMPLATE_HEADER, "unknown")
        await asyncio.to_thread(message.as_bytes, policy=SMTP)

    async def close(self) -> None:
        """For the app's shutdown. The transports hold nothing between messages (SMTP connects
        per message), so there is nothing to release yet; the lifespan calls it all the same, so
        that a transport that comes to hold a connection needs no change there."""


def _recipient_domain(message: EmailMessage) -> str:
    """The domain of the first recipient: enough to tell a provider's outage, and no address."""
    addresses = getaddresses([str(value) for value in message.get_all("To", [])])
    return addresses[0][1].rpartition("@")[2].lower() if addresses else "unknown"
