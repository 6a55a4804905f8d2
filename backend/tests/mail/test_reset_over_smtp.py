"""A password reset mail, through a real SMTP server (aiosmtpd, in-process), carries a link whose
token resets the password."""

import re

from tests.helpers import PASSWORD, client_of, fresh_app, login


async def test_the_reset_mail_arrives_over_smtp_with_a_usable_link(
    clean_database, database_url, make_user, start_smtp
):
    server = start_smtp()
    user = await make_user()
    smtp_url = server.url(query="?tls=off")
    async with (
        fresh_app(database_url, mail_url=smtp_url, public_url="https://auth.example.com") as app,
        client_of(app) as client,
    ):
        answer = await client.post("/auth/forgot-password", json={"email": user.email})
        (received,) = server.inbox.received
        text = received.message.get_body(preferencelist=("plain",)).get_content()
        link = re.search(r"https://auth\.example\.com/ui/#/reset-password\?token=(\S+)", text)
        assert link is not None, text
        reset = await client.post(
            "/auth/reset-password",
            json={"token": link.group(1), "password": "reached by smtp, reset"},
        )
        tokens = await login(client, user.email, "reached by smtp, reset")

    assert answer.status_code == 202
    assert received.envelope_to == [user.email]
    assert reset.status_code == 204
    assert tokens["access_token"]
    assert PASSWORD not in text
