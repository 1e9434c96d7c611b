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
from .tally import tally_move, tally_of

PROGRESS_FIELDS = (
    "state",
    "closed",
    "attempts",
    "failed_attempts",
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
    failed_attempts: int = 0
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
    for visit in sorted(visits, key=lambda v: (v.visited_at, v.pk)):
        fold_step(values, campaign, visit, check_counts.get(visit.pk, {}))
    return values


def _underlying_state(values) -> str:
    """The state beneath a "self-reported, to verify" overlay, which only ever covers a
    household that is not closed."""
    if values.state != ProgressState.SELF_REPORTED:
        return values.state
    return {
        VisitOutcome.NOT_HOME: ProgressState.REVISIT,
        VisitOutcome.REFUSED: ProgressState.REFUSED,
    }.get(values.last_outcome, ProgressState.NOT_STARTED)


def fold_step(values, campaign: Campaign, visit: Visit, counts: dict) -> None:
    """Move `values` (ProgressValues or a HouseholdProgress row) on by one visit that sorts
    after every counted visit already folded in."""
    underlying = _underlying_state(values)
    pending = values.state == ProgressState.SELF_REPORTED
    if not visit.counts:
        pending = True  # self-reported, to verify: shows, but closes nothing
    else:
        values.attempts += 1
        values.last_outcome, values.last_visit_at = visit.outcome, visit.visited_at
        if visit.outcome == VisitOutcome.SCREENED:
            # The latest screening speaks for the household: a re-screen that finds a fever
            # raises the flagged count, one that finds everybody well lowers it.
            underlying = ProgressState.SCREENED
            values.persons_seen = counts.get("seen", 0)
            values.persons_elsewhere = counts.get("elsewhere", 0)
            values.persons_flagged = counts.get("flagged", 0)
        elif underlying in (ProgressState.SCREENED, ProgressState.VACANT):
            pass  # a closed household stays closed; other visits only add attempts
        elif visit.outcome in (VisitOutcome.VACANT, VisitOutcome.MOVED):
            underlying = ProgressState.VACANT
        else:
            values.failed_attempts += 1
            underlying = (
                ProgressState.REVISIT
                if visit.outcome == VisitOutcome.NOT_HOME
                else ProgressState.REFUSED
            )
            if values.failed_attempts >= campaign.max_attempts:
                underlying = ProgressState.ESCALATED
        values.revisit_due_at = (
            next_revisit(visit.visited_at) if underlying == ProgressState.REVISIT else None
        )
    values.state = (
        ProgressState.SELF_REPORTED if pending and underlying not in CLOSED_STATES else underlying
    )
    values.closed = values.state in CLOSED_STATES


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
    before = tally_of(progress)
    values = progress_values_for(campaign, household_id, persons_total)
    for name in PROGRESS_FIELDS:
        setattr(progress, name, getattr(values, name))
    progress_save(progress, before=before)
    return progress


def progress_save(progress: HouseholdProgress, *, before) -> None:
    """Store a household's new progress and move it between its grid's tallies: every change
    of a progress row goes through here, so the tallies the rollup reads stay the sum of the
    rows (`before` is `tally_of(progress)` taken before the change)."""
    progress.save(update_fields=list(PROGRESS_FIELDS))
    tally_move(
        campaign_id=progress.campaign_id,
        grid_id=progress.grid_id,
        before=before,
        after=tally_of(progress),
    )
