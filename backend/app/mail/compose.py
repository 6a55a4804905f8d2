"""Messages made from the templates in app/mail/templates.

`<name>.txt` is a message: its first line `Subject: ...`, a blank line, then the text part.
`<name>.html`, when present, is the same message as an HTML fragment. Both are string.Template
texts with $placeholders; $app_name is filled in unless given.
"""

import html
import unicodedata
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from string import Template

from app.core.clock import utcnow

TEMPLATES_DIR = Path(__file__).parent / "templates"
# Names the template of a message, so that a log line or a counter can say which message it was
# without reading the body (which holds the links).
TEMPLATE_HEADER = "X-PyAuth-Template"
APP_NAME = "py-auth"
SUBJECT_PREFIX = "Subject: "
HTML_PAGE = Template(
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>$subject</title></head>\n'
    "<body>\n$body</body></html>\n"
)


class _HeaderClassesMadeOnce(HeaderRegistry):
    """The standard header registry, each of its header classes made once.

    The standard registry makes a new class for every header of every message, and a class
    is cyclic garbage once its message is gone: eight classes per reset mail, the most garbage
    any request left to the cyclic collector, and most of a worker's memory growth under
    POST /auth/forgot-password (BENCHMARKS.md, item 22). The classes are stateless (each is its
    header kind joined to the base class), so every message may share them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[type, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self._made.get(kind)
        if made is None:
            made = self._made[kind] = super().__getitem__(name)
        return made


# The standard policies (policy.default, and policy.SMTP to write a message out), their headers
# made from classes made once.
POLICY = policy.default.clone(header_factory=_HeaderClassesMadeOnce())
SMTP_POLICY = POLICY.clone(linesep="\r\n")


class ComposeError(ValueError):
    """The message cannot be made as asked: a mistake of the caller, never of the recipient.
    The message names what is wrong, never a value (a value may be a link that signs in)."""


@dataclass(frozen=True)
class MailTemplate:
    subject: Template
    text: Template
    html: Template | None

    @property
    def placeholders(self) -> frozenset[str]:
        parts = (self.subject, self.text, *([self.html] if self.html else []))
        return frozenset(name for part in parts for name in part.get_identifiers())


def _read_template(text_path: Path) -> MailTemplate:
    first, blank, text = text_path.read_text(encoding="utf-8").split("\n", 2)
    if not first.startswith(SUBJECT_PREFIX) or blank:
        raise ValueError(f"{text_path}: must begin with 'Subject: ...' and a blank line")
    html_path = text_path.with_suffix(".html")
    template = MailTemplate(
        subject=Template(first.removeprefix(SUBJECT_PREFIX)),
        text=Template(text),
        html=Template(html_path.read_text(encoding="utf-8")) if html_path.exists() else None,
    )
    for part in (template.subject, template.text, template.html):
        # A stray $ would otherwise be found only when the message is sent.
        if part is not None and not part.is_valid():
            raise ValueError(f"{text_path}: a '$' that is not a placeholder (write $$)")
    return template


# Read once when the app is built: composing a message reads no file.
TEMPLATES: dict[str, MailTemplate] = {
    path.stem: _read_template(path) for path in sorted(TEMPLATES_DIR.glob("*.txt"))
}


def compose(template: str, *, to: str, sender: str, **values: str) -> EmailMessage:
    """The message `template` to `to` from `sender`, its placeholders filled with `values`.

    Raises ComposeError for an unknown template, a placeholder without a value, a value that no
    placeholder takes (a misspelt name), a value on more than one line, or an address that is
    not exactly one address on one line: no value can add a header or a line to one.
    """
    parts = TEMPLATES.get(template)
    if parts is None:
        raise ComposeError(f"no mail template {template!r} (known: {', '.join(TEMPLATES)})")
    filled = {"app_name": APP_NAME, **values}
    missing = parts.placeholders - filled.keys()
    if missing:
        raise ComposeError(f"{template}: no value for {', '.join(sorted(missing))}")
    unused = values.keys() - parts.placeholders
    if unused:
        raise ComposeError(f"{template}: no placeholder for {', '.join(sorted(unused))}")
    for name, value in filled.items():
        if not _is_one_line(value):
            raise ComposeError(f"{template}: the value of {name} is empty or not one line")
    _one_address("to", to)
    sender_address = _one_address("sender", sender)

    message = EmailMessage(policy=POLICY)
    subject = parts.subject.substitute(filled)
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(utcnow())
    # The domain is given so that make_msgid does not ask the network for this host's name.
    message["Message-ID"] = make_msgid(domain=sender_address.domain)
    message[TEMPLATE_HEADER] = template
    message.set_content(parts.text.substitute(filled))
    if parts.html is not None:
        escaped = {name: html.escape(value) for name, value in filled.items()}
        body = parts.html.substitute(escaped)
        page = HTML_PAGE.substitute(subject=html.escape(subject), body=body)
        message.add_alternative(page, subtype="html")
    return message


def _is_one_line(value: object) -> bool:
    # Control characters include CR, LF and the other line breaks; Zl and Zp are U+2028/U+2029.
    return (
        isinstance(value, str)
        and bool(value)
        and all(unicodedata.category(char) not in ("Cc", "Zl", "Zp") for char in value)
    )


def _one_address(field: str, value: str) -> Address:
    if not _is_one_line(value):
        raise ComposeError(f"{field} is empty or not one line")
    try:
        header = POLICY.header_factory("To", value)
    except Exception:  # the header parser has more ways to fail than it documents
        raise ComposeError(f"{field} is not an address") from None
    addresses = header.addresses
    if header.defects or len(addresses) != 1 or not addresses[0].domain:
        raise ComposeError(f"{field} is not exactly one address")
    address: Address = addresses[0]
    return address
