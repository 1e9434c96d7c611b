"""Checkpoints' section of the daily brief (DESIGN.md §7): arrivals at the district's
checkpoints on the day (risk, fever, passing through), handoffs sent, accepted and reported not
found on the day, and those still pending and overdue at the end of the day.

Arrivals count at their destination community; those without one (passing through, not yet
routed, handed out) count at their checkpoint's district. Handoffs count at the community that
held them at the moment in question. Everything is read from the records' own times, so a past
day works and a snapshot stays true: an arrival counts when it happened before the end of the
day (`arrived_at`) and was typed by the moment the brief is known at (`created_at`); a handoff's
state at a moment is read from its events (sent, re-routed, accepted, not found), which are
never changed. Two ways to the figures (`verify_brief` compares them): GROUP BYs plus a fold over
the handoffs of the area (fast) and a walk over every row in Python (raw).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area
from doorstep.core.brief import (
    BriefQuery,
    FigureValue,
    ListRow,
    ProblemList,
    Section,
    Texts,
    path_prefixes,
)
from doorstep.core.db import prefix_q

from .models import Arrival, Handoff, HandoffAction, HandoffEvent, Purpose, Route

TREND = ["arrivals", "risk_arrivals", "handoffs_pending", "handoffs_overdue"]
ROUTING = (HandoffAction.SENT, HandoffAction.REROUTED)
CLOSING = {HandoffAction.ACCEPTED: "accepted_on_day", HandoffAction.NOT_FOUND: "not_found_on_day"}


@dataclass
class PointTally:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _labels() -> dict[str, str]:
    _ = Texts()
    return {
        "arrivals": _("Arrivals at the checkpoints"),
        "risk_arrivals": _("Risk arrivals"),
        "fever_arrivals": _("Arrivals with a fever"),
        "passing": _("Passing through"),
        "sent_on_day": _("Handed off to communities"),
        "accepted_on_day": _("Handoffs accepted"),
        "not_found_on_day": _("Handoffs: not found"),
        "handoffs_pending": _("Handoffs waiting for the community"),
        "handoffs_overdue": _("Handoffs overdue"),
    }


# -- arrivals ----------------------------------------------------------------------------------
def _arrivals_of_day(query: BriefQuery) -> QuerySet[Arrival]:
    return Arrival.objects.filter(
        arrived_at__gte=query.day_start,
        arrived_at__lt=query.until,
        created_at__lte=query.known_at,
    )


def _arrivals_in(area: Area) -> Q:
    return prefix_q("community__path", area.path) | (
        Q(community__isnull=True) & prefix_q("checkpoint__district__path", area.path)
    )


def _arrival_tallies_fast(query: BriefQuery) -> dict[int, PointTally]:
    tallies: dict[int, PointTally] = defaultdict(PointTally)
    rows = (
        _arrivals_of_day(query)
        .filter(_arrivals_in(query.area))
        .values_list("community_id", "checkpoint__district_id")
        .annotate(
            n=Count("id"),
            risk=Count("id", filter=Q(is_risk=True)),
            fever=Count("id", filter=Q(temperature__gte=F("checkpoint__fever_threshold"))),
            passing=Count("id", filter=Q(route=Route.PASSING) | Q(purpose=Purpose.PASSING)),
        )
        .order_by()
    )
    for community_id, district_id, n, risk, fever, passing in rows:
        counts = tallies[community_id or district_id].counts
        counts["arrivals"] += n
        counts["risk_arrivals"] += risk
        counts["fever_arrivals"] += fever
        counts["passing"] += passing
    return tallies


def _arrival_tallies_raw(query: BriefQuery) -> dict[int, PointTally]:
    tallies: dict[int, PointTally] = defaultdict(PointTally)
    for row in Arrival.objects.values(
        "community_id",
        "checkpoint__district_id",
        "arrived_at",
        "created_at",
        "is_risk",
        "temperature",
        "checkpoint__fever_threshold",
        "route",
        "purpose",
    ):
        if not (query.day_start <= row["arrived_at"] < query.until):
            continue
        if row["created_at"] > query.known_at:
            continue
        counts = tallies[row["community_id"] or row["checkpoint__district_id"]].counts
        counts["arrivals"] += 1
        counts["risk_arrivals"] += row["is_risk"]
        temperature = row["temperature"]
        counts["fever_arrivals"] += (
            temperature is not None and temperature >= row["checkpoint__fever_threshold"]
        )
        counts["passing"] += row["route"] == Route.PASSING or row["purpose"] == Purpose.PASSING
    return tallies


# -- handoffs, from their events ---------------------------------------------------------------
@dataclass(frozen=True)
class HandoffAtMoment:
    handoff_id: int
    community_id: int  # who held it at the moment
    pending: bool
    overdue: bool


def _fold_handoff(
    handoff_id: int,
    events: Iterable[tuple[str, datetime.datetime, int | None]],
    fallback_community: int,
    hours: datetime.timedelta,
    query: BriefQuery,
    tallies: dict[int, PointTally],
) -> HandoffAtMoment | None:
    """One handoff's events, oldest first, folded into the day's tallies; its state at the end
    of the day (None when it was not yet sent then)."""
    community: int | None = None
    routed_at: datetime.datetime | None = None
    closed = False
    for action, at, to_community in events:
        if at >= query.until:
            break
        on_day = at >= query.day_start
        if action in ROUTING:
            community = to_community or community or fallback_community
            routed_at = at
            if action == HandoffAction.SENT and on_day:
                tallies[community].counts["sent_on_day"] += 1
        elif action in CLOSING and community is not None:
            closed = True
            if on_day:
                tallies[community].counts[CLOSING[HandoffAction(action)]] += 1
    if community is None or routed_at is None:
        return None
    pending = not closed
    overdue = pending and routed_at + hours < query.until
    if pending:
        tallies[community].counts["handoffs_pending"] += 1
    if overdue:
        tallies[community].counts["handoffs_overdue"] += 1
    return HandoffAtMoment(handoff_id, community, pending, overdue)


def _handoffs_touching(area: Area) -> QuerySet[Handoff]:
    """Handoffs that were ever routed to a community under `area`."""
    routed_here = HandoffEvent.objects.filter(prefix_q("to_community__path", area.path))
    # a subquery, not a join to the events: no DISTINCT over every handoff of the area
    return Handoff.objects.filter(
        prefix_q("community__path", area.path) | Q(pk__in=routed_here.values("handoff_id"))
    )


def _counting_on_day(query: BriefQuery, handoffs: QuerySet[Handoff]) -> QuerySet[Handoff]:
    """The handoffs that can count on the day: sent before its end, and not closed before its
    start. A handoff closed before the day takes no event on the day (a re-route, an accept, a
    report and a joining arrival all need it pending) and is neither pending nor overdue at its
    end, so its fold adds nothing: leaving it out keeps the day's reads to the handoffs still
    open or moved that day, however many were closed in the days before."""
    events = HandoffEvent.objects.filter(handoff=OuterRef("pk"))
    return handoffs.filter(Exists(events.filter(action__in=ROUTING, at__lt=query.until))).exclude(
        Exists(events.filter(action__in=list(CLOSING), at__lt=query.day_start))
    )


def _handoff_states(
    query: BriefQuery, handoffs: QuerySet[Handoff], tallies: dict[int, PointTally]
) -> dict[int, HandoffAtMoment]:
    handoffs = _counting_on_day(query, handoffs)
    rows = list(handoffs.values_list("pk", "community_id", "received_at", "deadline"))
    events: dict[int, list[tuple[str, datetime.datetime, int | None]]] = defaultdict(list)
    for handoff_id, action, at, to_community in (
        # the handoffs' events by a subquery (not thousands of ids as parameters)
        HandoffEvent.objects.filter(handoff__in=handoffs.values("pk"), at__lt=query.until)
        .order_by("at", "pk")
        .values_list("handoff_id", "action", "at", "to_community_id")
    ):
        events[handoff_id].append((action, at, to_community))
    states = {}
    for handoff_id, community_id, received_at, deadline in rows:
        state = _fold_handoff(
            handoff_id, events[handoff_id], community_id, deadline - received_at, query, tallies
        )
        if state is not None:
            states[handoff_id] = state
    return states


def tallies_fast(query: BriefQuery) -> dict[int, PointTally]:
    tallies = _arrival_tallies_fast(query)
    _handoff_states(query, _handoffs_touching(query.area), tallies)
    return tallies


def tallies_raw(query: BriefQuery) -> dict[int, PointTally]:
    tallies = _arrival_tallies_raw(query)
    events: dict[int, list[tuple[datetime.datetime, int, str, int | None]]] = defaultdict(list)
    for pk, handoff_id, action, at, to_community in HandoffEvent.objects.values_list(
        "pk", "handoff_id", "action", "at", "to_community_id"
    ):
        events[handoff_id].append((at, pk, action, to_community))
    for handoff in Handoff.objects.all():
        ordered = [(action, at, to) for at, _pk, action, to in sorted(events[handoff.pk])]
        _fold_handoff(
            handoff.pk,
            ordered,
            handoff.community_id,
            handoff.deadline - handoff.received_at,
            query,
            tallies,
        )
    return tallies


# -- the section -------------------------------------------------------------------------------
def rolled_up(paths: dict[int, str], tallies: dict[int, PointTally]) -> dict[str, dict[str, int]]:
    """Area path → the sums of the tallies of the areas (communities, districts) under it."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for area_id, tally in tallies.items():
        path = paths.get(area_id)
        if path is None:
            continue
        for prefix in path_prefixes(path):
            total = sums[prefix]
            for key, value in tally.counts.items():
                total[key] += value
    return sums


