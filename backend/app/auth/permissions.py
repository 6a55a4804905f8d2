"""Every permission py-auth knows, named once. Routes name these members, never strings, and
the app refuses to start when the database lacks one of them (a typo fails loudly at start-up,
not as a 403 for everyone). Migrations write the names out as data: a migration must do the
same thing forever, whatever this list becomes."""

from enum import StrEnum


class Perm(StrEnum):
    READ_ARTICLE = "read_article"
    CREATE_ARTICLE = "create_article"
    # Editing or deleting one's own articles; the *_ANY_* members reach everyone's.
    UPDATE_ARTICLE = "update_article"
    UPDATE_ANY_ARTICLE = "update_any_article"
    DELETE_ARTICLE = "delete_article"
    DELETE_ANY_ARTICLE = "delete_any_article"
    READ_USER = "read_user"
    READ_USER_PRIVATE = "read_user_private"
    CREATE_USER = "create_user"
    UPDATE_USER = "update_user"
    DELETE_USER = "delete_user"
    MANAGE_ROLES = "manage_roles"
    READ_AUDIT = "read_audit"
    # Service accounts (OAuth2 client credentials): create, list, rotate secrets, delete.
    MANAGE_SERVICE_ACCOUNTS = "manage_service_accounts"
    # POST /auth/introspect (RFC 7662) with a bearer token.
    INTROSPECT_TOKENS = "introspect_tokens"
