"""compose: a template of app/mail/templates and its values make a message; a value cannot add
a header or a line, and a mistake (an unknown template, a missing or misspelt value) is refused
where it is made."""

import pytest

from app.mail.compose import TEMPLATE_HEADER, TEMPLATES, ComposeError, compose

SENDER = "py-auth <no-reply@example.com>"
LINK = "https://auth.example.com/ui/#/reset-password?token=abc&x=1"
# Each message the flows send, with the values it takes.
VALUES = {
    "reset_password": {"link": LINK, "minutes": "30"},
    "password_changed": {},
    "verify_email": {"link": LINK},
    "email_change_confirm": {"link": LINK},
    "email_change_notice": {"new_email": "new@example.com"},
    "invitation": {"link": LINK, "days": "7"},
    "registration_attempt": {"reset_url": "https://auth.example.com/ui/#/forgot-password"},
    "mfa_enabled": {},
    "mfa_disabled": {},
}


def test_the_templates_are_the_messages_the_flows_send():
    assert set(TEMPLATES) == set(VALUES)


@pytest.mark.parametrize("template", sorted(VALUES))
def test_each_template_makes_a_message_with_its_values(template):
    values = VALUES[template]
    message = compose(template, to="ann@example.com", sender=SENDER, **values)

    assert message["To"] == "ann@example.com"
    assert message["From"] == SENDER
    assert "py-auth" in message["Subject"]
    assert message[TEMPLATE_HEADER] == template
    assert message["Date"]
    assert message["Message-ID"].endswith("@example.com>")
    text = message.get_body(preferencelist=("plain",)).get_content()
    for value in (*values.values(), "py-auth"):
        assert value in text
    assert "$" not in text


def test_messages_share_their_header_classes():
    first = compose(
        "reset_password", to="ann@example.com", sender=SENDER, **VALUES["reset_password"]
    )
    second = compose(
        "reset_password", to="bob@example.com", sender=SENDER, **VALUES["reset_password"]
    )

    # The standard registry makes a new class per header of each message: cyclic garbage.
    for name in ("Subject", "From", "To", "Date", "Message-ID", TEMPLATE_HEADER):
        assert type(first[name]) is type(second[name]), name


def test_the_date_is_the_apps_clock(clock):
    clock.advance(days=-3)

    message = compose("password_changed", to="ann@example.com", sender=SENDER)

    assert message["Date"].datetime == clock.now.replace(microsecond=0)


def test_a_template_with_an_html_part_is_sent_as_text_and_html():
    message = compose(
        "reset_password", to="ann@example.com", sender=SENDER, **VALUES["reset_password"]
    )

    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(preferencelist=("html",)).get_content()
    # Values are escaped in HTML: the & of the link becomes &amp;.
    assert 'href="https://auth.example.com/ui/#/reset-password?token=abc&amp;x=1"' in html
    assert "<title>Reset your py-auth password</title>" in html


def test_a_template_without_an_html_part_is_plain_text():
    message = compose("password_changed", to="ann@example.com", sender=SENDER)

    assert message.get_content_type() == "text/plain"


def test_the_app_name_can_be_given():
    message = compose("password_changed", to="ann@example.com", sender=SENDER, app_name="Acme")

    assert message["Subject"] == "Your Acme password was changed"


def test_an_unknown_template_is_refused():
    with pytest.raises(ComposeError, match="no mail template 'reset_pasword'"):
        compose("reset_pasword", to="ann@example.com", sender=SENDER, link=LINK, minutes="30")


def test_a_missing_value_is_refused():
    with pytest.raises(ComposeError, match="no value for minutes"):
        compose("reset_password", to="ann@example.com", sender=SENDER, link=LINK)


def test_a_value_no_placeholder_takes_is_refused():
    with pytest.raises(ComposeError, match="no placeholder for lnik"):
        compose("verify_email", to="ann@example.com", sender=SENDER, link=LINK, lnik=LINK)


BREAKS = ["\r\n", "\n", "\r", "\u2028", "\x00"]


@pytest.mark.parametrize("line_break", BREAKS)
def test_a_recipient_cannot_add_a_header(line_break):
    with pytest.raises(ComposeError, match="to is empty or not one line"):
        compose(
            "password_changed", to=f"ann@example.com{line_break}Bcc: all@example.com", sender=SENDER
        )


@pytest.mark.parametrize("line_break", BREAKS)
def test_a_sender_cannot_add_a_header(line_break):
    with pytest.raises(ComposeError, match="sender is empty or not one line"):
        compose("password_changed", to="ann@example.com", sender=f"{SENDER}{line_break}Bcc: x@y.z")


@pytest.mark.parametrize("line_break", BREAKS)
def test_a_value_of_the_subject_cannot_add_a_header(line_break):
    with pytest.raises(ComposeError, match="the value of app_name"):
        compose(
            "password_changed",
            to="ann@example.com",
            sender=SENDER,
            app_name=f"py-auth{line_break}Bcc: all@example.com",
        )


def test_a_value_of_the_body_is_one_line_too():
    with pytest.raises(ComposeError, match="the value of link") as error:
        compose("verify_email", to="ann@example.com", sender=SENDER, link=f"{LINK}\n\nClick here")
    # The refusal does not repeat the value: it may be a link that signs in.
    assert LINK not in str(error.value)


@pytest.mark.parametrize(
    "to", ["", "ann", "ann@example.com, bob@example.com", "Ann <ann@example.com>, bob@example.com"]
)
def test_the_recipient_is_exactly_one_address(to):
    with pytest.raises(ComposeError, match="to "):
        compose("password_changed", to=to, sender=SENDER)
