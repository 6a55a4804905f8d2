"""Errors of authentication; each is an AppError with a stable code."""

from app.core.errors import AppError, Conflict, NotAuthenticated


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    detail = "Incorrect email or password."


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


class WrongCurrentPassword(AppError):
    status_code = 400
    code = "invalid_current_password"
    detail = "The current password is not correct."


class PasswordRejected(AppError):
    """The password policy refused a password; shaped like a validation error."""

    status_code = 422
    code = "validation_error"

    def __init__(self, reason: str, field: str = "password") -> None:
        super().__init__(
            reason, errors=[{"loc": ["body", field], "msg": reason, "type": "password_policy"}]
        )


class UnsupportedGrantType(AppError):
    status_code = 400
    code = "unsupported_grant_type"
    detail = "Only grant_type=password is supported here."
