"""The progress fold (progress.py) computed for a whole campaign in one SQL statement.

`fold_step` stays the definition: a visit that sorts last moves the stored progress by one step
in the visit's own transaction. Folding a million visits one step at a time in Python, and
writing the rows back one by one, took `recompute_progress --fix` ten minutes at 1M persons on
PostgreSQL; this module states the same fold as aggregates over each household's visits in
(visited_at, id) order, so the database computes every household's expected progress at once.
tests/screening/test_progress_sql.py checks it against `fold_visits` on random visit orders.

Why aggregates are enough (read with `fold_step`):

- a visit counts when it is not a self-report, or a verified one; `attempts` counts those;
- screened, vacant and moved out close a household for good (screened wins over vacant), so
  `failed_attempts` counts the counted visits of any other outcome before the first closing one,
  and escalation is `failed_attempts >= max_attempts` while nothing closed it;
- `last_outcome` / `last_visit_at` are the last counted visit's; the person figures are the last
  counted screening's (its checks joined once per household, after the fold: joined to every
  visit inside the fold, SQLite scanned the checks once per visit, 7 minutes at 95k visits);
- the underlying state of a household never closed is "revisit" when the last counted visit
  found nobody home, else "refused" (not started without counted visits);
- a self-report yet to be verified shows the household as self-reported until it is closed,
  and closed states never reopen, so the overlay is "any uncounted visit and not closed";
- the revisit is due at the next time slot after the last counted visit, when the household
  waits for a revisit.
"""

import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from doorstep.registry.models import Person, PersonStatus

from .models import (
    CLOSED_STATES,
    Campaign,
    HouseholdProgress,
    PersonCheck,
    Presence,
    ProgressState,
    Visit,
    VisitOutcome,
    VisitSource,
)
from .progress import PROGRESS_FIELDS, SLOTS, next_revisit

EXPECTED_TABLE = "doorstep_expected_progress"
CLOSING = (VisitOutcome.SCREENED, VisitOutcome.VACANT, VisitOutcome.MOVED)


def _quoted(values) -> str:
    """A list of this module's constants as SQL string literals (no user input reaches here)."""
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values)


def _next_revisit_sql(column: str) -> str:
    """`next_revisit(column)` as a SQL expression: PostgreSQL computes the slots in the
    configured time zone; SQLite calls `next_revisit` itself (registered on the connection)."""
    if connection.vendor == "sqlite":
        return f"doorstep_next_revisit({column})"
    zone = _quoted([settings.TIME_ZONE])
    local = f"({column} AT TIME ZONE {zone})"
    day = f"date_trunc('day', {local})"
    whens = " ".join(
        f"WHEN {local} < {day} + interval '{start} hours' THEN {day} + interval '{start} hours'"
        for start, _end in SLOTS
    )
    first = SLOTS[0][0]
    return f"((CASE {whens} ELSE {day} + interval '1 day {first} hours' END) AT TIME ZONE {zone})"


def _register_sqlite_functions() -> None:
    def sqlite_next_revisit(stored):
        if stored is None:
            return None
        moment = parse_datetime(stored)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, datetime.UTC)
        return connection.ops.adapt_datetimefield_value(next_revisit(moment))

    connection.ensure_connection()
    connection.connection.create_function(
        "doorstep_next_revisit", 1, sqlite_next_revisit, deterministic=True
    )


def register_sqlite_functions() -> None:
    """What the fold calls on SQLite (the brief's fold of a past day runs it too)."""
    _register_sqlite_functions()


