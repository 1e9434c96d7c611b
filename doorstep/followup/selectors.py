"""Reads of follow-up, always scoped to the user. Out of scope raises Http404, like absent.

- community admins and above: key persons whose responsible community lies in their
  jurisdiction, and those being transferred into it (until accepted, both sides see them);
- a grid worker: the key persons assigned to them, while they hold a jurisdiction;
- clinic staff: no key person; the referrals to their own facility (ClinicStaffing);
- everybody else: nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import in_values_q, prefix_q
from doorstep.registry.models import Person, PersonStatus

from . import schedule
from .models import (
    Check,
    CheckOutcome,
    ClinicStaffing,
    DuplicateStatus,
    Facility,
    KeyPerson,
    Monitoring,
    MonitoringStatus,
    PossibleDuplicate,
    Referral,
    ReferralStatus,
)


def _path(user: User) -> str | None:
    if not user.is_authenticated or not user.is_active or user.jurisdiction_area is None:
        return None
    return user.jurisdiction_area.path


def in_area_q(area: Area, via: str = "") -> Q:
    """Key persons (reached through `via`, e.g. "key_person__") of an area: by their responsible
    community for a community and above, by the grid of their household for a grid."""
    if area.level >= AreaLevel.GRID:
        return prefix_q(f"{via}person__household__grid__path", area.path)
    return prefix_q(f"{via}community__path", area.path)


def _communities_under(path: str) -> list[int]:
    """The ids of the communities at or under a jurisdiction's path (a short indexed read). A key
    person's community and the community it is transferred to are always communities (the
    services refuse any other level), so these are all the ids its columns can hold there.

    Read first and passed as a literal array: the planner then knows how few key persons they
    hold and reads their monitorings through the key-person index. Asked as a sub-select
    (`IN (SELECT ...)` or `= ANY(ARRAY(SELECT ...))`) it guessed thousands and scanned every
    monitoring; asked by path through the join, it scanned every key person; with the grids'
    ids in the array (no key person) it guessed ten times the rows."""
    return [
        pk
        for pk in Area.objects.filter(
            prefix_q("path", path), level=AreaLevel.COMMUNITY
        ).values_list("pk", flat=True)
    ]


def key_person_scope_q(user: User, via: str = "") -> Q | None:
    """The key persons the user sees, as a condition on the key person reached through `via`
    (e.g. "key_person__"); None: nothing. Written on the key person's own columns (its worker,
    its community's and transfer's ids) so that a list joins and filters in one pass on their
    indexes: a community admin's rows are read through the community's index, a worker's
    through the worker's, never by scanning every key person for a sub-select."""
    if not user.is_authenticated or not user.is_active or user.jurisdiction_area_id is None:
        return None
    if user.role == Role.GRID_WORKER:
        # while they hold a jurisdiction (its id is enough: no read of the area)
        return Q(**{f"{via}worker_id": user.pk})
    if user.role not in (Role.COMMAND, Role.STREET_ADMIN, Role.COMMUNITY_ADMIN):
        return None
    path = _path(user)
    if path is None:
        return None
    # "the community's (or the transfer's) path starts with the jurisdiction's", asked as "the
    # community is one of the areas under the jurisdiction": the same rows.
    areas = _communities_under(path)
    return in_values_q(f"{via}community_id", areas) | in_values_q(f"{via}transfer_to_id", areas)


def area_scope_covers(user: User, area: Area) -> bool:
    """Whether every key person that in_area_q(area) finds is one the user sees: an admin or
    command user, an area at community level or above inside their jurisdiction (in_area_q
    then asks for the responsible community's path under the area's, which lies under the
    jurisdiction's)."""
    path = _path(user)
    return (
        path is not None
        and user.role in (Role.COMMAND, Role.STREET_ADMIN, Role.COMMUNITY_ADMIN)
        and area.level < AreaLevel.GRID
        and area.path.startswith(path)
    )


