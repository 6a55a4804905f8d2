"""update_any_article and delete_any_article: editing and deleting apply to one's own
articles, these to everyone's (held by admin)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSIONS = {
    "update_any_article": "Edit anyone's articles (update_article: one's own)",
    "delete_any_article": "Delete anyone's articles (delete_article: one's own)",
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
    for name, text in {
        "update_article": "Edit one's own articles",
        "delete_article": "Delete one's own articles",
    }.items():
        op.execute(permissions.update().where(permissions.c.name == name).values(description=text))


def downgrade() -> None:
    permission_ids = sa.select(permissions.c.id).where(permissions.c.name.in_(list(PERMISSIONS)))
    op.execute(
        role_permissions.delete().where(role_permissions.c.permission_id.in_(permission_ids))
    )
    op.execute(permissions.delete().where(permissions.c.name.in_(list(PERMISSIONS))))
    for name, text in {
        "update_article": "Edit articles",
        "delete_article": "Delete articles",
    }.items():
        op.execute(permissions.update().where(permissions.c.name == name).values(description=text))
