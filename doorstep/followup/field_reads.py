"""The field pages' hottest reads, written by hand for both engines and returned as plain rows:
a worker's today page (`today_lists`) and a community's due list (`due_now_rows`, read by the due
API). The scope is always the access layer's own (`selectors.key_person_scope_q`, compiled by the
ORM: `key_person_where_sql`), never a second hand-written copy of it; tests hold the rows equal to
their ORM twins (`selectors.due_now`, `selectors.referrals_overdue`). On SQLite a list of 250 rows
spent more on building the ORM's query and making model objects than the database on answering."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from doorstep.accounts.models import User
from doorstep.core.db import CountSQL, count_each

from . import schedule
from .models import CheckOutcome, KeyPerson, MonitoringStatus, ReferralStatus
from .selectors import (
    Missed,
    TodayRow,
    key_person_scope_q,
    missed_of,
    referrals_overdue,
)


@dataclass(frozen=True, slots=True)
class DueRow:
    """A monitoring owing the current slot as the due list shows it (the due API: the key
    person, the name, the end date): the columns it needs, no model."""

    pk: int
    key_person_id: int
    name: str
    end_date: datetime.date


# due_now's rows (active_monitorings' scope and order, its filters), by hand: the scope is
# key_person_scope_q's, compiled by the ORM; the key person's table keeps its own name, which
# the compiled scope uses.
_DUE_SQL = """
SELECT m.id, m.key_person_id, p.name, m.end_date
FROM followup_monitoring m
JOIN followup_keyperson ON followup_keyperson.id = m.key_person_id
JOIN areas_area a ON a.id = followup_keyperson.community_id
JOIN registry_person p ON p.id = followup_keyperson.person_id
WHERE ({scope}) AND m.status = %s AND m.end_date >= %s AND m.started_at < %s
  AND (m.checked_on IS NULL OR m.checked_on < %s
    OR (m.checked_on = %s AND (m.checked_mask & %s) = 0))
ORDER BY a.path, m.key_person_id
LIMIT %s
"""


def due_now_rows(
    user: User, now: datetime.datetime | None = None, *, limit: int = 1000
) -> list[DueRow]:
    """due_now's first `limit` rows, in its order (the community's path, the key person), read
    as plain columns in one hand-written statement: on SQLite a list of 250 rows spent more on
    building the ORM's query and making three model objects a row (monitoring, key person,
    person) than the database on answering it."""
    now = now or timezone.now()
    scope = key_person_scope_q(user)
    if scope is None:
        return []
    compiled = key_person_where_sql(scope)
    if compiled is None:
        return []
    where, params = compiled
    current = schedule.slot_of(now)
    day = connection.ops.adapt_datefield_value(current.day)
    with connection.cursor() as cursor:
        cursor.execute(
            _DUE_SQL.format(scope=where),
            [
                *params,
                MonitoringStatus.ACTIVE.value,
                day,
                connection.ops.adapt_datetimefield_value(current.ends_at),
                day,
                day,
                1 << current.index,
                limit,
            ],
        )
        fetched = cursor.fetchall()
    return [DueRow(m_id, kp_id, name, _day(end)) for m_id, kp_id, name, end in fetched]


# due_now's count (the dashboards' to-do): its scope and filters, without the list's joins
_DUE_COUNT_SQL = """
SELECT COUNT(*)
FROM followup_monitoring m
JOIN followup_keyperson ON followup_keyperson.id = m.key_person_id
WHERE ({scope}) AND m.status = %s AND m.end_date >= %s AND m.started_at < %s
  AND (m.checked_on IS NULL OR m.checked_on < %s
    OR (m.checked_on = %s AND (m.checked_mask & %s) = 0))
