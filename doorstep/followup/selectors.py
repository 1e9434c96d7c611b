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
from typing import Generic, TypeVar

from django.conf import settings
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
    return missed_of(monitorings, _recent_checks([m.pk for m in monitorings], since), now, since)


def _recent_checks(
    monitoring_ids: list[int], since: datetime.date
) -> dict[tuple[int, datetime.date, int], str]:
    """{(monitoring, day, slot): outcome} of these monitorings' checks since `since`."""
    rows = Check.objects.filter(
        in_values_q("monitoring_id", monitoring_ids), slot_date__gte=since
    ).values_list("monitoring_id", "slot_date", "slot", "outcome")
    return {(m, d, s): outcome for m, d, s, outcome in rows}


def missed_of(
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
