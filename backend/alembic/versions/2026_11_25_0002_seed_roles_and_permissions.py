"""seed the default roles and permissions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:30:00

The data is written out here, not imported from the app, so that this migration
does the same thing forever, whatever the app's code becomes.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERMISSIONS = {
    "create_article": "Create articles",
    "read_article": "Read articles",
    "update_article": "Edit articles",
    "delete_article": "Delete articles",
    "read_user": "See users",
    "update_user": "Change users: name, active flag, roles",
    "delete_user": "Delete users",
}
VIEWER = ["read_article", "read_user"]
EDITOR = [*VIEWER, "create_article", "update_article"]
ROLES = {
    "viewer": ("Reads articles and users", VIEWER),
    "editor": ("Writes articles", EDITOR),
    "admin": ("Everything", list(PERMISSIONS)),
}

permissions = sa.table(
    "permissions",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("description", sa.String),
)
roles = sa.table(
    "roles",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("description", sa.String),
)
role_permissions = sa.table(
    "role_permissions", sa.column("role_id", sa.Integer), sa.column("permission_id", sa.Integer)
)


def upgrade() -> None:
    op.bulk_insert(
        permissions, [{"name": name, "description": text} for name, text in PERMISSIONS.items()]
    )
    op.bulk_insert(
        roles, [{"name": name, "description": text} for name, (text, _) in ROLES.items()]
    )
    connection = op.get_bind()
    permission_ids = dict(connection.execute(sa.select(permissions.c.name, permissions.c.id)).all())
    role_ids = dict(connection.execute(sa.select(roles.c.name, roles.c.id)).all())
    op.bulk_insert(
        role_permissions,
        [
            {"role_id": role_ids[role], "permission_id": permission_ids[name]}
            for role, (_, names) in ROLES.items()
            for name in names
        ],
    )


def downgrade() -> None:
    role_ids = sa.select(roles.c.id).where(roles.c.name.in_(list(ROLES)))
    op.execute(role_permissions.delete().where(role_permissions.c.role_id.in_(role_ids)))
    op.execute(roles.delete().where(roles.c.name.in_(list(ROLES))))
    op.execute(permissions.delete().where(permissions.c.name.in_(list(PERMISSIONS))))
