"""A new check's rows, written by hand: the check, its submission (client UUID and body hash) and
the monitoring's moved tally, inside the caller's transaction. On PostgreSQL one statement (a
data-modifying WITH: one round trip instead of three), elsewhere three; on SQLite three saves
spent more on building their statements than the database on writing the rows. Each value is
prepared by its own field, as the ORM would."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import connection, models

from ..models import Check, CheckOutcome, CheckSubmission, Monitoring

CHECK_COLUMNS = (
    "monitoring_id",
    "slot_date",
    "slot",
    "outcome",
    "method",
    "temperature",
    "symptoms",
    "measured_at",
    "entered_at",
    "entered_by_id",
    "late",
)
SUBMISSION_COLUMNS = ("client_uuid", "body_hash", "created_at", "check_row_id")

# Both statements name the columns from CHECK_COLUMNS and SUBMISSION_COLUMNS (constants), so
# the values prepared in their order land where they belong on both engines.
_CHECK_COLUMN_LIST = ", ".join(CHECK_COLUMNS)
_CHECK_VALUES = ", ".join(["%s"] * len(CHECK_COLUMNS))
_SUBMISSION_COLUMN_LIST = ", ".join(SUBMISSION_COLUMNS)
_CHECK_INSERT = f"INSERT INTO followup_check ({_CHECK_COLUMN_LIST}) VALUES ({_CHECK_VALUES})"  # noqa: S608 (constants)
_SUBMISSION_INSERT = (
    f"INSERT INTO followup_checksubmission ({_SUBMISSION_COLUMN_LIST}) "  # noqa: S608 (constants)
    f"VALUES ({', '.join(['%s'] * len(SUBMISSION_COLUMNS))})"
)
# The check, its submission (its last column the new check's id) and (in {tally}) the
# monitoring's tally, in one statement.
_ONE_STATEMENT = (
    f"WITH c AS (INSERT INTO followup_check ({_CHECK_COLUMN_LIST}) "  # noqa: S608 (constants)
    f"VALUES ({_CHECK_VALUES}) RETURNING id), "
    f"s AS (INSERT INTO followup_checksubmission ({_SUBMISSION_COLUMN_LIST}) "
    f"SELECT {', '.join(['%s'] * (len(SUBMISSION_COLUMNS) - 1))}, c.id FROM c){{tally}} "
    "SELECT c.id FROM c"
)


def tally_moved(monitoring: Monitoring, check: Check) -> list[str]:
    """Move the monitoring's tally (in memory) by a new check; the names of the fields moved."""
    fields = []
    if check.outcome == CheckOutcome.MEASURED and (
        monitoring.last_check_at is None or check.measured_at > monitoring.last_check_at
    ):
        monitoring.last_check_at = check.measured_at
        fields.append("last_check_at")
    bit = 1 << check.slot
    if monitoring.checked_on is None or check.slot_date > monitoring.checked_on:
        monitoring.checked_on, monitoring.checked_mask = check.slot_date, bit
        fields += ["checked_on", "checked_mask"]
    elif check.slot_date == monitoring.checked_on and not monitoring.checked_mask & bit:
        monitoring.checked_mask |= bit
        fields.append("checked_mask")
    return fields


def _prepared(model: type[models.Model], values: dict[str, Any]) -> list[Any]:
    params = []
    for name, value in values.items():
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field)
        params.append(field.get_db_prep_save(value, connection))
    return params


def _tally_update(moved: list[str]) -> str:
    # the names come from tally_moved's fixed list, never from input
    return "UPDATE followup_monitoring SET {} WHERE id = %s".format(  # noqa: S608
        ", ".join(f"{name} = %s" for name in moved)
    )


def check_insert(
    check: Check,
    monitoring: Monitoring,
    *,
    client_uuid: uuid.UUID,
    digest: str,
    now: datetime.datetime,
) -> None:
    """Write `check` (a new one), its submission and the monitoring's moved tally. A UUID
    already used or a slot already checked raises IntegrityError on either engine."""
    moved = tally_moved(monitoring, check)
    check_params = _prepared(Check, {name: getattr(check, name) for name in CHECK_COLUMNS})
    submission = {"client_uuid": client_uuid, "body_hash": digest, "created_at": now}
    tally_params = _prepared(Monitoring, {name: getattr(monitoring, name) for name in moved})
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tally = f", m AS ({_tally_update(moved)})" if moved else ""
            params = [*check_params, *_prepared(CheckSubmission, submission)]
            if moved:
                params += [*tally_params, monitoring.pk]
            cursor.execute(_ONE_STATEMENT.format(tally=tally), params)
            check.pk = cursor.fetchone()[0]
        else:
            cursor.execute(_CHECK_INSERT, check_params)
            check.pk = cursor.lastrowid
            submission["check_row_id"] = check.pk
            cursor.execute(_SUBMISSION_INSERT, _prepared(CheckSubmission, submission))
            if moved:
                cursor.execute(_tally_update(moved), [*tally_params, monitoring.pk])
    check._state.adding = False
    check._state.db = connection.alias
