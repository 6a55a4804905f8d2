"""/service-accounts: OAuth2 clients (client credentials) for other services, managed by
administrators. The client_secret is in the answer once, at creation and at each rotation."""

from fastapi import APIRouter, Response, status

from app.core.context import ClientContextDep
from app.core.database import SessionDep
from app.core.errors import error_responses
from app.core.types import IdPath
from app.service_accounts import service
from app.service_accounts.dependencies import LOGIN_REQUIRED, ServiceAccountManager
from app.service_accounts.schemas import (
    ServiceAccountCreate,
    ServiceAccountCredentials,
    ServiceAccountList,
    ServiceAccountRead,
)

router = APIRouter(prefix="/service-accounts", tags=["service-accounts"])


def _credentials(issued: service.Issued) -> ServiceAccountCredentials:
    read = ServiceAccountRead.from_account(issued.account, issued.user)
    return ServiceAccountCredentials(**read.model_dump(), client_secret=issued.client_secret)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceAccountCredentials,
    responses=error_responses(403),
    dependencies=LOGIN_REQUIRED,
)
async def create_service_account(
    body: ServiceAccountCreate,
    manager: ServiceAccountManager,
    response: Response,
    session: SessionDep,
    client: ClientContextDep,
) -> ServiceAccountCredentials:
    """A service account with these roles, and its client_id and client_secret (shown once).
    It cannot log in with a password: it uses `grant_type=client_credentials`."""
    issued = await service.create_service_account(session, client, body, actor=manager)
    response.headers["Cache-Control"] = "no-store"
    return _credentials(issued)


@router.get("", response_model=ServiceAccountList, dependencies=LOGIN_REQUIRED)
async def list_service_accounts(
    manager: ServiceAccountManager, session: SessionDep
) -> ServiceAccountList:
    accounts = await service.list_service_accounts(session)
    return ServiceAccountList(
        items=[ServiceAccountRead.from_account(account, user) for account, user in accounts]
    )


@router.post(
    "/{account_id}/secret",
    response_model=ServiceAccountCredentials,
    responses=error_responses(403, 404),
    dependencies=LOGIN_REQUIRED,
)
async def rotate_client_secret(
    account_id: IdPath,
    manager: ServiceAccountManager,
    response: Response,
    session: SessionDep,
    client: ClientContextDep,
) -> ServiceAccountCredentials:
    """A new client_secret (shown once): the old one, and every token issued with it, stop
    working at once."""
    issued = await service.rotate_secret(session, client, account_id, actor=manager)
    response.headers["Cache-Control"] = "no-store"
    return _credentials(issued)
