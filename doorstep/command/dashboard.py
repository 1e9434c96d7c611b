"""The role dashboards, the first page after login: what this user must do today and how their
area stands. Every count goes through the domain selectors (scoped to the user).

No figure here scans the roster or the progress rows of an area on a page view: the header's
households and persons are the grids' stored roster counts (`registry/counts.py`), the standing
and the open work (self-reports to verify, escalations) are the sweep's grid tallies rolled up
once per campaign (`screening.coverage.closed_by_child_area`: the coverage pages' roll-up, with
each child's bar as a plain row; shared by the to-dos and the standing), and the overdue
revisits one count over an index (`revisits_overdue`), sent with the page's other counts (the
follow-up checks due among them, `followup.field_reads.due_now_count_sql`) in one statement
(`core.db.count_each`)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import Role, User
from doorstep.checkpoints.models import HandoffStatus
from doorstep.checkpoints.selectors import (
    arrivals_visible_to,
    handoffs_visible_to,
    officer_checkpoint,
)
from doorstep.core.db import CountSQL, count_each
from doorstep.followup import field_reads
from doorstep.followup import selectors as followup
from doorstep.followup.models import ReferralStatus
from doorstep.imports.models import ImportStatus
from doorstep.imports.selectors import import_jobs_visible_to
from doorstep.screening import coverage
from doorstep.screening.models import Campaign, ProgressState
from doorstep.screening.selectors import (
    campaigns_visible_to,
    progress_visible_to,
    revisits_overdue,
)
from doorstep.screening.tally import progress_sums

from .models import BulletinStatus
from .selectors import bulletins_visible_to, may_read_briefs


@dataclass
class Todo:
    label: str
    count: int
    url: str


def _open_campaigns(user: User) -> list[Campaign]:
    now = timezone.now()
    return [
        c
        for c in campaigns_visible_to(user).filter(closed_at__isnull=True, archived_at__isnull=True)
        if c.is_open_at(now) or c.deadline >= now - datetime.timedelta(days=1)
    ]


Rollups = dict[int, tuple[coverage.CoverageRow, list[coverage.ChildClosed]]]


def _rollups(user: User, campaigns: list[Campaign]) -> Rollups:
    """The area's roll-up of each open campaign that reaches it (from the grid tallies), for an
    admin or the command: (the area's total, its children's bars as plain rows)."""
    area = user.jurisdiction_area
    found: Rollups = {}
    if area is None or user.role == Role.GRID_WORKER:
        return found
    for campaign in campaigns:
        scope = campaign.scope_area
        if area.path.startswith(scope.path) or scope.path.startswith(area.path):
            found[campaign.pk] = coverage.closed_by_child_area(campaign, area)
    return found


Counts = list[tuple[Todo, QuerySet[Any] | CountSQL]]


def todos(
    user: User, campaigns: list[Campaign] | None = None, rollups: Rollups | None = None
) -> list[Todo]:
    """What the user must do today, each with its count: the counts over the records (each
    its domain's scoped queryset) are answered by one statement (`core.db.count_each`); the
    self-reports and escalations are the roll-up's states."""
    now = timezone.now()
    end = _start_of_day(now) + datetime.timedelta(days=1)
    found: list[Todo] = []
    counted: Counts = []  # the to-dos whose count is a queryset's, counted together below

    def add(label: str, rows: QuerySet[Any] | CountSQL, url: str) -> None:
        todo = Todo(label, 0, url)
        found.append(todo)
        counted.append((todo, rows))

    if campaigns is None:
        campaigns = _open_campaigns(user)
    if rollups is None:
        rollups = _rollups(user, campaigns)
    for campaign in campaigns:
        if user.role == Role.GRID_WORKER:
            rows = progress_visible_to(user, campaign)
            field = reverse("screening:field_list", args=[campaign.pk])
            add(
                _("Revisits due today (%(c)s)") % {"c": campaign.name},
                rows.filter(state=ProgressState.REVISIT, revisit_due_at__lt=end),
                f"{field}?f=revisit",
            )
            add(
                _("Households not yet visited (%(c)s)") % {"c": campaign.name},
                rows.filter(state=ProgressState.NOT_STARTED),
                f"{field}?f=todo",
            )
            continue
        listing = reverse("screening:coverage_list", args=[campaign.pk])
        # the households by state are the grid tallies the standing rolls up (the same rows as
        # progress_visible_to: the area's grids in the campaign); overdue depends on the moment
        rollup = rollups.get(campaign.pk)
        by_state = rollup[0].by_state if rollup is not None else {}
        add(
            _("Revisits overdue (%(c)s)") % {"c": campaign.name},
            revisits_overdue(user, campaign, now=now),
            f"{listing}?state=revisit",
        )
        found.append(
            Todo(
                _("Self-reports to verify (%(c)s)") % {"c": campaign.name},
                by_state.get(ProgressState.SELF_REPORTED, 0),
                f"{listing}?state=self_reported",
            )
        )
        found.append(
            Todo(
                _("Escalated households (%(c)s)") % {"c": campaign.name},
                by_state.get(ProgressState.ESCALATED, 0),
                f"{listing}?state=escalated",
            )
        )
    found.extend(_follow_up_todos(user, now, counted))
    if user.manages_roster:
        add(
            _("Imports that failed"),
            import_jobs_visible_to(user).filter(status=ImportStatus.FAILED),
            reverse("imports:list"),
        )
    if user.role == Role.COMMAND:
        add(
            _("Bulletins waiting for your approval"),
            bulletins_visible_to(user).filter(status=BulletinStatus.DRAFT).exclude(author=user),
            reverse("command:bulletins"),
        )
    for (todo, _rows), n in zip(
        counted, count_each([rows for _todo, rows in counted]), strict=True
    ):
        todo.count = n
    return found


def _follow_up_todos(user: User, now: datetime.datetime, counted: Counts) -> list[Todo]:
    """Checks due, handoffs to accept, referrals waiting, arrivals to enter: each from its
    domain's scoped selectors, shown only to the roles that act on it (a queryset's count is
    left to the caller: appended to `counted`)."""
    found: list[Todo] = []

    def add(label: str, rows: QuerySet[Any] | CountSQL, url: str) -> None:
        todo = Todo(label, 0, url)
        found.append(todo)
        counted.append((todo, rows))

    if user.role in (Role.GRID_WORKER, Role.COMMUNITY_ADMIN):
        # due_now's count by hand (its slot bit is an annotation), sent with the other counts
        add(
            _("Follow-up checks due now"),
            field_reads.due_now_count_sql(user, now),
            reverse("followup:today"),
        )
    if user.role == Role.COMMUNITY_ADMIN:
        add(
            _("Arrivals handed to your community"),
            handoffs_visible_to(user).filter(
                status=HandoffStatus.PENDING, community_id=user.jurisdiction_area_id
            ),
            reverse("checkpoints:inbox"),
        )
    if user.role == Role.CLINIC_STAFF:
        add(
            _("Referrals waiting for an outcome"),
            followup.referrals_for_clinic(user).exclude(status=ReferralStatus.CLOSED),
            reverse("followup:referrals"),
        )
    if user.role == Role.CHECKPOINT_OFFICER:
        checkpoint = officer_checkpoint(user)
        if checkpoint is not None:
            add(
                _("Arrivals entered today at %(c)s") % {"c": checkpoint.name},
                arrivals_visible_to(user).filter(
                    checkpoint=checkpoint, arrived_at__gte=_start_of_day(now)
                ),
                reverse("checkpoints:entry", args=[checkpoint.pk]),
            )
    return found


def _start_of_day(now: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def standing(
    user: User, campaigns: list[Campaign] | None = None, rollups: Rollups | None = None
) -> list[dict[str, Any]]:
    """How the user's area stands in each open campaign: closed share, persons seen and flagged,
    and (for admins) each child area's coverage for a bar chart."""
    area = user.jurisdiction_area
    result: list[dict[str, Any]] = []
    if area is None:
        return result
    if campaigns is None:
        campaigns = _open_campaigns(user)
    if rollups is None:
        rollups = _rollups(user, campaigns)
    for campaign in campaigns:
        if user.role == Role.GRID_WORKER:
            # the worker's own rows only (their assignment: ~1,000 households), not every
            # worker's of the area grouped to pick one
            mine = coverage.CoverageRow(key=user, label=user.display_name)
            rows = progress_visible_to(user, campaign).values_list("state")
            # (state, households, persons, seen, elsewhere, flagged)
            for state, *values in rows.annotate(**progress_sums()).order_by():
                mine.add(state, *(int(v or 0) for v in values))
            if not mine.households:
                continue
            total, children = mine, list[coverage.ChildClosed]()
        else:
            if campaign.pk not in rollups:  # the campaign does not reach the area
                continue
            total, children = rollups[campaign.pk]
        chart = {
            "days": [c.label for c in children],
            "series": [
                {
                    "name": _("Households closed %"),
                    "data": [
                        round(c.closed / c.households * 100, 1) if c.households else 0.0
                        for c in children
                    ],
                }
            ],
            "kind": "bar",
        }
        result.append(
            {
                "campaign": campaign,
                "households": total.households,
                "closed": total.closed,
                "percent": round(total.household_coverage * 100, 1),
                "persons_seen": total.persons_seen,
                "persons_flagged": total.persons_flagged,
                "chart": chart if children else None,
                "chart_id": f"chart-{campaign.pk}",
            }
        )
    return result


def dashboard_parts(user: User) -> tuple[list[Todo], list[dict[str, Any]]]:
    """The to-dos and the standing, from one read of the open campaigns and one roll-up each."""
    campaigns = _open_campaigns(user)
    rollups = _rollups(user, campaigns)
    return todos(user, campaigns, rollups), standing(user, campaigns, rollups)


def dashboard_context(user: User) -> dict[str, Any]:
    found, stands = dashboard_parts(user)
    return {
        "todos": found,
        "standing": stands,
        "reads_briefs": may_read_briefs(user),
        "is_grid_worker": user.role == Role.GRID_WORKER,
    }
