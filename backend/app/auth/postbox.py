"""The mails of one request, delivered after its response.

FastAPI runs a response's background tasks after the response is sent, and the request's
session has committed before that (SessionDep): a mail never announces a change that was
rolled back, and a request that fails sends nothing. The client does not wait for SMTP.
"""

from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request

from app.core.app_state import settings_of
from app.core.config import Settings
from app.core.public_url import public_base
from app.mail.compose import compose
from app.mail.dependencies import MailerDep
from app.mail.mailer import Mailer


class Postbox:
    def __init__(
        self, background: BackgroundTasks, mailer: Mailer, settings: Settings, base_url: str
    ) -> None:
        self._background = background
        self._mailer = mailer
        self._settings = settings
        self._base_url = base_url.rstrip("/")

    def link(self, page: str, token: str) -> str:
        """A console page that POSTs the token. The token rides in the URL fragment, which
        browsers never send to a server (no access log holds it), and opening the link changes
        nothing, so a mail scanner that follows links cannot use it up."""
        return f"{self._base_url}/ui/#/{page}?token={token}"

    def page(self, page: str) -> str:
        return f"{self._base_url}/ui/#/{page}"

    def send(self, template: str, to: str, **values: str) -> None:
        """Compose and deliver after the response: the request itself does the same work
        whether or not it sends mail (a forgot-password request for an unknown address must
        not answer faster than one for a known address)."""
        sender = self._settings.mail_from
        self._background.add_task(_compose_and_deliver, self._mailer, sender, template, to, values)

    def rehearse(self, template: str, to: str, **values: str) -> None:
        """Do the work of a mail without sending it (composed and encoded, then dropped): for
        a request that must cost what a mailing one costs, such as a reset requested for an
        address without an account. Only the delivery's own I/O is left unmatched."""
        sender = self._settings.mail_from
        self._background.add_task(_compose_and_drop, self._mailer, sender, template, to, values)


# Functions, not methods of the Postbox: a task holding its postbox, which holds the task list,
# would be a cycle left to the garbage collector after every mail.
async def _compose_and_drop(
    mailer: Mailer, sender: str, template: str, to: str, values: dict[str, str]
) -> None:
    await mailer.rehearse(compose(template, to=to, sender=sender, **values))


async def _compose_and_deliver(
    mailer: Mailer, sender: str, template: str, to: str, values: dict[str, str]
) -> None:
    await mailer.deliver(compose(template, to=to, sender=sender, **values))


async def get_postbox(request: Request, background: BackgroundTasks, mailer: MailerDep) -> Postbox:
    settings = settings_of(request)
    return Postbox(background, mailer, settings, public_base(request))


PostboxDep = Annotated[Postbox, Depends(get_postbox)]
