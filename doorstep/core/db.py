"""Small database helpers that must behave the same on SQLite and PostgreSQL."""

import fcntl
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import (
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    ForeignKey,
    Func,
    Lookup,
    Q,
    QuerySet,
    Subquery,
)


def prefix_q(field: str, prefix: str) -> Q:
    """`field` starts with `prefix`, in the form each database can answer from an index.

    SQLite compares text by code point (BINARY), so a half-open range [prefix, next prefix) is an
    index range scan. PostgreSQL may run under a linguistic collation where that range would be
    wrong, so there we keep LIKE 'prefix%', served by a *_pattern_ops index (see migrations).
    """
    if not prefix:
        return Q()
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__startswith": prefix})
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": upper})


def in_values_q(field: str, values) -> Q:
    """`field` is one of `values`. On PostgreSQL a batch of 2,000 values goes as one array
    parameter (`= ANY(%s)`), which the server plans once, instead of an IN list of 2,000."""
    values = list(values)
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__any_of": values})
    return Q(**{f"{field}__in": values})


def refresh_planner_statistics(*models) -> None:
    """After a large load the planner's row estimates are stale (PostgreSQL would guess that a
    district subtree holds one grid and pick a nested loop); refresh them for these tables."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models)
            cursor.execute(f"ANALYZE {tables}")
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA optimize")


def pattern_ops_index_sql(table: str, column: str) -> tuple[str, str]:
    """(create, drop) SQL for a PostgreSQL LIKE-prefix index; used by RunPython migrations."""
    name = f"{table}_{column}_like_idx"
    create = f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}" varchar_pattern_ops)'
    return create, f'DROP INDEX IF EXISTS "{name}"'


def add_pattern_ops_index(table: str, column: str):
    """A migration operation that adds the LIKE-prefix index on PostgreSQL and nothing elsewhere."""
    from django.db import migrations

    create, drop = pattern_ops_index_sql(table, column)

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop)

    return migrations.RunPython(forwards, backwards)


def sqlite_writer_lock_path(db_path: str | Path) -> Path:
    """The lock file on which the writers of the SQLite database at `db_path` take turns."""
    return Path(f"{db_path}.writelock")


_turns = threading.local()


@contextmanager
def sqlite_writer_turn():
    """On SQLite, wait for our turn to write on an OS file lock before BEGIN IMMEDIATE.

    SQLite lets one writer in at a time and makes the others poll with growing sleeps (up to
    100 ms each) on its busy handler, so under many concurrent writers most time is spent
    asleep. A blocking flock() wakes the next writer the moment the lock is released. Other
    databases queue writers themselves: there this does nothing.
    """
    if connection.vendor != "sqlite" or getattr(_turns, "depth", 0):
        # Inside our own turn already (a service calling another app's service in its
        # transaction, e.g. a checkpoint accept adding a key person): flock() on a second
        # descriptor of the same file would wait for ourselves.
        yield
        return
    name = connection.settings_dict["NAME"]
    if not name or str(name).startswith(":memory:") or "mode=memory" in str(name):
        yield
        return
    with open(sqlite_writer_lock_path(name), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _turns.depth = 1
        try:
            yield
        finally:
            _turns.depth = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


class AnyOf(Lookup):
    """`field = ANY(array)`: PostgreSQL only (see in_values_q)."""

    lookup_name = "any_of"

    def get_prep_lookup(self):
        return [self.lhs.output_field.get_prep_value(v) for v in self.rhs]

    def get_db_prep_lookup(self, value, connection):
        return "%s", [value]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


for _field in (CharField, BigAutoField, BigIntegerField, ForeignKey):
    _field.register_lookup(AnyOf)


class _EqualsAnyOfArray(Func):
    """`column = ANY(ARRAY(subquery))` (PostgreSQL)."""

    arg_joiner = " = ANY(ARRAY"
    template = "%(expressions)s)"
    output_field = BooleanField()


def in_subquery_q(field: str, rows: QuerySet[Any]) -> Q:
    """`field` is one of the values `rows` (a one-column queryset) selects. On PostgreSQL asked
    as `= ANY(ARRAY(subquery))`: the values become one array and the column an index condition,
    one descent per value. Asked as `IN (subquery)` the planner may hash-join the whole table
    when it misjudges the rows (a street's overdue revisits: the campaign's every revisit read
    for a street's 2,005, 4-6 ms against 0.7 ms)."""
    if connection.vendor == "postgresql":
        return Q(_EqualsAnyOfArray(field, Subquery(rows)))
    return Q(**{f"{field}__in": rows})


@dataclass(frozen=True)
class CountSQL:
    """A hand-written `SELECT COUNT(*) ...` and its parameters, for `count_each` beside the
    querysets (its scope compiled by the ORM from the access layer's rule, ARCHITECTURE rule
    22); `sql` None: it can hold no row (counts 0 without being sent)."""

    sql: str | None
    params: Sequence[Any] = ()


def count_each(querysets: Sequence[QuerySet | CountSQL]) -> list[int]:
    """`[qs.count() for qs in querysets]` in one statement: each queryset as its selector built
    it (its scope the access layer's own), compiled by the ORM into a sub-select that the
    database counts; a `CountSQL` is sent as it is written, a sub-select of its own. A page of
    to-dos spent more on the ORM's building of one count per figure than the database on
    answering them. A queryset that can hold no row (`none()`) counts 0 without being sent; all
    are read from the database the first queryset would read from (the default database when
    there is none)."""
    found = [0] * len(querysets)
    if not querysets:
        return found
    alias = next((q.db for q in querysets if isinstance(q, QuerySet)), DEFAULT_DB_ALIAS)
    connection_ = connections[alias]
    parts: list[str] = []
    params: list[Any] = []
    sent: list[int] = []
    for index, queryset in enumerate(querysets):
        if isinstance(queryset, CountSQL):
            if queryset.sql is None:
                continue
            parts.append(f"({queryset.sql})")
            params.extend(queryset.params)
            sent.append(index)
            continue
        query = queryset.order_by().values("pk").query
        try:
            sql, query_params = query.get_compiler(connection=connection_).as_sql()
        except EmptyResultSet:
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) counted_{index})")  # noqa: S608
        params.extend(query_params)
        sent.append(index)
    if parts:
        with connection_.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(parts), params)
            row = cursor.fetchone()
        for index, value in zip(sent, row, strict=True):
            found[index] = int(value)
    return found
