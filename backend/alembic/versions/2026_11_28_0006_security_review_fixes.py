"""security review fixes: private user data and account creation permissions, credentials
versions, aggregated audit rows, one email normalization, ids never reused on SQLite

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 01:00:00

- read_user_private (other users' emails and sessions) and create_user (POST /users), held
  by admin.
- users.credentials_version and auth_sessions.credentials_version: a session is live only
  while both agree, so a login in flight during a password change gets a dead session.
- audit_events.occurrences and aggregate_key: repeated refusals share one row.
- Every stored email in the one normalized form (NFKC, case-folded). Two accounts whose
  addresses fold to the same form would share a login: the migration stops and names them.
- users gets SQLite's AUTOINCREMENT, so a deleted user's id is never handed out again.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSIONS = {
    "read_user_private": "See other users' emails and sessions",
    "create_user": "Create accounts for others",
}

permissions = sa.table(
    "permissions",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("description", sa.String),
)
roles = sa.table("roles", sa.column("id", sa.Integer), sa.column("name", sa.String))
role_permissions = sa.table(
    "role_permissions", sa.column("role_id", sa.Integer), sa.column("permission_id", sa.Integer)
)
users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))


def _normalize_email(email: str) -> str:
    # Written out, not imported from the app: this migration must do the same thing forever.
    return unicodedata.normalize("NFKC", email).strip().casefold()


def _normalize_stored_emails() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.email)).all()
    owners: dict[str, list[str]] = {}
    for _, email in rows:
        owners.setdefault(_normalize_email(email), []).append(email)
    collisions = {form: emails for form, emails in owners.items() if len(emails) > 1}
    if collisions:
        listed = "; ".join(" and ".join(emails) for emails in collisions.values())
        raise RuntimeError(
            "These accounts' emails are one address once normalized, and would share a login: "
            f"{listed}. Change or delete all but one of each, then migrate again."
        )
    for user_id, email in rows:
        if _normalize_email(email) != email:
            connection.execute(
                users.update().where(users.c.id == user_id).values(email=_normalize_email(email))
            )


def upgrade() -> None:
    op.bulk_insert(
        permissions, [{"name": name, "description": text} for name, text in PERMISSIONS.items()]
    )
    op.execute(
        role_permissions.insert().from_select(
            ["role_id", "permission_id"],
            sa.select(roles.c.id, permissions.c.id)
            .select_from(roles.join(permissions, sa.true()))
            .where(roles.c.name == "admin", permissions.c.name.in_(list(PERMISSIONS))),
        )
    )
    _normalize_stored_emails()
    # recreate="always" rebuilds the table on SQLite, where AUTOINCREMENT can only be declared
    # when a table is created; elsewhere only the column is added.
    with op.batch_alter_table(
        "users",
        recreate="always" if op.get_bind().dialect.name == "sqlite" else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.add_column(
            sa.Column("credentials_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("auth_sessions") as batch:
        batch.add_column(
            sa.Column("credentials_version", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("occurrences", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("aggregate_key", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(batch.f("uq_audit_events_aggregate_key"), ["aggregate_key"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_constraint(batch.f("uq_audit_events_aggregate_key"), type_="unique")
        batch.drop_column("aggregate_key")
        batch.drop_column("occurrences")
    with op.batch_alter_table("auth_sessions") as batch:
        batch.drop_column("credentials_version")
    with op.batch_alter_table(
        "users",
        recreate="always" if op.get_bind().dialect.name == "sqlite" else "auto",
        table_kwargs={"sqlite_autoincrement": False},
    ) as batch:
        batch.drop_column("credentials_version")
    permission_ids = sa.select(permissions.c.id).where(permissions.c.name.in_(list(PERMISSIONS)))
    op.execute(
        role_permissions.delete().where(role_permissions.c.permission_id.in_(permission_ids))
    )
    op.execute(permissions.delete().where(permissions.c.name.in_(list(PERMISSIONS))))
