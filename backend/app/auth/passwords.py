"""The password policy: one function, used at registration, password change and create-admin.

Following NIST SP 800-63B: a minimum length, no composition rules, and a refusal of passwords
that are known to be guessed first. The password is checked exactly as sent: no trimming, no
truncation (Argon2 takes all 128 characters).
"""

from pathlib import Path

from app.auth.exceptions import PasswordRejected
from app.core.config import Settings

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
# A local part this short ("al@...") would forbid too many good passwords.
MIN_LOCAL_PART_TO_CHECK = 3

# The 30,000 most common passwords of real leaks, as ranked by Dropbox's zxcvbn (MIT licence),
# in lower case. Read from a file of their own: importing zxcvbn for this one list would load
# all its dictionaries, 13 MB in every process.
COMMON_PASSWORDS = frozenset(
    line
    for line in (Path(__file__).parent / "common_passwords.txt").read_text("utf-8").splitlines()
    if line and not line.startswith("# ")
)


def password_problem(
    password: str, email: str | None = None, *, min_length: int = PASSWORD_MIN_LENGTH
) -> str | None:
    """Why this password is refused, in words a person understands, or None when it is fine."""
    if len(password) < min_length:
        return f"The password must have at least {min_length} characters."
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"The password must have at most {PASSWORD_MAX_LENGTH} characters."
    folded = password.casefold()
    if email:
        email = email.strip().casefold()
        local_part = email.partition("@")[0]
        if folded == email:
            return "The password must not be your email address."
        if len(local_part) >= MIN_LOCAL_PART_TO_CHECK and local_part in folded:
            return "The password must not contain your email address's name part."
    if folded in COMMON_PASSWORDS:
        return "This password is among the most commonly used ones; choose another."
    return None


def check_password_policy(password: str, email: str | None, settings: Settings, field: str) -> None:
    problem = password_problem(password, email, min_length=settings.password_min_length)
    if problem is not None:
        raise PasswordRejected(problem, field=field)
