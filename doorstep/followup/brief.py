"""Follow-up's section of the daily brief (DESIGN.md §7): key persons under monitoring by measure
and by reason, new, released, checked, missed and lost to follow-up on the day, referrals by
status and outcome, and facility occupancy against capacity.

Everything is computed from the records' own times, so a past day works: a monitoring counts as
under monitoring at the end of the day when it started before then and was not released by then;
a check counts when it was typed by the moment the brief is known at (`entered_at`). Two ways to
the figures (`verify_brief` compares them): per-community GROUP BYs in the database (fast) and a
walk over every row in Python (raw). Figures per community are rolled up the area tree, so the
evening freeze computes them once for the district.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.urls import reverse

from doorstep.areas.models import Area
from doorstep.core.brief import (
    BriefQuery,
    FigureValue,
    ListRow,
    ProblemList,
    Section,
    Table,
    Texts,
    path_prefixes,
)
from doorstep.core.db import prefix_q

from .models import (
    Check,
    CheckOutcome,
    Facility,
    Measure,
    Monitoring,
    MonitoringStatus,
    Placement,
    Reason,
    ReasonKind,
    Referral,
    ReferralOutcome,
)

COUNTED = (MonitoringStatus.ACTIVE, MonitoringStatus.RELEASED)
TREND = ["under_monitoring", "new_on_day", "released_on_day", "missed_on_day", "lost"]


@dataclass
class FollowTally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: FollowTally) -> None:
        for key, value in other.counts.items():
            self.counts[key] += value


def _monitorings(query: BriefQuery) -> Q:
    """Under monitoring at the end of the day (as far as records say by `known_at`)."""
    return Q(status__in=COUNTED, started_at__lt=query.until) & (
        Q(released_at__isnull=True) | Q(released_at__gte=query.until)
    )


def _lost_before(query: BriefQuery) -> datetime.datetime:
    return query.until - datetime.timedelta(hours=float(settings.FOLLOWUP_LOST_HOURS))


def _in_area(query: BriefQuery) -> Q:
    return prefix_q("key_person__community__path", query.area.path)


def with_checked_recent(rows: QuerySet[Monitoring], query: BriefQuery) -> QuerySet[Monitoring]:
    """`checked`: a measured check for the day's slots typed by `known_at`; `recent`: a measured
    check measured in the lost window [`_lost_before`, `until`) typed by `known_at`.

    Both are asked of the checks only where the monitoring's tally (`checked_on`, the
    latest slot day of any check; `last_check_at`, the latest measured time) leaves the answer
    open. With no check on or after the day there is none on it, with no measurement since the
    window opened there is none in it: true on any day, as known at any moment. When the brief
    is live a measurement at or after the window's start and before `until` is a check in it
    (every check was typed by now); one measured after `until` (the clock's grace) still asks
    the checks."""
    measured = Check.objects.filter(
        monitoring=OuterRef("pk"),
        outcome=CheckOutcome.MEASURED,
        entered_at__lte=query.known_at,
    )
    lost_before = _lost_before(query)
    # the day's measured checks by the (slot_date, monitoring) index, read once for every
    # monitoring (IN a subquery: hashed on PostgreSQL, a temporary index on SQLite)
    on_day = Check.objects.filter(
        slot_date=query.day, outcome=CheckOutcome.MEASURED, entered_at__lte=query.known_at
    ).values("monitoring_id")
    checked = Case(
        When(Q(checked_on__gte=query.day) & Q(pk__in=on_day), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    in_window = Exists(measured.filter(measured_at__gte=lost_before, measured_at__lt=query.until))
    quiet = Q(last_check_at__isnull=True) | Q(last_check_at__lt=lost_before)
    if query.is_live:
        recent = Case(
            When(quiet, then=Value(False)),
            When(last_check_at__lt=query.until, then=Value(True)),
            default=in_window,
            output_field=BooleanField(),
        )
    else:
        recent = Case(
            When(quiet, then=Value(False)), default=in_window, output_field=BooleanField()
        )
    return rows.annotate(checked=checked, recent=recent)


# -- fast: GROUP BY community ------------------------------------------------------------------
def tallies_fast(query: BriefQuery) -> tuple[dict[int, FollowTally], dict[int, tuple[int, int]]]:
    """({community id: tally}, {facility id: (occupied, capacity)})."""
    tallies: dict[int, FollowTally] = defaultdict(FollowTally)
    rows = Monitoring.objects.filter(_in_area(query))
    under = rows.filter(_monitorings(query))
    # grouped by the flags too: each flag (a subquery) is computed once per monitoring, where a
    # COUNT(FILTER) per figure would repeat it
    flags = with_checked_recent(under, query).annotate(
        before_day=ExpressionWrapper(Q(started_at__lt=query.day_start), BooleanField()),
        before_lost=ExpressionWrapper(Q(started_at__lt=_lost_before(query)), BooleanField()),
    )
    for community, measure, checked, recent, before_day, before_lost, n in (
        flags.values_list(
            "key_person__community_id", "measure", "checked", "recent", "before_day", "before_lost"
        )
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts = tallies[community].counts
        counts["under_monitoring"] += n
        counts[f"m_{measure}"] += n
        if checked:
            counts["checked_on_day"] += n
        elif before_day:
            counts["missed_on_day"] += n
        if not recent and before_lost:
            counts["lost"] += n
    for community, kind, n in (
        Reason.objects.filter(
            active=True,
            key_person__monitorings__in=under,
        )
        .values_list("key_person__community_id", "kind")
        .annotate(n=Count("key_person_id", distinct=True))
        .order_by()
    ):
        tallies[community].counts[f"r_{kind}"] += n
    for community, n_new, n_released in (
        # only monitorings begun by the day's end: one begun later must not make a past day's
        # section appear (a snapshot frozen before it existed would then differ from the
        # records as they stood at its cut-off)
        rows.filter(status__in=COUNTED, started_at__lt=query.until)
        .values_list("key_person__community_id")
        .annotate(
            new=Count("id", filter=Q(started_at__gte=query.day_start, started_at__lt=query.until)),
            released=Count(
                "id", filter=Q(released_at__gte=query.day_start, released_at__lt=query.until)
            ),
        )
        .order_by()
    ):
        tallies[community].counts["new_on_day"] += n_new
        tallies[community].counts["released_on_day"] += n_released
    referrals = Referral.objects.filter(_in_area(query), opened_at__lt=query.until)
    for community, n_open, n_arrived, *outcomes in (
        referrals.values_list("key_person__community_id")
        .annotate(
            o=Count("id", filter=Q(arrived_at__isnull=True) | Q(arrived_at__gte=query.until)),
            a=Count(
                "id",
                filter=Q(arrived_at__lt=query.until)
                & (Q(outcome_at__isnull=True) | Q(outcome_at__gte=query.until)),
            ),
            **{
                f"x_{o}": Count("id", filter=Q(outcome=o, outcome_at__lt=query.until))
                for o in ReferralOutcome.values
            },
        )
        .order_by()
    ):
        counts = tallies[community].counts
        counts["ref_open"] += n_open
        counts["ref_arrived"] += n_arrived
        for outcome, n in zip(ReferralOutcome.values, outcomes, strict=True):
            counts[f"ref_{outcome}"] += n
    facilities = {}
    for facility_id, capacity, occupied in (
        Facility.objects.filter(prefix_q("area__path", query.area.path))
        .annotate(
            occupied=Count(
                "placements",
                filter=Q(placements__since__lt=query.until)
                & (Q(placements__ended_at__isnull=True) | Q(placements__ended_at__gte=query.until)),
            )
        )
        .values_list("id", "capacity", "occupied")
    ):
        facilities[facility_id] = (occupied, capacity)
    return tallies, facilities


# -- raw: every row walked in Python -----------------------------------------------------------
def tallies_raw(query: BriefQuery) -> tuple[dict[int, FollowTally], dict[int, tuple[int, int]]]:
    tallies: dict[int, FollowTally] = defaultdict(FollowTally)
    lost_before = _lost_before(query)
    monitorings = list(
        Monitoring.objects.filter(_in_area(query)).values(
            "id",
            "key_person_id",
            "key_person__community_id",
            "measure",
            "status",
            "started_at",
            "released_at",
        )
    )
    checked: set[int] = set()
    recent: set[int] = set()
    # the monitorings by subquery: 50,000 ids as parameters pass SQLite's limit
    for monitoring_id, slot_date, outcome, measured_at, entered_at in Check.objects.filter(
        monitoring_id__in=Monitoring.objects.filter(_in_area(query)).values("id")
    ).values_list("monitoring_id", "slot_date", "outcome", "measured_at", "entered_at"):
        if outcome != CheckOutcome.MEASURED or entered_at > query.known_at:
            continue
        if slot_date == query.day:
            checked.add(monitoring_id)
        if lost_before <= measured_at < query.until:
            recent.add(monitoring_id)
    reasons: dict[int, set[str]] = defaultdict(set)
    for key_person_id, kind in Reason.objects.filter(active=True).values_list(
        "key_person_id", "kind"
    ):
        reasons[key_person_id].add(kind)
    for m in monitorings:
        if m["status"] not in COUNTED or m["started_at"] >= query.until:
            continue
        counts = tallies[m["key_person__community_id"]].counts
        if query.day_start <= m["started_at"] < query.until:
            counts["new_on_day"] += 1
        released = m["released_at"]
        if released is not None and query.day_start <= released < query.until:
            counts["released_on_day"] += 1
        under = m["started_at"] < query.until and (released is None or released >= query.until)
        if not under:
            continue
        counts["under_monitoring"] += 1
        counts[f"m_{m['measure']}"] += 1
        for kind in reasons[m["key_person_id"]]:
            counts[f"r_{kind}"] += 1
        if m["id"] in checked:
            counts["checked_on_day"] += 1
        elif m["started_at"] < query.day_start:
            counts["missed_on_day"] += 1
        if m["id"] not in recent and m["started_at"] < lost_before:
            counts["lost"] += 1
    for community, opened, arrived, outcome, outcome_at in Referral.objects.filter(
        _in_area(query)
    ).values_list("key_person__community_id", "opened_at", "arrived_at", "outcome", "outcome_at"):
        if opened >= query.until:
            continue
        counts = tallies[community].counts
        if outcome_at is not None and outcome_at < query.until:
            counts[f"ref_{outcome}"] += 1
        elif arrived is not None and arrived < query.until:
            counts["ref_arrived"] += 1
        else:
            counts["ref_open"] += 1
    facilities = {
        f.pk: (0, f.capacity)
        for f in Facility.objects.filter(prefix_q("area__path", query.area.path))
    }
    for facility_id, since, ended in Placement.objects.filter(
        facility_id__in=list(facilities)
    ).values_list("facility_id", "since", "ended_at"):
        if since < query.until and (ended is None or ended >= query.until):
            occupied, capacity = facilities[facility_id]
            facilities[facility_id] = (occupied + 1, capacity)
    return tallies, facilities


# -- figures -----------------------------------------------------------------------------------
def _labels() -> dict[str, str]:
    _ = Texts()
    labels = {
        "under_monitoring": _("Under monitoring"),
        **{f"m_{m.value}": str(m.label) for m in Measure},
        **{f"r_{r.value}": str(r.label) for r in ReasonKind},
        "new_on_day": _("New on the day"),
        "released_on_day": _("Released on the day"),
        "checked_on_day": _("Checked on the day"),
        "missed_on_day": _("Missed checks on the day"),
        "lost": _("Lost to follow-up"),
        "ref_open": _("Referrals on the way"),
        "ref_arrived": _("Referrals arrived, no outcome yet"),
        **{f"ref_{o.value}": _("Referrals: %(o)s") % {"o": o.label} for o in ReferralOutcome},
        "facilities_full": _("Full facilities"),
    }
    return labels


def rolled_up(
    communities: dict[int, str], tallies: dict[int, FollowTally]
) -> dict[str, FollowTally]:
    """Area path → the sum of the tallies of the communities under it (`communities`: id →
    path); an area holds a key when any tally lies under it, even an empty one."""
    sums: dict[str, FollowTally] = defaultdict(FollowTally)
    for community_id, tally in tallies.items():
        path = communities.get(community_id)
        if path is not None:
            for prefix in path_prefixes(path):
                sums[prefix].add(tally)
    return sums


def section_for(
    area: Area,
    total: FollowTally,
    facilities: dict[int, tuple[int, int]],
    names: dict[int, str],
) -> Section:
    """The section of `area` from the sum of its communities' tallies and the facilities under
    it."""
    _ = Texts()
    labels = _labels()
    figures: dict[str, FigureValue] = {key: total.counts.get(key, 0) for key in labels}
    rows = []
    full = 0
    for facility_id in sorted(facilities):
        occupied, capacity = facilities[facility_id]
        figures[f"facility.{facility_id}.occupied"] = occupied
        figures[f"facility.{facility_id}.capacity"] = capacity
        full += capacity > 0 and occupied >= capacity
        rows.append((f"facility.{facility_id}", names.get(facility_id, str(facility_id))))
    figures["facilities_full"] = full
    tables = []
    if rows:
        tables.append(
            Table(
                "facilities",
                _("Facility occupancy"),
                [("occupied", _("Occupied")), ("capacity", _("Capacity"))],
                rows,
            )
        )
    return Section(
        key="followup",
        title=_("Follow-up of key persons"),
        figures=figures,
        labels=labels,
        lists={
            "under_monitoring": "under",
            "missed_on_day": "missed",
            "lost": "lost",
            "facilities_full": "full",
        },
        trend=list(TREND),
        tables=tables,
        problems=[
            ProblemList("missed", labels["missed_on_day"], "missed_on_day"),
            ProblemList("lost", labels["lost"], "lost"),
            ProblemList("full", labels["facilities_full"], "facilities_full"),
        ],
    )


def _communities(area: Area) -> dict[int, str]:
    """Every area id under `area` with its path (key persons hang on communities)."""
    return dict(Area.objects.filter(prefix_q("path", area.path)).values_list("pk", "path"))


def _facilities_under(
    area: Area, facilities: dict[int, tuple[int, int]]
) -> tuple[dict[int, tuple[int, int]], dict[int, str]]:
    rows = Facility.objects.filter(pk__in=list(facilities)).filter(
        prefix_q("area__path", area.path)
    )
    names = dict(rows.values_list("pk", "name"))
    return {pk: facilities[pk] for pk in names}, names


class FollowupProvider:
    key = "followup"

    def first_day(self, area: Area) -> datetime.date | None:
        return None  # the sweep's campaigns say when the brief begins

    def _sections(self, query: BriefQuery, *, raw: bool) -> list[Section]:
        tallies, facilities = (tallies_raw if raw else tallies_fast)(query)
        if not tallies and not facilities:
            return []
        mine, names = _facilities_under(query.area, facilities)
        sums = rolled_up(_communities(query.area), tallies)
        return [section_for(query.area, sums.get(query.area.path, FollowTally()), mine, names)]

    def sections(self, query: BriefQuery) -> list[Section]:
        return self._sections(query, raw=False)

    def sections_raw(self, query: BriefQuery) -> list[Section]:
        return self._sections(query, raw=True)

    def sections_for_areas(self, query: BriefQuery, areas: list[Area]) -> dict[int, list[Section]]:
        tallies, facilities = tallies_fast(query)
        result: dict[int, list[Section]] = {a.pk: [] for a in areas}
        if not tallies and not facilities:
            return result
        sums = rolled_up(_communities(query.area), tallies)
        all_names: dict[int, str] = {}
        under: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
        for pk, name, path in Facility.objects.filter(pk__in=list(facilities)).values_list(
            "pk", "name", "area__path"
        ):
            all_names[pk] = name
            for prefix in path_prefixes(path):
                under[prefix][pk] = facilities[pk]
        for area in areas:
            mine = under.get(area.path, {})
            inside = area.path in sums
            if inside or mine:  # as `sections` says for one area: nothing there, no section
                total = sums.get(area.path, FollowTally())
                result[area.pk].append(section_for(area, total, mine, all_names))
        return result

    def list_rows(self, query: BriefQuery, section_key: str, list_key: str) -> list[ListRow]:
        if list_key == "full":
            _tallies, facilities = tallies_fast(query)
            mine, names = _facilities_under(query.area, facilities)
            return [
                ListRow(names[pk], f"{occupied}/{capacity}", "")
                for pk, (occupied, capacity) in sorted(mine.items())
                if capacity > 0 and occupied >= capacity
            ]
        rows = Monitoring.objects.filter(_in_area(query)).filter(_monitorings(query))
        if list_key == "missed":
            rows = with_checked_recent(rows, query).filter(
                Q(started_at__lt=query.day_start) & Q(checked=False)  # an annotation: by Q
            )
        elif list_key == "lost":
            rows = with_checked_recent(rows, query).filter(
                Q(started_at__lt=_lost_before(query)) & Q(recent=False)
            )
        elif list_key != "under":
            return []
        found = []
        for monitoring in rows.select_related("key_person__person", "key_person__community")[:2000]:
            person = monitoring.key_person.person
            url = (
                reverse("registry:household_detail", args=[person.household_id])
                if person.household_id
                else ""
            )
            found.append(
                ListRow(
                    label=person.name,
                    detail=(
                        f"{monitoring.key_person.community.name} · "
                        f"{monitoring.get_measure_display()}"
                    ),
                    url=url,
                )
            )
        return found
