"""Errors of signing keys (raised to the operator's commands: no route changes keys)."""

from app.core.errors import Conflict, NotFound


class KeyNotFound(NotFound):
    code = "key_not_found"

    def __init__(self, kid: str) -> None:
        super().__init__(f"No signing key {kid}.")


class KeyAlreadyRetired(Conflict):
    code = "key_already_retired"

    def __init__(self, kid: str, state: str) -> None:
        super().__init__(f"Signing key {kid} is already {state}.")
