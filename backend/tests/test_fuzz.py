"""Schemathesis against the app's own OpenAPI document, authenticated as an admin so that
protected operations are exercised past their 401.

Every operation gets generated requests, valid and invalid (stateless), and then sequences of
calls that feed one response into the next request, along the links schemathesis infers
(stateful: create an article, then read, update and delete it). Each response must:

- not be a 5xx (not_a_server_error);
- match the schema the document declares for its status (response_schema_conformance);
- when it is an error, be JSON with string `detail` and `code` (error_in_project_format).

Exclusions: none. What the fuzzer found was fixed, not excluded, and tests/test_hostile_input.py
pins each finding down: NUL (U+0000) in a string was a 500 on PostgreSQL wherever the string
reached the database (the email and role filters of GET /users, permission names at POST /roles,
names, titles, descriptions); the schemas now refuse it with a 422 on its field, and a
database refusal of unstorable text is a 422 wherever a schema misses it.

Generation is deterministic, so that CI is reproducible: FUZZ_MAX_EXAMPLES=200 FUZZ_RANDOM=1
explores further on a developer's machine.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.auth.models import User
from app.main import create_app
from tests.helpers import make_settings

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,  # nothing written under backend/
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


def error_in_project_format(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx and 5xx is JSON {"detail": str, "code": str, ...}."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"an error as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), f"an error body that is not an object: {body!r}"
    assert isinstance(body.get("detail"), str), f"no string detail: {body!r}"
    assert isinstance(body.get("code"), str), f"no string code: {body!r}"
    return True


CHECKS = [not_a_server_error, response_schema_conformance, error_in_project_format]


class Target:
    """The app under test and the admin's bearer header, set by the fixtures for each test.

    The document is read at import (schemathesis makes one test per operation from it), from
    an app that never connects: the document does not depend on the database. The calls go
    to an app of the test, on the test database.
    """

    app: Any = None
    headers: dict[str, str] = {}


schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(make_settings("sqlite+aiosqlite:///:memory:"))
)


@pytest.fixture(scope="module")
def fuzz_app(database_url: str) -> Iterator[Any]:
    """An app of its own: schemathesis serves it from its own event loop, in a thread."""
    Target.app = create_app(make_settings(database_url))
    yield Target.app
    asgi.shutdown_lifespans()  # closes that app's pool, on that loop


@pytest.fixture(autouse=True)
async def _as_an_admin(fuzz_app: Any, make_user: Any, client: Any) -> None:
    """A fresh admin for each test (`client` brings the cleanup of the database after it)."""
    admin: User = await make_user(roles=["admin"])
    token = fuzz_app.state.access_tokens.issue(admin.id)
    Target.headers = {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_in_its_schema_and_never_with_a_5xx(case: Any) -> None:
    case.call_and_validate(app=Target.app, headers=Target.headers, checks=CHECKS)


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences of calls along the inferred links, with the same checks on every step."""

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"app": Target.app, "headers": Target.headers}

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


def test_sequences_of_calls_along_the_links_answer_in_their_schemas() -> None:
    Workflow.run(
        settings=settings(
            FUZZ_SETTINGS, max_examples=max(5, MAX_EXAMPLES // 2), stateful_step_count=6
        )
    )
