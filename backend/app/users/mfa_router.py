"""/users/me/mfa: the caller's second factor (status, enrollment, recovery codes, turning it
off), and /users/{id}/mfa/reset, an administrator's reset for a user who lost their device.
The logic is app.auth.mfa; the second step of a sign-in is /auth/mfa/verify."""

from fastapi import APIRouter, status

from app.auth import mfa
from app.auth.dependencies import (
    EnrollingUser,
    RecentEnrollingUser,
    RecentUser,
    SealerDep,
    require_recent_auth,
)
from app.auth.postbox import PostboxDep
from app.auth.schemas import (
    MfaResetRequest,
    MfaStatusRead,
    RecoveryCodes,
    SecondFactorRequest,
    TotpConfirmRequest,
    TotpEnrollment,
)
from app.core.app_state import SettingsDep
from app.core.context import ClientContextDep
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.core.types import IdPath
from app.users import account_actions
from app.users.dependencies import (
    UserEditor,
)

mfa_router = APIRouter(prefix="/users", tags=["users"])


@mfa_router.get("/me/mfa", response_model=MfaStatusRead)
async def read_my_mfa(user: EnrollingUser, session: SessionDep) -> MfaStatusRead:
    """Whether two-step verification is on, and how many recovery codes are left (never the
    secret)."""
    found = await mfa.status(session, user_id=user.id)
    return MfaStatusRead(
        enabled=found.enabled,
        enabled_at=found.enabled_at,
        pending=found.pending,
        recovery_codes_left=found.recovery_codes_left,
        methods=list(mfa.METHODS) if found.enabled else [],
    )


@mfa_router.post(
    "/me/mfa/totp",
    status_code=status.HTTP_201_CREATED,
    response_model=TotpEnrollment,
    responses=error_responses(401, 409),
)
async def start_totp_enrollment(
    user: RecentEnrollingUser,
    session: SessionDep,
    sealer: SealerDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> TotpEnrollment:
    """A new authenticator secret, as a QR code and as text, pending until a code from it
    confirms it (within 10 minutes). Needs a recent sign-in: a stolen access token must not
    bind the account to the thief's device."""
    enrollment = await mfa.start_enrollment(
        session, sealer, settings, client, user_id=user.id, email=user.email
    )
    return TotpEnrollment(
        secret=enrollment.secret, otpauth_uri=enrollment.otpauth_uri, qr_svg=enrollment.qr_svg
    )


@mfa_router.post(
    "/me/mfa/totp/confirm", response_model=RecoveryCodes, responses=error_responses(400, 409)
)
async def confirm_totp_enrollment(
    body: TotpConfirmRequest,
    user: EnrollingUser,
    session: SessionDep,
    sealer: SealerDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> RecoveryCodes:
    """Turn two-step verification on with a first code from the authenticator: the recovery
    codes come back once, and every other session of the account ends."""
    assert user.session_id is not None
    codes = await mfa.confirm_enrollment(
        session,
        sealer,
        settings,
        postbox,
        client,
        user_id=user.id,
        email=user.email,
        session_id=user.session_id,
        code=body.code,
    )
    return RecoveryCodes(recovery_codes=codes)


@mfa_router.delete(
    "/me/mfa/totp",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(400, 401, 409, 429),
)
async def disable_totp(
    body: SecondFactorRequest,
    user: RecentUser,
    session: SessionDep,
    sealer: SealerDep,
    settings: SettingsDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> None:
    """Turn two-step verification off, with a current code (or a recovery code)."""
    await mfa.disable(
        session,
        sealer,
        settings,
        postbox,
        client,
        user_id=user.id,
        email=user.email,
        factor=mfa.SecondFactor(code=body.code, recovery_code=body.recovery_code),
    )


@mfa_router.post(
    "/me/mfa/recovery-codes", response_model=RecoveryCodes, responses=error_responses(401, 409)
)
async def regenerate_recovery_codes(
    user: RecentUser,
    session: SessionDep,
    settings: SettingsDep,
    client: ClientContextDep,
) -> RecoveryCodes:
    """A new set of recovery codes, shown once; the old set stops working."""
    codes = await mfa.regenerate_recovery_codes(session, settings, client, user_id=user.id)
    return RecoveryCodes(recovery_codes=codes)


@mfa_router.post(
    "/{user_id}/mfa/reset",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 404, 409),
    dependencies=[require_recent_auth()],
)
async def reset_user_mfa(
    user_id: IdPath,
    body: MfaResetRequest,
    editor: UserEditor,
    session: SessionDep,
    postbox: PostboxDep,
    client: ClientContextDep,
) -> None:
    """Turn a user's two-step verification off (they lost their device): their sessions end,
    they are told by mail, and the reason goes in the audit log."""
    await account_actions.reset_mfa(
        session, postbox, client, user_id, actor=editor, reason=body.reason
    )