"""


def due_now_count_sql(user: User, now: datetime.datetime | None = None) -> CountSQL:
    """`due_now(user, now).count()` as one hand-written statement, for `core.db.count_each`
    beside a page's other counts (a dashboard's to-do, on every view: the ORM's building of the
    count cost more than the database's answer). Its scope is `key_person_scope_q`, compiled by
    the ORM."""
    now = now or timezone.now()
    scope = key_person_scope_q(user)
    if scope is None:
        return CountSQL(None)
    compiled = key_person_where_sql(scope)
    if compiled is None:
        return CountSQL(None)
    where, params = compiled
    current = schedule.slot_of(now)
    day = connection.ops.adapt_datefield_value(current.day)
    return CountSQL(
        _DUE_COUNT_SQL.format(scope=where),
        [
            *params,
            MonitoringStatus.ACTIVE.value,
            day,
            connection.ops.adapt_datetimefield_value(current.ends_at),
            day,
            day,
            1 << current.index,
        ],
    )


def due_now_count(user: User, now: datetime.datetime | None = None) -> int:
    """`due_now(user, now).count()` in one hand-written statement (`due_now_count_sql`)."""
    (count,) = count_each([due_now_count_sql(user, now)])
    return count


@dataclass(frozen=True)
class Today:
    due: list[TodayRow]
    missed: list[Missed[TodayRow]]
    ending: list[TodayRow]
    unreachable: list[TodayRow]
    new: list[tuple[int, str]]  # (key person, name) given to the user in the last day
    # (key person, name, opened at) of the referrals not arrived in time, oldest first
    overdue_referrals: list[tuple[int, str, datetime.datetime]]


def key_person_where_sql(condition: Q) -> tuple[str, list[Any]] | None:
    """`condition` on the key person as SQL (its columns named "followup_keyperson"."column")
    and its parameters: the access layer's own rule, compiled by the ORM, in a hand-written
    statement. None when it can hold no row (e.g. "the community is one of none" on SQLite,
    which the ORM answers without asking the database)."""
    query = KeyPerson.objects.filter(condition).query
    try:
        sql, params = query.get_compiler(connection=connection).compile(query.where)
    except EmptyResultSet:
        return None
    except FullResultSet:
        return "1 = 1", []
    return sql, list(params)


def _aware(value: object) -> datetime.datetime:
    """A moment read by a hand-written statement: SQLite gives it naive (UTC) or as text."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    assert isinstance(value, datetime.datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def _day(value: object) -> datetime.date:
    if isinstance(value, str):
        return datetime.date.fromisoformat(value)
    assert isinstance(value, datetime.date)
    return value


# The worker's page, one statement of two parts. The first: the key persons in scope with their
# person's name, their active monitoring (LEFT JOIN: at most one a key person,
# one_active_monitoring_per_key_person) and that monitoring's checks of yesterday and today as
# one text ("t0:measured,y1:unreachable": t today, y yesterday, the slot, the outcome), those
# without a monitoring kept only when given to the user in the last day. The unary plus keeps
# SQLite from walking the community index in order (every key person of the district) to spare
# itself sorting the worker's few dozen. The second: their open referrals not arrived in time
# (the same scope on the referral's key person), in the columns of the first (the moment it was
# opened where a monitoring's start is; the NULLs typed for PostgreSQL's UNION).
_TODAY_SQL = """
SELECT * FROM (
SELECT 0, m.id, followup_keyperson.id, p.name, m.measure, m.started_at, m.end_date,
  m.checked_on, m.checked_mask, followup_keyperson.worker_id, followup_keyperson.created_at,
  (SELECT {agg}(CASE WHEN c.slot_date = %s THEN 't' ELSE 'y' END || c.slot || ':' || c.outcome,
   ',') FROM followup_check c
   WHERE c.monitoring_id = m.id AND c.slot_date >= %s AND c.slot_date <= %s),
  followup_keyperson.community_id
FROM followup_keyperson
JOIN registry_person p ON p.id = followup_keyperson.person_id
LEFT JOIN followup_monitoring m ON m.key_person_id = followup_keyperson.id
  AND m.status = %s AND m.end_date >= %s
WHERE ({scope}) AND (m.id IS NOT NULL
  OR (followup_keyperson.worker_id = %s AND followup_keyperson.created_at >= %s))
ORDER BY +followup_keyperson.community_id, followup_keyperson.id
LIMIT %s) AS lists
UNION ALL
SELECT * FROM (
SELECT 1, r.id, r.key_person_id, p.name, CAST(NULL AS text), r.opened_at, CAST(NULL AS date),
  CAST(NULL AS date), CAST(NULL AS integer), CAST(NULL AS bigint), r.opened_at,
  CAST(NULL AS text), CAST(NULL AS bigint)
FROM followup_referral r
JOIN followup_keyperson ON followup_keyperson.id = r.key_person_id
JOIN registry_person p ON p.id = followup_keyperson.person_id
WHERE ({scope}) AND r.status = %s AND r.opened_at < %s
ORDER BY r.opened_at, r.id
LIMIT %s) AS late
"""


