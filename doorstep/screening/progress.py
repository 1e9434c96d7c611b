"""Household progress as a fold over the household's visits.

The same function moves progress inside each visit's transaction and rebuilds it in the
`recompute_progress` command, so the two cannot disagree by construction; the command still
compares and reports, which catches writes that bypassed the services.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q
from django.utils import timezone

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
)

PROGRESS_FIELDS = (
    "state",
    "closed",
    "attempts",
    "last_outcome",
    "last_visit_at",
    "revisit_due_at",
    "persons_total",
    "persons_seen",
    "persons_elsewhere",
    "persons_flagged",
)
# Time-of-day slots for revisits: a door nobody opened in the morning is tried in the evening.
SLOTS = ((9, 12), (14, 17), (18, 21))


@dataclass
class ProgressValues:
    state: str = ProgressState.NOT_STARTED
    closed: bool = False
    attempts: int = 0
    last_outcome: str = ""
    last_visit_at: datetime.datetime | None = None
    revisit_due_at: datetime.datetime | None = None
    persons_total: int = 0
    persons_seen: int = 0
    persons_elsewhere: int = 0
    persons_flagged: int = 0


def next_revisit(after: datetime.datetime) -> datetime.datetime:
    """The start of the next time-of-day slot other than the one `after` falls in."""
    local = timezone.localtime(after)
    current = next((i for i, (lo, hi) in enumerate(SLOTS) if lo <= local.hour < hi), None)
    day = local.replace(minute=0, second=0, microsecond=0)
    for offset in range(0, 3):
        date = day + datetime.timedelta(days=offset)
        for index, (start, _end) in enumerate(SLOTS):
            candidate = date.replace(hour=start)
            if candidate > local and (offset > 0 or index != current):
                return candidate
    return day + datetime.timedelta(days=1, hours=9 - day.hour)


def fold_visits(
    campaign: Campaign, visits: Iterable[Visit], check_counts: dict[int, dict], persons_total: int
) -> ProgressValues:
    """Progress from the household's visits, oldest first. `check_counts[visit_id]` holds
    seen / elsewhere / flagged counts of that visit's person checks."""
    values = ProgressValues(persons_total=persons_total)
    failed = 0
    pending_self_report = False
    last_counted = None
    for visit in sorted(visits, key=lambda v: (v.visited_at, v.pk)):
        if not visit.counts:
            pending_self_report = True
            continue
        values.attempts += 1
        values.last_outcome, values.last_visit_at = visit.outcome, visit.visited_at
        last_counted = visit
        if visit.outcome == VisitOutcome.SCREENED:
            # The latest screening speaks for the household: a re-screen that finds a fever
            # raises the flagged count, one that finds everybody well lowers it.
            values.state = ProgressState.SCREENED
            counts = check_counts.get(visit.pk, {})
            values.persons_seen = counts.get("seen", 0)
            values.persons_elsewhere = counts.get("elsewhere", 0)
            values.persons_flagged = counts.get("flagged", 0)
        elif values.state in (ProgressState.SCREENED, ProgressState.VACANT):
            continue  # a closed household stays closed; other visits only add attempts
        elif visit.outcome in (VisitOutcome.VACANT, VisitOutcome.MOVED):
            values.state = ProgressState.VACANT
        else:
            failed += 1
            values.state = (
                ProgressState.REVISIT
                if visit.outcome == VisitOutcome.NOT_HOME
                else ProgressState.REFUSED
            )
            if failed >= campaign.max_attempts:
                values.state = ProgressState.ESCALATED
    if values.state == ProgressState.REVISIT and last_counted is not None:
        values.revisit_due_at = next_revisit(last_counted.visited_at)
    if pending_self_report and values.state not in CLOSED_STATES:
        values.state = ProgressState.SELF_REPORTED
    values.closed = values.state in CLOSED_STATES
    return values


def check_counts_for(visit_ids: list[int]) -> dict[int, dict]:
    rows = (
        PersonCheck.objects.filter(visit_id__in=visit_ids)
        .values("visit_id")
        .annotate(
            seen=Count("id", filter=Q(presence=Presence.PRESENT)),
            # Moved-out persons leave the roster (and the denominator): not "elsewhere".
            elsewhere=Count(
                "id", filter=Q(presence__in=[Presence.IN_DISTRICT, Presence.OUT_OF_TOWN])
            ),
            flagged=Count("id", filter=Q(flagged=True)),
        )
    )
    return {row.pop("visit_id"): row for row in rows}


def progress_values_for(
    campaign: Campaign, household_id: int, persons_total: int | None = None
) -> ProgressValues:
    visits = list(Visit.objects.filter(campaign=campaign, household_id=household_id))
    if persons_total is None:
        persons_total = Person.objects.filter(
            household_id=household_id, status=PersonStatus.ACTIVE
        ).count()
    return fold_visits(campaign, visits, check_counts_for([v.pk for v in visits]), persons_total)


def progress_refresh(
    *,
    campaign: Campaign,
    household_id: int,
    progress: HouseholdProgress | None = None,
    persons_total: int | None = None,
) -> HouseholdProgress:
    """Recompute one household's progress from its visits and store it (inside the caller's
    transaction). A caller that already holds the row locked, or knows the number of active
    members, passes them to save the queries."""
    if progress is None:
        progress = HouseholdProgress.objects.select_for_update().get(
            campaign=campaign, household_id=household_id
        )
    values = progress_values_for(campaign, household_id, persons_total)
    for name in PROGRESS_FIELDS:
        setattr(progress, name, getattr(values, name))
    progress.save(update_fields=list(PROGRESS_FIELDS))
    return progress
