"""Reads of campaigns and their progress, always scoped to the user."""

import datetime
from typing import NamedTuple

from django.db.models import Q, QuerySet
from django.http import Http404

from doorstep.accounts.models import Role
from doorstep.areas.models import Area
from doorstep.core.db import in_subquery_q, prefix_q
from doorstep.registry.models import Person, PersonStatus

from .models import (
    Assignment,
    Campaign,
    HeldVisit,
    HouseholdProgress,
    ProgressState,
    SelfReportToken,
    Visit,
    VisitSource,
)


def _path(user) -> str | None:
    if not user.is_authenticated or not user.is_active or user.jurisdiction_area is None:
        return None
    return user.jurisdiction_area.path


def campaigns_visible_to(user) -> QuerySet[Campaign]:
    """Campaigns whose scope overlaps the user's jurisdiction (above it or inside it)."""
    path = _path(user)
    if path is None:
        return Campaign.objects.none()
    ancestors = [c for c in path.strip("/").split("/") if c]
    return Campaign.objects.filter(
        Q(scope_area__code__in=ancestors) | prefix_q("scope_area__path", path)
    ).select_related("scope_area")


def access_campaign(user, campaign_id) -> Campaign:
    try:
        return campaigns_visible_to(user).get(pk=campaign_id)
    except (Campaign.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def progress_visible_to(user, campaign: Campaign) -> QuerySet[HouseholdProgress]:
    """Progress rows the user may see and act on: a grid worker sees their assignment only."""
    path = _path(user)
    if path is None:
        return HouseholdProgress.objects.none()
    rows = HouseholdProgress.objects.filter(campaign=campaign).filter(prefix_q("grid__path", path))
    if user.role == Role.GRID_WORKER:
        # Their assignment, and only while it lies in their jurisdiction: a worker moved to
        # another grid loses the old households at once.
        return rows.filter(assigned_to=user)
    return rows


def revisits_overdue(user, campaign: Campaign, *, now: datetime.datetime):
    """The user's progress rows (`progress_visible_to`) that wait for a revisit that fell due
    before `now`, as a queryset to count: one count over the index on (campaign, state, grid,
    revisit_due_at). The user's grids are named by id from the small area table, so the
    progress rows are never joined to their areas, and a user whose area holds the whole
    campaign names none."""
    path = _path(user)
    if path is None:
        return HouseholdProgress.objects.none()
    if user.role == Role.GRID_WORKER:
        rows = progress_visible_to(user, campaign)
    else:
        rows = HouseholdProgress.objects.filter(campaign=campaign)
        if not campaign.scope_area.path.startswith(path):
            # The planner multiplies the selectivities of `state = 'revisit'` and `revisit_due_at
            # < now` as if independent (only revisits have a due moment): the area's grids as
            # one array keep the grid an index condition on PostgreSQL.
            grids = Area.objects.filter(prefix_q("path", path)).order_by().values("pk")
            rows = rows.filter(in_subquery_q("grid_id", grids))
    return rows.filter(state=ProgressState.REVISIT, revisit_due_at__lt=now)


def access_progress(
    user, campaign: Campaign, household_id, *, for_update: bool = False
) -> HouseholdProgress:
    rows = progress_visible_to(user, campaign).select_related("household")
    if for_update:
        # Serialises two visits to the same household, so each fold sees the other's visit.
        rows = rows.select_for_update(of=("self",))
    try:
        return rows.get(household_id=household_id)
    except (HouseholdProgress.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


WALK_ORDER = (
    "household__building",
    "household__unit",
    "household__floor",
    "household__room",
    "household_id",
)


def worker_household_list(
    user, campaign: Campaign, *, only: str = "", worker=None
) -> QuerySet[HouseholdProgress]:
    """A worker's list in the order they walk it: building, unit, floor, room.

    `only`: "" (all), "open" (not closed), "todo" (not started), "revisit" (nobody home).
    An admin may look at one worker's list by passing `worker`.
    """
    rows = progress_visible_to(user, campaign)
    if worker is not None:
        rows = rows.filter(assigned_to=worker)
    if only == "open":
        rows = rows.filter(closed=False)
    elif only in ("todo", "not_started"):
        rows = rows.filter(state="not_started")
    elif only == "revisit":
        rows = rows.filter(state="revisit")
    return rows.select_related("household").order_by("grid_id", *WALK_ORDER)


def assignments_visible_to(user, campaign: Campaign) -> QuerySet[Assignment]:
    path = _path(user)
    if path is None:
        return Assignment.objects.none()
    rows = Assignment.objects.filter(campaign=campaign).select_related(
        "worker", "grid", "grid__parent"
    )
    if user.role == Role.GRID_WORKER:
        return rows.filter(worker=user)
    return rows.filter(prefix_q("grid__path", path))


def visits_for_household(user, campaign: Campaign, household_id) -> QuerySet[Visit]:
    access_progress(user, campaign, household_id)
    return (
        Visit.objects.filter(campaign=campaign, household_id=household_id)
        .select_related("worker")
        .prefetch_related("checks__person")
    )


def area_in_scope(user, campaign: Campaign, area_id) -> Area:
    """An area inside both the user's jurisdiction and the campaign's scope."""
    path = _path(user)
    try:
        area = Area.objects.get(pk=area_id)
    except (Area.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    if (
        path is None
        or not area.path.startswith(path)
        or not area.path.startswith(campaign.scope_area.path)
    ):
        raise Http404
    return area


def self_report_members(row: SelfReportToken) -> list[Person]:
    """The members a self-report page asks about: the token (checked valid by
    services.self_report_lookup) is the key, and it opens one household's active members."""
    return list(
        Person.objects.filter(household_id=row.household_id, status=PersonStatus.ACTIVE).order_by(
            "id"
        )
    )


def flagged_checks_of_visit(user, campaign: Campaign, visit_id) -> list:
    """The flagged persons of one visit the user may see (the worker's feedback after a save):
    empty when the visit is not theirs to see, exactly as when nobody was flagged."""
    try:
        visit = Visit.objects.filter(campaign=campaign, pk=int(visit_id)).first()
    except (ValueError, TypeError):
        return []
    if (
        visit is None
        or not progress_visible_to(user, campaign).filter(household_id=visit.household_id).exists()
    ):
        return []
    return list(visit.checks.filter(flagged=True).select_related("person").order_by("pk"))


class ClosedBy(NamedTuple):
    """Who closed a household: the user who recorded the visit ("" for a self-report) and the
    visit's source. For a paper form typed in the evening or a sheet uploaded, that user typed
    it (the visit does not record who knocked), so the page says "entered by", not "screened by".
    """

    name: str
    source: str

    @property
    def typed_from_paper(self) -> bool:
        return self.source in (VisitSource.EVENING, VisitSource.SHEET)


def closed_by_others(user, campaign: Campaign, household_ids: list[int]) -> dict[int, ClosedBy]:
    """Households of this list that another person's visit closed (screened while the worker
    was elsewhere): household id → who and how. Only among the ids the caller already sees."""
    visible = progress_visible_to(user, campaign).filter(household_id__in=household_ids)
    rows = (
        Visit.objects.filter(
            campaign=campaign,
            household_id__in=visible.filter(closed=True).values("household_id"),
            outcome="screened",
        )
        .order_by("household_id", "-visited_at")
        .values_list("household_id", "worker_id", "worker__full_name", "worker__username", "source")
    )
    latest: dict[int, tuple] = {}
    for household_id, worker_id, full_name, username, source in rows:
        latest.setdefault(household_id, (worker_id, ClosedBy(full_name or username or "", source)))
    return {
        household_id: closed
        for household_id, (worker_id, closed) in latest.items()
        if worker_id != user.pk
    }


def saved_row(user, campaign: Campaign, household_id) -> HouseholdProgress | None:
    """One progress row of the user's list by household id, or None (never an error)."""
    try:
        return (
            progress_visible_to(user, campaign)
            .select_related("household")
            .filter(household_id=int(household_id))
            .first()
        )
    except (ValueError, TypeError):
        return None


def progress_by_short_code(
    user, campaign: Campaign, code: str
) -> tuple[HouseholdProgress | None, Campaign | None]:
    """(the row a paper form's short code stands for in this campaign, None), or (None, the
    other campaign it belongs to) when the caller may see it there, else (None, None): a code
    outside the caller's reach looks exactly like a code that does not exist."""
    from .codes import parse_short_code

    progress_id = parse_short_code(code)
    if progress_id is None:
        return None, None
    row = (
        progress_visible_to(user, campaign)
        .select_related("household")
        .filter(pk=progress_id)
        .first()
    )
    if row is not None:
        return row, None
    other = HouseholdProgress.objects.filter(pk=progress_id).exclude(campaign=campaign).first()
    if other is None:
        return None, None
    other_campaign = campaigns_visible_to(user).filter(pk=other.campaign_id).first()
    if other_campaign is None or not (
        progress_visible_to(user, other_campaign).filter(pk=progress_id).exists()
    ):
        return None, None
    return None, other_campaign


def has_own_list(user, campaign: Campaign) -> bool:
    """Whether the user holds households of this campaign themself (a worker's list)."""
    return progress_visible_to(user, campaign).filter(assigned_to=user).exists()


HELD_DECIDERS = {Role.COMMAND, Role.STREET_ADMIN, Role.COMMUNITY_ADMIN}


def held_visits_visible_to(user, campaign: Campaign) -> QuerySet[HeldVisit]:
    """Visits recorded offline and held for a decision (issue 14), of the households in the
    user's jurisdiction; for the admins who decide on them (never the worker who sent them)."""
    path = _path(user)
    if path is None or user.role not in HELD_DECIDERS:
        return HeldVisit.objects.none()
    return (
        HeldVisit.objects.filter(campaign=campaign)
        .filter(prefix_q("household__grid__path", path))
        .select_related("household", "worker", "decided_by")
    )


def access_held_visit(user, campaign: Campaign, held_id) -> HeldVisit:
    try:
        return held_visits_visible_to(user, campaign).get(pk=held_id)
    except (HeldVisit.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
