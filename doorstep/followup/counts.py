"""Point 4's figures per community and street, and the list behind each one.

Every figure is a condition on a monitoring row (`FIGURES`), read from the tally the check
writes keep on it (last_check_at, checked_on, checked_mask) and from the schedule of today's
slots: nothing is stored as "missed" or "lost". A count is `Count(filter=condition)` grouped by
community, the list behind it is `filter(condition)`: the two cannot disagree.
`recompute_followup` rebuilds the tally from the checks and reports any difference.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When

from doorstep.accounts.models import User
from doorstep.areas.models import Area, AreaLevel

from . import schedule
from .models import Monitoring, MonitoringStatus
from .selectors import area_scope_covers, in_area_q, key_person_scope_q


@dataclass(frozen=True)
class Day:
    """Today as the figures see it."""

    now: datetime.datetime
    today: datetime.date
    start: datetime.datetime
    lost_before: datetime.datetime
    ended: int


def day_of(now: datetime.datetime) -> Day:
    today = schedule.local_date(now)
    return Day(
        now=now,
        today=today,
        start=schedule.local_moment(today, datetime.time(0)),
        lost_before=now - datetime.timedelta(hours=settings.FOLLOWUP_LOST_HOURS),
        ended=schedule.ended_slots_today(now),
    )


def _active(day: Day) -> Q:
    return Q(status=MonitoringStatus.ACTIVE, start_date__lte=day.today, end_date__gte=day.today)


def with_today(rows: QuerySet[Monitoring], day: Day) -> QuerySet[Monitoring]:
    """`owed`: the bits of today's ended slots the monitoring owes (the slots before the one it
    started in are not owed); `done`: those of them with a check."""
    whens = [
        When(
            started_at__lt=schedule.Slot(day.today, low).ends_at,
            then=Value(
                schedule.required_mask(
                    first=schedule.Slot(day.today, low), today=day.today, ended=day.ended
                )
            ),
        )
        for low in range(schedule.slots_per_day())
    ]
    owed = Case(*whens, default=Value(0), output_field=IntegerField())
    return rows.annotate(owed=owed).annotate(
        done=Case(
            When(checked_on=day.today, then=F("checked_mask").bitand(F("owed"))),  # type: ignore[arg-type]
            default=Value(0),
            output_field=IntegerField(),
        )
    )


FIGURES: dict[str, Callable[[Day], Q]] = {
    "under": _active,
    "checked": lambda d: _active(d) & Q(last_check_at__gte=d.start),
    "missed": lambda d: _active(d) & ~Q(done=F("owed")),
    "lost": lambda d: (
        _active(d)
        & Q(started_at__lt=d.lost_before)
        & (Q(last_check_at__isnull=True) | Q(last_check_at__lt=d.lost_before))
    ),
    "ending": lambda d: _active(d) & Q(end_date=d.today),
    "released": lambda d: Q(status=MonitoringStatus.RELEASED, released_at__gte=d.start),
}
FIGURE_KEYS = tuple(FIGURES)


@dataclass
class CountRow:
    area: Area | None
    label: str
    figures: dict[str, int] = field(default_factory=dict)

    def add(self, other: dict[str, int]) -> None:
        for key in FIGURE_KEYS:
            self.figures[key] = self.figures.get(key, 0) + other.get(key, 0)

    @property
    def followed_pct(self) -> float:
        under = self.figures.get("under", 0)
        return round(100 * self.figures.get("checked", 0) / under, 1) if under else 0.0

    @property
    def lost_pct(self) -> float:
        under = self.figures.get("under", 0)
        return round(100 * self.figures.get("lost", 0) / under, 1) if under else 0.0


def monitorings_in(user: User, area: Area) -> QuerySet[Monitoring]:
    """The monitorings the user sees whose responsible community lies in `area`."""
    in_area = Monitoring.objects.filter(in_area_q(area, "key_person__"))
    if area_scope_covers(user, area):
        # every key person whose community lies in the area is the user's: the scope adds
        # nothing but a second test of each of the district's rows
        return in_area
    scope = key_person_scope_q(user, "key_person__")
    if scope is None:
        return Monitoring.objects.none()
    return in_area.filter(scope)


def counts_by_child_area(
    user: User, area: Area, now: datetime.datetime
) -> tuple[CountRow, list[CountRow]]:
    """(the area's row, one row per child area down to communities)."""
    day = day_of(now)
    aggregates = {key: Count("pk", filter=condition(day)) for key, condition in FIGURES.items()}
    per_community: dict[int, dict[str, int]] = {}
    grouped = (
        with_today(monitorings_in(user, area), day)
        .order_by()
        .values("key_person__community_id")
        .annotate(**aggregates)
    )
    for row in grouped:
        figures: dict[str, int] = dict(row)  # type: ignore[arg-type]
        per_community[figures.pop("key_person__community_id")] = figures
    total = CountRow(area, area.display_name)
    if area.level >= AreaLevel.COMMUNITY:
        for figures in per_community.values():
            total.add(figures)
        return total, []
    children = list(Area.objects.filter(parent=area).order_by("code"))
    rows = {child.pk: CountRow(child, child.name) for child in children}
    communities = Area.objects.filter(pk__in=list(per_community)).values_list("pk", "path")
    by_path = {child.path: child.pk for child in children}
    for community_id, path in communities:
        child_path = path[: path.index("/", len(area.path)) + 1]
        if child_path in by_path:
            rows[by_path[child_path]].add(per_community[community_id])
            total.add(per_community[community_id])
    return total, [rows[child.pk] for child in children]


def figure_list(
    user: User, area: Area, figure: str, now: datetime.datetime
) -> QuerySet[Monitoring]:
    """The monitorings behind one figure of an area, in community and name order."""
    if figure not in FIGURES:
        figure = "under"
    day = day_of(now)
    return (
        with_today(monitorings_in(user, area), day)
        .filter(FIGURES[figure](day))
        .select_related("key_person__person", "key_person__community", "key_person__worker")
        .order_by("key_person__community__path", "key_person__person__name", "pk")
    )
