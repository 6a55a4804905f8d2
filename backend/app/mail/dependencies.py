"""The mailer, for routes: `mailer: MailerDep`."""

from typing import Annotated, cast

from fastapi import Depends
from starlette.requests import HTTPConnection

from app.mail.mailer import Mailer


async def get_mailer(request: HTTPConnection) -> Mailer:
    """The app's Mailer (`app.state.mailer`, made by create_app)."""
    return cast(Mailer, request.app.state.mailer)


MailerDep = Annotated[Mailer, Depends(get_mailer)]
