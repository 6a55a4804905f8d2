"""Outgoing mail: messages composed from the templates in the repository (compose), sent by a
transport chosen from MAIL_URL (transport), with retries, a log line and a counter (mailer)."""