def expected_progress_sql(*, as_of: bool = False, revisit_due: bool = True) -> str:
    """SELECT of (progress id, household id, *PROGRESS_FIELDS) as the fold says, for every
    progress row of the campaign given as the one parameter (three times: %(campaign)s).

    `as_of`: the fold as the records stood at a past moment (the daily brief of a past day):
    only visits that happened before %(until)s and were typed by %(known)s, and a self-report
    counts only if it was verified by %(known)s.

    `revisit_due=False`: revisit_due_at is left NULL (the brief compares last_visit_at with
    a moment computed once instead: no per-row function on SQLite)."""
    known = "AND v.visited_at < %(until)s AND v.entered_at <= %(known)s" if as_of else ""
    verified = "v.verified_at IS NOT NULL" + (" AND v.verified_at <= %(known)s" if as_of else "")
    visit, check = Visit._meta.db_table, PersonCheck._meta.db_table
    progress, person = HouseholdProgress._meta.db_table, Person._meta.db_table
    campaign = Campaign._meta.db_table
    closing = _quoted(CLOSING)
    closed_states = _quoted(sorted(CLOSED_STATES))
    elsewhere = _quoted([Presence.IN_DISTRICT, Presence.OUT_OF_TOWN])
    due = (
        f"CASE WHEN underlying_state = '{ProgressState.REVISIT}' "
        f"THEN {_next_revisit_sql('last_visit_at')} END"
        if revisit_due
        else "NULL"
    )
    fold_sql = f"""
        WITH checks AS (
            SELECT c.visit_id,
                   SUM(CASE WHEN c.presence = '{Presence.PRESENT}' THEN 1 ELSE 0 END) AS seen,
                   SUM(CASE WHEN c.presence IN ({elsewhere}) THEN 1 ELSE 0 END) AS elsewhere,
                   SUM(CASE WHEN c.flagged THEN 1 ELSE 0 END) AS flagged
            FROM {check} c JOIN {visit} v ON v.id = c.visit_id
            WHERE v.campaign_id = %(campaign)s {known}
            GROUP BY c.visit_id
        ),
        visits AS (
            SELECT v.id, v.household_id, v.visited_at, v.outcome,
                   CASE WHEN v.source <> '{VisitSource.SELF_REPORT}'
                          OR ({verified}) THEN 1 ELSE 0 END AS counted,
                   ROW_NUMBER() OVER (
                       PARTITION BY v.household_id ORDER BY v.visited_at, v.id
                   ) AS seq
            FROM {visit} v
            WHERE v.campaign_id = %(campaign)s {known}
        ),
        marked AS (
            SELECT visits.*,
                   MIN(CASE WHEN counted = 1 AND outcome IN ({closing}) THEN seq END)
                       OVER household AS first_closing,
                   MAX(CASE WHEN counted = 1 THEN seq END) OVER household AS last_counted,
                   MAX(CASE WHEN counted = 1 AND outcome = '{VisitOutcome.SCREENED}' THEN seq END)
                       OVER household AS last_screened
            FROM visits
            WINDOW household AS (PARTITION BY household_id)
        ),
        folded AS (
            SELECT m.household_id,
                   SUM(m.counted) AS attempts,
                   SUM(CASE WHEN m.counted = 1 AND m.outcome NOT IN ({closing})
                             AND (m.first_closing IS NULL OR m.seq < m.first_closing)
                            THEN 1 ELSE 0 END) AS failed_attempts,
                   MAX(CASE WHEN m.seq = m.last_counted THEN m.outcome END) AS last_outcome,
                   MAX(CASE WHEN m.seq = m.last_counted THEN m.visited_at END) AS last_visit_at,
                   MAX(CASE WHEN m.seq = m.last_screened THEN m.id END) AS screened_visit,
                   MAX(CASE WHEN m.counted = 1 AND m.outcome = '{VisitOutcome.SCREENED}'
                            THEN 1 ELSE 0 END) AS any_screened,
                   MAX(CASE WHEN m.counted = 1
                             AND m.outcome IN ('{VisitOutcome.VACANT}', '{VisitOutcome.MOVED}')
                            THEN 1 ELSE 0 END) AS any_vacant,
                   MAX(1 - m.counted) AS any_uncounted
            FROM marked m
            GROUP BY m.household_id
        ),
        members AS (
            SELECT pe.household_id, COUNT(*) AS persons_total
            FROM {person} pe JOIN {progress} pr ON pr.household_id = pe.household_id
            WHERE pr.campaign_id = %(campaign)s AND pe.status = '{PersonStatus.ACTIVE}'
            GROUP BY pe.household_id
        ),
        underlying AS (
            SELECT pr.id, pr.household_id, f.attempts, f.failed_attempts, f.last_outcome,
                   f.last_visit_at, c.seen, c.elsewhere, c.flagged, f.any_uncounted,
                   COALESCE(mb.persons_total, 0) AS persons_total,
                   CASE WHEN f.any_screened = 1 THEN '{ProgressState.SCREENED}'
                        WHEN f.any_vacant = 1 THEN '{ProgressState.VACANT}'
                        WHEN COALESCE(f.attempts, 0) = 0 THEN '{ProgressState.NOT_STARTED}'
                        WHEN f.failed_attempts >= ca.max_attempts
                            THEN '{ProgressState.ESCALATED}'
                        WHEN f.last_outcome = '{VisitOutcome.NOT_HOME}'
                            THEN '{ProgressState.REVISIT}'
                        ELSE '{ProgressState.REFUSED}'
                   END AS underlying_state
            FROM {progress} pr
            JOIN {campaign} ca ON ca.id = pr.campaign_id
            LEFT JOIN folded f ON f.household_id = pr.household_id
            LEFT JOIN checks c ON c.visit_id = f.screened_visit
            LEFT JOIN members mb ON mb.household_id = pr.household_id
            WHERE pr.campaign_id = %(campaign)s
        ),
        stated AS (
            SELECT u.*,
                   CASE WHEN u.any_uncounted = 1 AND u.underlying_state NOT IN ({closed_states})
                        THEN '{ProgressState.SELF_REPORTED}' ELSE u.underlying_state
                   END AS state
            FROM underlying u
        )
        SELECT id, household_id,
               state,
               state IN ({closed_states}) AS closed,
               COALESCE(attempts, 0) AS attempts,
               COALESCE(failed_attempts, 0) AS failed_attempts,
               COALESCE(last_outcome, '') AS last_outcome,
               last_visit_at,
               {due} AS revisit_due_at,
               persons_total,
               COALESCE(seen, 0) AS persons_seen,
               COALESCE(elsewhere, 0) AS persons_elsewhere,
               COALESCE(flagged, 0) AS persons_flagged
        FROM stated
    """  # noqa: S608 - table names and enum values are this module's constants
    return fold_sql


