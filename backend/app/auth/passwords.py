"""The password policy, one function shared by the API schemas and the CLI."""

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why this password is refused, in words a person understands, or None when it is fine.

    No composition rules (NIST SP 800-63B): length, and not the email. The password is
    compared exactly as sent: no trimming, no truncation.
    """
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"The password must have at least {PASSWORD_MIN_LENGTH} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"The password must have at most {PASSWORD_MAX_LENGTH} characters."
    if email and password.strip().lower() == email.strip().lower():
        return "The password must not be your email address."
    return None