def section_for(area: Area, total: dict[str, int]) -> Section:
    """The section of `area` from the sums of the tallies under it (`rolled_up`)."""
    _ = Texts()
    labels = _labels()
    figures: dict[str, FigureValue] = {key: total.get(key, 0) for key in labels}
    return Section(
        key="checkpoints",
        title=_("Checkpoints and handoffs"),
        figures=figures,
        labels=labels,
        lists={
            "fever_arrivals": "fever",
            "handoffs_pending": "pending",
            "handoffs_overdue": "overdue",
        },
        trend=list(TREND),
        problems=[ProblemList("overdue", labels["handoffs_overdue"], "handoffs_overdue")],
    )


def _paths(area: Area) -> dict[int, str]:
    """Every area of the tree holding `area` with its path (paths are "/D/S1/C1/"): an arrival
    without a community counts at its checkpoint's district, above a street or community."""
    root = "/" + area.path.strip("/").split("/")[0] + "/"
    return dict(Area.objects.filter(prefix_q("path", root)).values_list("pk", "path"))


def _has_anything(tallies: dict[int, PointTally]) -> bool:
    return any(any(t.counts.values()) for t in tallies.values())


class CheckpointsProvider:
    key = "checkpoints"

    def first_day(self, area: Area) -> datetime.date | None:
        return None  # the sweep's campaigns say when the brief begins

    def _sections(self, query: BriefQuery, *, raw: bool) -> list[Section]:
        tallies = (tallies_raw if raw else tallies_fast)(query)
        if not _has_anything(tallies):
            return []
        section = section_for(query.area, rolled_up(_paths(query.area), tallies)[query.area.path])
        # Nothing in this area (another street's checkpoint traffic): no section, as the freeze
        # decides it for every area at once.
        return [section] if any(section.figures.values()) else []

    def sections(self, query: BriefQuery) -> list[Section]:
        return self._sections(query, raw=False)

    def sections_raw(self, query: BriefQuery) -> list[Section]:
        return self._sections(query, raw=True)

    def sections_for_areas(self, query: BriefQuery, areas: list[Area]) -> dict[int, list[Section]]:
        tallies = tallies_fast(query)
        result: dict[int, list[Section]] = {a.pk: [] for a in areas}
        if not _has_anything(tallies):
            return result
        sums = rolled_up(_paths(query.area), tallies)
        for area in areas:
            section = section_for(area, sums.get(area.path, {}))
            if any(section.figures.values()):  # as `sections` says: nothing there, no section
                result[area.pk].append(section)
        return result

    def list_rows(self, query: BriefQuery, section_key: str, list_key: str) -> list[ListRow]:
        if list_key == "fever":
            arrivals = (
                _arrivals_of_day(query)
                .filter(_arrivals_in(query.area))
                .filter(temperature__gte=F("checkpoint__fever_threshold"))
                .select_related("checkpoint", "community")
                .order_by("arrived_at", "pk")[:2000]
            )
            return [
                ListRow(
                    label=arrival.name,
                    detail=f"{arrival.checkpoint.name} · {arrival.temperature} °C · "
                    f"{arrival.community.name if arrival.community else _('no community')}",
                    url=reverse("checkpoints:arrival", args=[arrival.pk]),
                )
                for arrival in arrivals
            ]
        if list_key not in ("pending", "overdue"):
            return []
        states = _handoff_states(query, _handoffs_touching(query.area), defaultdict(PointTally))
        paths = _paths(query.area)
        chosen = [
            s.handoff_id
            for s in states.values()
            if paths.get(s.community_id, "").startswith(query.area.path)
            and (s.overdue if list_key == "overdue" else s.pending)
        ]
        handoffs = (
            Handoff.objects.filter(pk__in=chosen)
            .select_related("community")
            .order_by("deadline", "pk")[:2000]
        )
        names: dict[int, str] = {}
        for handoff_id, name in (
            Arrival.objects.filter(handoff_id__in=chosen)
            .order_by("handoff_id", "arrived_at", "pk")
            .values_list("handoff_id", "name")
        ):
            names.setdefault(handoff_id, name)  # the first arrival's name, as the handoff shows
        return [
            ListRow(
                label=names.get(handoff.pk, ""),
                detail=f"{handoff.community.name} · "
                f"{timezone.localtime(handoff.deadline):%m-%d %H:%M}",
                url=reverse("checkpoints:handoff", args=[handoff.pk]),
            )
            for handoff in handoffs
        ]