def _differs(field: str) -> str:
    operator = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
    return f"p.{field} {operator} e.{field}"


def expected_progress_load(*, campaign_id: int) -> None:
    """Compute the campaign's expected progress into a temporary table (inside the caller's
    transaction; `expected_progress_drop` removes it)."""
    if connection.vendor == "sqlite":
        _register_sqlite_functions()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            # The fold reads whole campaigns: hash joins are always right. Statistics taken
            # before a bulk load of visits (when a rebuild from scratch is wanted) make the
            # planner pick nested loops over CTEs, quadratic in the visits (30 s at 20k).
            cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(f"DROP TABLE IF EXISTS {EXPECTED_TABLE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {EXPECTED_TABLE} AS {expected_progress_sql()}",
            {"campaign": campaign_id},
        )
        cursor.execute(f"CREATE INDEX {EXPECTED_TABLE}_id ON {EXPECTED_TABLE} (id)")


def expected_progress_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {EXPECTED_TABLE}")


def progress_differences(batch: int = 2000):
    """(household id, {field: (stored, expected)}) for every progress row the expected table
    disagrees with, streamed in batches."""
    progress = HouseholdProgress._meta.db_table
    stored = ", ".join(f"p.{f}" for f in PROGRESS_FIELDS)
    expected = ", ".join(f"e.{f}" for f in PROGRESS_FIELDS)
    differs = " OR ".join(_differs(f) for f in PROGRESS_FIELDS)
    sql = (
        f"SELECT p.household_id, {stored}, {expected} FROM {progress} p "  # noqa: S608
        f"JOIN {EXPECTED_TABLE} e ON e.id = p.id WHERE {differs} ORDER BY p.id"
    )
    count = len(PROGRESS_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch):
            for household_id, *values in rows:
                old, new = values[:count], values[count:]
                yield (
                    household_id,
                    {
                        name: (old[i], new[i])
                        for i, name in enumerate(PROGRESS_FIELDS)
                        if _normalised(old[i]) != _normalised(new[i])
                    },
                )


def _normalised(value):
    return int(value) if isinstance(value, bool) else value


def progress_fix() -> int:
    """Write the expected values over every differing progress row: one UPDATE."""
    progress = HouseholdProgress._meta.db_table
    assignments = ", ".join(f"{f} = e.{f}" for f in PROGRESS_FIELDS)
    differs = " OR ".join(_differs(f) for f in PROGRESS_FIELDS)
    sql = (
        f"UPDATE {progress} AS p SET {assignments} FROM {EXPECTED_TABLE} e "  # noqa: S608
        f"WHERE e.id = p.id AND ({differs})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.rowcount
