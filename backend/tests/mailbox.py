"""The mail the app sent during a test, read from the folder its file transport writes to
(MAIL_URL=file://... in the tests' settings): real messages, parsed as a mail client would."""

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

TEMPLATE_HEADER = "X-PyAuth-Template"
_TOKEN_IN_LINK = re.compile(r"[?&]token=([A-Za-z0-9_\-]+)")


class Mailbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def clear(self) -> None:
        if self.folder.exists():
            for path in self.folder.glob("*.eml"):
                path.unlink()

    def messages(self, to: str | None = None, template: str | None = None) -> list[EmailMessage]:
        found = []
        for path in sorted(self.folder.glob("*.eml")) if self.folder.exists() else []:
            message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            assert isinstance(message, EmailMessage)
            if to is not None and message["To"] != to:
                continue
            if template is not None and message[TEMPLATE_HEADER] != template:
                continue
            found.append(message)
        return found

    def only(self, to: str, template: str) -> EmailMessage:
        messages = self.messages(to, template)
        assert len(messages) == 1, [m[TEMPLATE_HEADER] for m in self.messages()]
        return messages[0]

    def text(self, message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    def token(self, to: str, template: str) -> str:
        """The token of the one link in the one mail of this template to this address."""
        match = _TOKEN_IN_LINK.search(self.text(self.only(to, template)))
        assert match is not None, "no token in the link"
        return match.group(1)
