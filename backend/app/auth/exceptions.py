"""Errors of authentication; each is an AppError with a stable code."""

from collections.abc import Mapping

from app.core.errors import (
    REALM,
    AppError,
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    RequestInvalid,
)


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    detail = "Incorrect email or password."
    persist_changes = True  # the failure is counted and audited


class LoginThrottled(RateLimited):
    """Too many failed logins for this email: the lockout and its audit record persist."""

    detail = "Too many failed logins for this account; try again later."
    persist_changes = True


class SessionNotFound(NotFound):
    detail = "Session not found."


class RefreshTokenInvalid(NotAuthenticated):
    code = "invalid_token"
    detail = "The refresh token is invalid."


class RefreshTokenExpired(NotAuthenticated):
    code = "token_expired"
    detail = "The refresh token has expired; log in again."


class RefreshTokenRevoked(NotAuthenticated):
    code = "token_revoked"
    detail = "The refresh token has been revoked; log in again."


class RefreshTokenReused(RefreshTokenRevoked):
    """A rotated token came back: its family is revoked, and that must stick."""

    persist_changes = True


class EmailAlreadyRegistered(Conflict):
    detail = "An account with this email already exists."


class RegistrationClosed(PermissionDenied):
    code = "registration_closed"
    detail = "Registration is closed: ask an administrator for an account."


class WrongCurrentPassword(AppError):
    status_code = 400
    code = "invalid_current_password"
    detail = "The current password is not correct."


class PasswordRejected(RequestInvalid):
    """The password policy refused a password; a validation error on that field."""

    def __init__(self, reason: str, field: str = "password") -> None:
        super().__init__(
            [{"loc": ["body", field], "msg": reason, "type": "password_policy"}], reason
        )


class UnsupportedGrantType(AppError):
    status_code = 400
    code = "unsupported_grant_type"
    detail = "Only grant_type=password or client_credentials is supported here."


class NotOwner(PermissionDenied):
    """The object belongs to someone else, and the caller lacks the permission that reaches
    everyone's."""

    code = "not_owner"
    persist_changes = True  # the refusal is audited in the request's transaction

    def __init__(self, noun: str, any_permission: str) -> None:
        super().__init__(
            f"This {noun} belongs to someone else: acting on it needs {any_permission}.",
            missing=[any_permission],
        )


class OneTimeTokenInvalid(AppError):
    """A mailed token that is unknown, used, expired or of another purpose: one answer for
    all, so that it tells nothing about which."""

    status_code = 400
    code = "invalid_token"
    detail = "The link is invalid or has expired; ask for a new one."


class EmailNotVerified(PermissionDenied):
    """The right password of an account whose address is not verified yet, while
    EMAIL_VERIFICATION=required."""

    code = "email_not_verified"
    persist_changes = True  # the attempt is forgotten and audited
    detail = "Verify your email address first: follow the link we sent you."


class CsrfFailed(PermissionDenied):
    code = "csrf_failed"
    detail = "Missing or wrong X-CSRF-Token header."


class MfaRequired(PermissionDenied):
    """The right password of an account with a second factor: no session yet, but a token
    for the second step (POST /auth/mfa/verify). The challenge it names must persist."""

    code = "mfa_required"
    detail = "A second factor is required: send a code with the mfa_token to /auth/mfa/verify."
    persist_changes = True


class InvalidMfaChallenge(NotAuthenticated):
    code = "invalid_mfa_token"
    detail = "The sign-in expired or used up its attempts; log in again."


class InvalidSecondFactor(AppError):
    """A wrong, reused or malformed code: the attempt it cost is counted and audited."""

    status_code = 400
    code = "invalid_mfa_code"
    detail = "The code is not valid."
    persist_changes = True


class MfaAlreadyEnabled(Conflict):
    code = "mfa_already_enabled"
    detail = "Two-step verification is already on; turn it off first."


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"
    detail = "Two-step verification is not on for this account."


class NoPendingEnrollment(AppError):
    status_code = 400
    code = "no_pending_enrollment"
    detail = "No enrollment is waiting for a code; start one first."


class MfaEnrollmentRequired(PermissionDenied):
    code = "mfa_enrollment_required"
    detail = (
        "Your permissions require two-step verification: enroll an authenticator first "
        "(POST /users/me/mfa/totp)."
    )


class StepUpRequired(NotAuthenticated):
    """RFC 9470: the access token proves an authentication older than this action allows;
    POST /auth/reauthenticate gives a fresh one in the same session."""

    code = "insufficient_user_authentication"
    detail = "This action needs a recent sign-in: reauthenticate (POST /auth/reauthenticate)."

    def __init__(self, max_age: int) -> None:
        super().__init__(error="insufficient_user_authentication", max_age=max_age)
        self.max_age = max_age

    def response_headers(self) -> Mapping[str, str]:
        return {
            "WWW-Authenticate": (
                f'Bearer realm="{REALM}", error="insufficient_user_authentication", '
                f'error_description="A more recent authentication is required", '
                f"max_age={self.max_age}"
            )
        }


class TokenNotAllowed(PermissionDenied):
    """A personal access token or a service account's token on a route that needs a login
    (creating tokens, changing the password or email, logging out everywhere)."""

    code = "token_not_allowed"
    detail = "This needs a login: a personal access token or a service account cannot do it."


class InvalidClient(NotAuthenticated):
    """Client authentication failed (RFC 6749 §5.2 invalid_client): unknown client, wrong
    secret, or an inactive service account; one answer for all."""

    code = "invalid_client"
    detail = "Client authentication failed."
    headers = {"WWW-Authenticate": 'Basic realm="py-auth"'}


class ClientAuthenticatedTwice(AppError):
    """RFC 6749 §2.3: a client uses one authentication method per request."""

    status_code = 400
    code = "invalid_request"
    detail = "Authenticate the client one way: HTTP Basic or client_secret, not both."


class TokenNotFound(NotFound):
    detail = "Token not found."


class ScopeNotHeld(PermissionDenied):
    """A token can do no more than its user: every scope must be a permission they hold."""

    code = "scope_not_held"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            f"A token's scopes must be permissions you hold; missing: {', '.join(missing)}.",
            missing=missing,
        )


class UnknownScope(RequestInvalid):
    def __init__(self, names: list[str]) -> None:
        reason = f"Unknown permission: {', '.join(names)}."
        super().__init__(
            [{"loc": ["body", "scopes"], "msg": reason, "type": "unknown_scope"}], reason
        )


class TooManyTokens(Conflict):
    code = "too_many_tokens"

    def __init__(self, limit: int) -> None:
        super().__init__(f"At most {limit} live tokens a user: revoke one first.", limit=limit)
