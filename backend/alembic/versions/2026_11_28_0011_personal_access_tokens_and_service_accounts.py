"""personal access tokens, service accounts (users.is_service_account), and the
manage_service_accounts and introspect_tokens permissions, held by admin

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_PERMISSIONS = {
    "manage_service_accounts": "Create, list, rotate and delete service accounts",
    "introspect_tokens": "Introspect tokens (RFC 7662)",
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


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has one): batch mode would rebuild users on SQLite for the
    # default, and the rebuilt table would lose its AUTOINCREMENT (migration 0006).
    op.add_column(
        "users",
        sa.Column("is_service_account", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "service_accounts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("secret_rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_service_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_service_accounts")),
        sa.UniqueConstraint("client_id", name=op.f("uq_service_accounts_client_id")),
    )
    op.create_table(
        "personal_access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("display_prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_personal_access_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_personal_access_tokens_token_hash")),
    )
    op.create_index("ix_personal_access_tokens_user_id", "personal_access_tokens", ["user_id"])
    op.create_table(
        "personal_access_token_scopes",
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["personal_access_tokens.id"],
            name=op.f("fk_personal_access_token_scopes_token_id_personal_access_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.id"],
            name=op.f("fk_personal_access_token_scopes_permission_id_permissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "token_id", "permission_id", name=op.f("pk_personal_access_token_scopes")
        ),
    )
    op.create_index(
        op.f("ix_personal_access_token_scopes_permission_id"),
        "personal_access_token_scopes",
        ["permission_id"],
    )
    op.bulk_insert(
        permissions,
        [{"name": name, "description": text} for name, text in NEW_PERMISSIONS.items()],
    )
    op.execute(
        role_permissions.insert().from_select(
            ["role_id", "permission_id"],
            sa.select(roles.c.id, permissions.c.id)
            .select_from(roles.join(permissions, sa.true()))
            .where(roles.c.name == "admin", permissions.c.name.in_(list(NEW_PERMISSIONS))),
        )
    )


def downgrade() -> None:
    permission_ids = sa.select(permissions.c.id).where(
        permissions.c.name.in_(list(NEW_PERMISSIONS))
    )
    op.execute(
        role_permissions.delete().where(role_permissions.c.permission_id.in_(permission_ids))
    )
    op.execute(permissions.delete().where(permissions.c.name.in_(list(NEW_PERMISSIONS))))
    op.drop_index(
        op.f("ix_personal_access_token_scopes_permission_id"),
        table_name="personal_access_token_scopes",
    )
    op.drop_table("personal_access_token_scopes")
    op.drop_index("ix_personal_access_tokens_user_id", table_name="personal_access_tokens")
    op.drop_table("personal_access_tokens")
    op.drop_table("service_accounts")
    # SQLite rebuilds the table to drop a column: it keeps its AUTOINCREMENT (migration 0006).
    with op.batch_alter_table("users", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("is_service_account")