def today_lists(
    user: User, now: datetime.datetime, *, limit: int = 300, referrals: int = 50
) -> Today:
    """The worker's page in one hand-written statement (the ORM spent more on building its
    queries than the database on answering them, and each statement is a round trip): the key
    persons in scope with their active monitoring and its last two days' checks, and their
    overdue referrals (_TODAY_SQL). The same rows as due_now, missed_slots, ending_today,
    unreachable_today, new_assigned and referrals_overdue, read as plain columns; the scope is
    key_person_scope_q's, compiled. Ordered by the key person's community id, then the key
    person: grouped by community like the lists ordered by the community's path, without
    joining the area table to sort."""
    today = schedule.local_date(now)
    since = today - datetime.timedelta(days=1)
    new_since = now - datetime.timedelta(days=1)
    current = schedule.slot_of(now)
    scope = key_person_scope_q(user)
    if scope is None:
        # no key person; clinic staff still see their facility's overdue referrals
        overdue = list(
            referrals_overdue(user, now)
            .order_by("opened_at", "pk")
            .values_list("key_person_id", "key_person__person__name", "opened_at")[:referrals]
        )
        return Today([], [], [], [], [], overdue)
    compiled = key_person_where_sql(scope)
    if compiled is None:
        return Today([], [], [], [], [], [])
    where, params = compiled
    ops = connection.ops
    day_param = ops.adapt_datefield_value
    moment = ops.adapt_datetimefield_value
    agg = "string_agg" if connection.vendor == "postgresql" else "group_concat"
    arrival = now - datetime.timedelta(hours=settings.FOLLOWUP_REFERRAL_ARRIVAL_HOURS)
    with connection.cursor() as cursor:
        cursor.execute(
            _TODAY_SQL.format(agg=agg, scope=where),
            [
                day_param(today),
                day_param(since),
                day_param(today),
                MonitoringStatus.ACTIVE.value,
                day_param(since),
                *params,
                user.pk,
                moment(new_since),
                limit * 10,
                *params,
                ReferralStatus.OPEN.value,
                moment(arrival),
                referrals,
            ],
        )
        fetched = cursor.fetchall()
    # each part in its order (UNION ALL promises none): the lists by community and key person,
    # the referrals by the moment they were opened
    rows = sorted((row[1:] for row in fetched if row[0] == 0), key=lambda row: (row[11], row[1]))
    late = sorted((_aware(row[5]), row[1], row[2], row[3]) for row in fetched if row[0] == 1)
    overdue = [(kp_id, name, opened) for opened, _id, kp_id, name in late]
    monitorings: list[TodayRow] = []
    new: list[tuple[int, str]] = []
    checked: dict[tuple[int, datetime.date, int], str] = {}
    unreachable_ids: set[int] = set()
    per_day = schedule.slots_per_day()
    user_pk = user.pk
    for row in rows:
        m_id, kp_id, name = row[0], row[1], row[2]
        if m_id is not None:
            monitorings.append(
                TodayRow(
                    m_id,
                    kp_id,
                    name,
                    row[3],
                    _aware(row[4]),
                    _day(row[5]),
                    None if row[6] is None else _day(row[6]),
                    row[7],
                )
            )
            if row[10]:
                for item in row[10].split(","):
                    slot_text, _colon, outcome = item[1:].partition(":")
                    slot, day = int(slot_text), today if item[0] == "t" else since
                    checked[(m_id, day, slot)] = outcome
                    if day == today and slot < per_day and outcome == CheckOutcome.UNREACHABLE:
                        unreachable_ids.add(m_id)  # not reached in a slot of today
        if row[8] == user_pk and _aware(row[9]) >= new_since and len(new) < limit:
            new.append((kp_id, name))
    bit = 1 << current.index
    current_ends_at = current.ends_at
    due = [
        m
        for m in monitorings
        if m.end_date >= today
        and m.started_at < current_ends_at
        and not (m.checked_on == today and m.checked_mask & bit)
    ]
    unreachable = [m for m in monitorings if m.pk in unreachable_ids]
    return Today(
        due=due[:limit],
        missed=missed_of(monitorings, checked, now, since)[:limit],
        ending=[m for m in monitorings if m.end_date == today][:limit],
        unreachable=unreachable[:limit],
        new=new,
        overdue_referrals=overdue,
    )
