"""Bulk loads on the hot path: COPY on PostgreSQL, executemany on SQLite.

The ORM's bulk_create builds a model instance per row and compiles SQL per batch; for a million
validated rows that overhead is larger than the insert itself. Values go through each field's
own `get_db_prep_save`, so dates, aware datetimes, decimals, UUIDs and JSON are stored exactly
as the ORM stores them.
"""

from collections.abc import Sequence
from functools import partial

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

# Field types whose Python values the driver cannot take as they are on every backend.
_ADAPTED_TYPES = {"DateTimeField", "DateField", "DecimalField", "JSONField", "UUIDField"}


def insert_rows(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence],
    *,
    adapted: Sequence[str] = (),
) -> None:
    """INSERT `rows` (tuples in `fields` order). Values of the `adapted` fields are already in
    the database's form (e.g. one timestamp adapted once for a whole batch)."""
    if not rows:
        return
    opts = model._meta
    qn = connection.ops.quote_name
    columns = [opts.get_field(f).column for f in fields]
    # Table and column names come from model metadata, never from input; values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        qn(opts.db_table), ", ".join(qn(c) for c in columns), ", ".join(["%s"] * len(columns))
    )
    adapters = [None if f in adapted else _adapter_for(opts.get_field(f)) for f in fields]
    if any(adapters):
        rows = [
            tuple(a(v) if a and v is not None else v for a, v in zip(adapters, row, strict=True))
            for row in rows
        ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY streams the rows in one statement; executemany through Django's client-side
            # binding would send (and the server parse) one INSERT per row.
            copy_sql = "COPY {} ({}) FROM STDIN".format(
                qn(opts.db_table), ", ".join(qn(c) for c in columns)
            )
            with cursor.cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(sql, rows)


def _adapter_for(field):
    internal = field.get_internal_type()
    # The proxy `connection` looks up the thread's connection on every use; resolve it once.
    real = connections[DEFAULT_DB_ALIAS]
    if real.vendor == "postgresql" and internal in ("DateField", "DateTimeField"):
        return None  # psycopg sends dates and aware datetimes as they are
    if real.vendor == "sqlite" and internal == "DateField":
        return _iso_date  # what SQLite's adapt_datefield_value does, without the detours
    if internal in _ADAPTED_TYPES:
        return partial(field.get_db_prep_save, connection=real)
    return None


def _iso_date(value) -> str:
    return value.isoformat()
