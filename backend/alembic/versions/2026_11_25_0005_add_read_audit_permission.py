"""add the read_audit permission, held by admin

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "read_audit"
DESCRIPTION = "Read the audit log"

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
    op.bulk_insert(permissions, [{"name": NAME, "description": DESCRIPTION}])
    op.execute(
        role_permissions.insert().from_select(
            ["role_id", "permission_id"],
            sa.select(roles.c.id, permissions.c.id)
            .select_from(roles.join(permissions, sa.true()))
            .where(roles.c.name == "admin", permissions.c.name == NAME),
        )
    )


def downgrade() -> None:
    permission_id = sa.select(permissions.c.id).where(permissions.c.name == NAME).scalar_subquery()
    op.execute(role_permissions.delete().where(role_permissions.c.permission_id == permission_id))
    op.execute(permissions.delete().where(permissions.c.name == NAME))
