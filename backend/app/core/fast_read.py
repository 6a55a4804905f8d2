"""Fast reads: typed, registered SELECTs that run outside any transaction, in one round trip.

**When to use one.** Only for a read made on (nearly) every request, where SQLAlchemy's
connection and result layers are a measurable share of the request (BENCHMARKS.md): loading
the caller with roles and permissions, a page of articles. Everything else goes through the
request's session (``SessionDep``): one transaction, ORM objects, type processing.

**What you give up.** No transaction: the read sees what is committed when it runs, so never
pair it with writes that must agree with it. No ORM objects: each read has a row type of its
own (a NamedTuple whose fields are the selected columns, in order). On PostgreSQL, no
SQLAlchemy type processing: values are asyncpg's, so read only columns whose Python value
asyncpg already gives (aware UTC datetimes for ``UTCDateTime``, UUIDs, ints, strings).

**How.** Define the read at import, next to the service that uses it::

    ARTICLES_PAGE = FastRead("articles_page", select(...), ListedArticle)

and run it with ``await database.fetch(ARTICLES_PAGE, {"limit": 20, "offset": 0})``, which
returns ``list[ListedArticle]``. A read is compiled once per dialect; the registry keeps the
reads few and known, and tests/core/test_fast_reads.py runs every registered read through both
paths (asyncpg and SQLAlchemy) and compares the rows.

**A statement that writes** (``writes=True``): PostgreSQL's data-modifying WITH queries return
rows too, and one of them is atomic on its own: a write of several steps in one round trip, no
BEGIN or COMMIT (refresh-token rotation, app.auth.sessions). PostgreSQL only (the caller keeps
a path for SQLite), and never repeated: if the connection is lost, whether it committed is
unknown, so the error reaches the caller (503) instead of a second execution.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.engine import Dialect

AnySelect = Select[*tuple[Any, ...]]  # a SELECT of any columns
RowT = TypeVar("RowT", bound=tuple[Any, ...])


class FastRead(Generic[RowT]):
    """A SELECT paired with the NamedTuple its rows become, registered under a unique name."""

    registry: ClassVar[dict[str, "FastRead[Any]"]] = {}

    def __init__(
        self, name: str, statement: AnySelect, row_type: type[RowT], *, writes: bool = False
    ) -> None:
        fields: tuple[str, ...] = getattr(row_type, "_fields", ())
        if len(fields) != len(statement.selected_columns):
            raise TypeError(
                f"fast read {name!r}: {row_type.__name__} has {len(fields)} fields for "
                f"{len(statement.selected_columns)} columns"
            )
        if name in FastRead.registry:
            raise ValueError(f"a fast read named {name!r} already exists")
        self.name = name
        self.statement = statement
        self.row_type = row_type
        self.writes = writes
        self._compiled: dict[str, tuple[str, tuple[str, ...]]] = {}
        FastRead.registry[name] = self

    def compiled(self, dialect: Dialect) -> tuple[str, tuple[str, ...]]:
        """The SQL for this dialect and the names of its parameters, in their order."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            sql = self.statement.compile(dialect=dialect)
            compiled = (str(sql), tuple(sql.positiontup or ()))
            self._compiled[dialect.name] = compiled
        return compiled

    def rows(self, raw: Iterable[Sequence[Any]]) -> list[RowT]:
        return [self.row_type(*row) for row in raw]

    def arguments(self, dialect: Dialect, parameters: Mapping[str, Any]) -> list[Any]:
        """The parameters in the order of the compiled statement's placeholders."""
        _, names = self.compiled(dialect)
        return [parameters[name] for name in names]

    def __repr__(self) -> str:
        return f"FastRead({self.name!r})"


def registered(read: object) -> FastRead[Any]:
    """The read itself, if it is one of the registry's; anything else is refused."""
    if not isinstance(read, FastRead) or FastRead.registry.get(read.name) is not read:
        raise TypeError(f"{read!r} is not a registered FastRead")
    return read
