"""Plain multi-row INSERT through the driver's executemany, for bulk loads on the hot path.

The ORM's bulk_create builds a model instance per row and compiles SQL per batch; for a million
validated rows that overhead is larger than the insert itself. Values are adapted with the
backend's own adapters, so dates and aware datetimes are stored exactly as the ORM stores them.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


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
        cursor.executemany(sql, rows)


def _adapter_for(field):
    internal = field.get_internal_type()
    if internal == "DateTimeField":
        return connection.ops.adapt_datetimefield_value
    if internal == "DateField":
        return connection.ops.adapt_datefield_value
    return None