def key_persons_visible_to(user: User) -> QuerySet[KeyPerson]:
    scope = key_person_scope_q(user)
    if scope is None:
        return KeyPerson.objects.none()
    return KeyPerson.objects.filter(scope)


KEY_PERSON_RELATED = ("person", "person__household", "community", "worker", "transfer_to")


def access_key_person(
    user: User, key_person_id: int | str, *, related: tuple[str, ...] = KEY_PERSON_RELATED
) -> KeyPerson:
    """The key person, if the user sees it (else Http404), with `related` read in the same
    query (a check submission needs none of them)."""
    try:
        return key_persons_visible_to(user).select_related(*related).get(pk=key_person_id)
    except (KeyPerson.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def _monitorings_in_scope(user: User) -> QuerySet[Monitoring]:
    scope = key_person_scope_q(user, "key_person__")
    if scope is None:
        return Monitoring.objects.none()
    return Monitoring.objects.filter(scope)


def monitorings_visible_to(user: User) -> QuerySet[Monitoring]:
    return _monitorings_in_scope(user)


def active_monitorings(user: User) -> QuerySet[Monitoring]:
    return (
        _monitorings_in_scope(user)
        .filter(status=MonitoringStatus.ACTIVE)
        .select_related("key_person", "key_person__person")
        .order_by("key_person__community__path", "key_person_id")
    )


def area_in_scope(user: User, code: str) -> Area:
    path = _path(user)
    area = Area.objects.filter(code=code).first() if code else None
    if area is None or path is None or not area.path.startswith(path):
        raise Http404
    return area


def key_person_list(
    user: User,
    *,
    status: str = "",
    reason: str = "",
    measure: str = "",
    area: Area | None = None,
) -> QuerySet[KeyPerson]:
    """The key-person list with its filters (status and measure of the open or latest
    monitoring, a reason kind, an area)."""
    rows = key_persons_visible_to(user).filter(merged_into__isnull=True)
    if area is not None:
        rows = rows.filter(in_area_q(area))
    if reason:
        rows = rows.filter(reasons__kind=reason, reasons__active=True)
    if status:
        rows = rows.filter(monitorings__status=status)
    if measure:
        rows = rows.filter(
            monitorings__measure=measure, monitorings__status=MonitoringStatus.ACTIVE
        )
    return (
        rows.distinct()
        .select_related("person", "community", "worker")
        .order_by("community__path", "-created_at", "pk")
    )


def referrals_for_clinic(user: User) -> QuerySet[Referral]:
    """The referrals to the facility a clinic account staffs."""
    if not user.is_authenticated or not user.is_active or user.role != Role.CLINIC_STAFF:
        return Referral.objects.none()
    facility_id = (
        ClinicStaffing.objects.filter(user=user).values_list("facility_id", flat=True).first()
    )
    if facility_id is None:
        return Referral.objects.none()
    return Referral.objects.filter(facility_id=facility_id)


def referrals_visible_to(user: User) -> QuerySet[Referral]:
    if user.is_authenticated and user.role == Role.CLINIC_STAFF:
        return referrals_for_clinic(user)
    scope = key_person_scope_q(user, "key_person__")
    if scope is None:
        return Referral.objects.none()
    return Referral.objects.filter(scope)


def access_referral(user: User, referral_id: int | str) -> Referral:
    try:
        return (
            referrals_visible_to(user)
            .select_related("key_person", "key_person__person", "facility")
            .get(pk=referral_id)
        )
    except (Referral.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def facilities_visible_to(user: User) -> QuerySet[Facility]:
    """Sites serving an area above or inside the user's jurisdiction; clinic staff: their own."""
    if user.is_authenticated and user.is_active and user.role == Role.CLINIC_STAFF:
        return Facility.objects.filter(staff__user=user)
    path = _path(user)
    if path is None:
        return Facility.objects.none()
    ancestors = [c for c in path.strip("/").split("/") if c]
    return Facility.objects.filter(Q(area__code__in=ancestors) | prefix_q("area__path", path))


def access_facility(user: User, facility_id: int | str) -> Facility:
    try:
        return facilities_visible_to(user).get(pk=facility_id)
    except (Facility.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def duplicates_visible_to(user: User) -> QuerySet[PossibleDuplicate]:
    if user.role == Role.GRID_WORKER:
        return PossibleDuplicate.objects.none()
    visible = key_persons_visible_to(user)
    return (
        PossibleDuplicate.objects.filter(key_person__in=visible, other__in=visible)
        .filter(status=DuplicateStatus.PENDING)
        .select_related("key_person__person", "other__person")
    )


def access_duplicate(user: User, case_id: int | str) -> PossibleDuplicate:
    try:
        return duplicates_visible_to(user).get(pk=case_id)
    except (PossibleDuplicate.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


# -- what is due, missed, ending ---------------------------------------------------------------
def due_now(user: User, now: datetime.datetime | None = None) -> QuerySet[Monitoring]:
    """Active monitorings owing the current slot and without a check for it, as a queryset (to
    count them, or for code that wants the models); a list reads due_now_rows, the same rows
    as plain columns."""
    now = now or timezone.now()
    current = schedule.slot_of(now)
    bit = 1 << current.index
    return (
        active_monitorings(user)
        .filter(end_date__gte=current.day, started_at__lt=current.ends_at)
        .annotate(current_bit=F("checked_mask").bitand(bit))
        .filter(
            Q(checked_on__isnull=True)
            | Q(checked_on__lt=current.day)
            | Q(checked_on=current.day, current_bit=0)
        )
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
    compiled = _key_person_where(scope)
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


@dataclass(frozen=True)
class TodayRow:
    """An active monitoring as the worker's page shows it: the columns it needs, no model."""

    pk: int
    key_person_id: int
    name: str
    measure: str
    started_at: datetime.datetime
    end_date: datetime.date
    checked_on: datetime.date | None
    checked_mask: int


M = TypeVar("M", Monitoring, TodayRow)


@dataclass(frozen=True)
class Missed(Generic[M]):
    monitoring: M
    slot: schedule.Slot
    hours_late: float
    escalation: str  # "" | "community" | "street"


def missed_slots(
    user: User, now: datetime.datetime | None = None, *, days: int = 1
) -> list[Missed[Monitoring]]:
    """Slots of the last `days` days (today included) that ended without a check, in the
    user's scope; each with its escalation (community admin after
    FOLLOWUP_ESCALATE_ADMIN_HOURS, the street after FOLLOWUP_ESCALATE_STREET_HOURS). Read from
    the checks and the schedule every time: nothing is stored as "missed"."""
    now = now or timezone.now()
    since = schedule.local_date(now) - datetime.timedelta(days=days)
    monitorings = list(active_monitorings(user).filter(end_date__gte=since))
    return _missed(monitorings, _recent_checks([m.pk for m in monitorings], since), now, since)


def _recent_checks(
    monitoring_ids: list[int], since: datetime.date
) -> dict[tuple[int, datetime.date, int], str]:
    """{(monitoring, day, slot): outcome} of these monitorings' checks since `since`."""
    rows = Check.objects.filter(
        in_values_q("monitoring_id", monitoring_ids), slot_date__gte=since
    ).values_list("monitoring_id", "slot_date", "slot", "outcome")
    return {(m, d, s): outcome for m, d, s, outcome in rows}


def _missed(
    monitorings: Sequence[M],
    checked: dict[tuple[int, datetime.date, int], str],
    now: datetime.datetime,
    since: datetime.date,
) -> list[Missed[M]]:
    admin_after = settings.FOLLOWUP_ESCALATE_ADMIN_HOURS
    street_after = settings.FOLLOWUP_ESCALATE_STREET_HOURS
    per_day = schedule.slots_per_day()
    # The slots from `since` that have ended by now, each with its lateness, worked out once for
    # all the monitorings (each monitoring then owes those between its first and last slot).
    ended = []
    for slot in schedule.monitoring_slots(
        started_at=schedule.local_moment(since, datetime.time(0)),
        end_date=schedule.local_date(now),
        until=now,
    ):
        if not slot.has_ended(now):
            continue
        late = (now - slot.ends_at).total_seconds() / 3600
        level = "street" if late >= street_after else "community" if late >= admin_after else ""
        ended.append((slot, slot.ordinal, late, level))
    result = []
    firsts: dict[datetime.datetime, int] = {}
    for monitoring in monitorings:
        first = firsts.get(monitoring.started_at)
        if first is None:
            first = firsts[monitoring.started_at] = schedule.first_slot(
                monitoring.started_at
            ).ordinal
        last = monitoring.end_date.toordinal() * per_day + per_day - 1
        for slot, ordinal, late, level in ended:
            if first <= ordinal <= last and (monitoring.pk, slot.day, slot.index) not in checked:
                result.append(Missed[M](monitoring, slot, late, level))
    return result


@dataclass(frozen=True)
class Today:
    due: list[TodayRow]
    missed: list[Missed[TodayRow]]
    ending: list[TodayRow]
    unreachable: list[TodayRow]
    new: list[tuple[int, str]]  # (key person, name) given to the user in the last day
    # (key person, name, opened at) of the referrals not arrived in time, oldest first
    overdue_referrals: list[tuple[int, str, datetime.datetime]]


def _key_person_where(condition: Q) -> tuple[str, list[Any]] | None:
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
    compiled = _key_person_where(scope)
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
        missed=_missed(monitorings, checked, now, since)[:limit],
        ending=[m for m in monitorings if m.end_date == today][:limit],
        unreachable=unreachable[:limit],
        new=new,
        overdue_referrals=overdue,
    )


def ending_today(user: User, now: datetime.datetime | None = None) -> QuerySet[Monitoring]:
    today = schedule.local_date(now or timezone.now())
    return active_monitorings(user).filter(end_date=today)


def new_assigned(user: User, now: datetime.datetime | None = None) -> QuerySet[KeyPerson]:
    """Key persons given to this worker in the last day."""
    since = (now or timezone.now()) - datetime.timedelta(days=1)
    return (
        key_persons_visible_to(user)
        .filter(worker=user, created_at__gte=since)
        .select_related("person")
    )


def unreachable_today(user: User, now: datetime.datetime | None = None) -> QuerySet[Check]:
    today = schedule.local_date(now or timezone.now())
    return Check.objects.filter(
        slot_date=today,
        outcome=CheckOutcome.UNREACHABLE,
        monitoring__in=active_monitorings(user).values("pk"),
    ).select_related("monitoring__key_person__person")


def referrals_overdue(user: User, now: datetime.datetime | None = None) -> QuerySet[Referral]:
    """Open referrals not arrived within FOLLOWUP_REFERRAL_ARRIVAL_HOURS (they escalate)."""
    now = now or timezone.now()
    limit = now - datetime.timedelta(hours=settings.FOLLOWUP_REFERRAL_ARRIVAL_HOURS)
    return referrals_visible_to(user).filter(status=ReferralStatus.OPEN, opened_at__lt=limit)


def close_contacts_proposed(user: User, key_person: KeyPerson) -> list[Person]:
    """For a confirmed case: the household members who are not key persons yet."""
    if key_person.person.household_id is None:
        return []
    confirmed = Referral.objects.filter(key_person=key_person, outcome="confirmed").exists()
    if not confirmed:
        return []
    return list(
        Person.objects.filter(
            household_id=key_person.person.household_id,
            status=PersonStatus.ACTIVE,
            key_person__isnull=True,
        ).order_by("pk")
    )
