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
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.auth.models import User
from app.main import create_app
from app.models import Base
from tests.helpers import SEED_TABLES, end_read, make_settings

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "15"))
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    database=None,  # nothing written under backend/
    deadline=None,
    # Hypothesis's health checks judge the test, not the app: schemathesis's strategies filter
    # much, examples go through a database, and the per-test admin is a function-scoped fixture.
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
    # The database as each sequence of the stateful test finds it: the seeded rows and the
    # admin. Written back through an engine of our own, on an event loop of our own.
    baseline: dict[str, list[dict[str, Any]]] = {}
    portal: BlockingPortal | None = None
    engine: AsyncEngine | None = None

    @classmethod
    def reset_database(cls) -> None:
        assert cls.portal is not None
        cls.portal.call(cls._write_baseline)

    @classmethod
    async def _write_baseline(cls) -> None:
        assert cls.engine is not None
        async with cls.engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(delete(table))
            for table in Base.metadata.sorted_tables:
                if rows := cls.baseline.get(table.name):
                    await connection.execute(insert(table), rows)


# Read from the app object, not served: an app that is never started needs no database.
schema = schemathesis.openapi.from_dict(
    create_app(make_settings("sqlite+aiosqlite:///:memory:")).openapi()
)


@pytest.fixture(scope="module")
def fuzz_app(database_url: str) -> Iterator[Any]:
    """An app of its own: schemathesis serves it from its own event loop, in a thread."""
    Target.app = create_app(make_settings(database_url))
    with start_blocking_portal() as portal:
        Target.portal = portal
        Target.engine = create_async_engine(database_url)
        yield Target.app
        portal.call(Target.engine.dispose)
    asgi.shutdown_lifespans()  # closes that app's pool, on that loop


@pytest.fixture(autouse=True)
async def _as_an_admin(
    fuzz_app: Any, make_user: Any, auth_headers: Any, session: Any, seed_rows: Any
) -> None:
    """A fresh admin for each test, with a live session; the database is emptied after it
    (`clean_database`, through `session`)."""
    admin: User = await make_user(roles=["admin"])
    Target.headers = await auth_headers(admin)
    Target.baseline = {name: seed_rows[name] for name in SEED_TABLES}
    for name in ("users", "user_roles", "auth_sessions", "refresh_tokens"):
        rows = await session.execute(select(Base.metadata.tables[name]))
        Target.baseline[name] = [dict(row._mapping) for row in rows]
    await end_read(session)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_answers_in_its_schema_and_never_with_a_5xx(case: Any) -> None:
    case.call_and_validate(app=Target.app, headers=Target.headers, checks=CHECKS)


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences of calls along the inferred links, with the same checks on every step. Each
    sequence starts from the same database, so that the same choices meet the same answers
    (Hypothesis refuses a sequence that does not replay the same way)."""

    def setup(self) -> None:
        Target.reset_database()

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"app": Target.app, "headers": Target.headers}

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)


def test_sequences_of_calls_along_the_links_answer_in_their_schemas() -> None:
    Workflow.run(settings=settings(FUZZ_SETTINGS, stateful_step_count=6))
