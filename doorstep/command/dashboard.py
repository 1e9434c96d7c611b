"""The role dashboards, the first page after login: what this user must do today and how their
area stands. Every count goes through the domain selectors (scoped to the user)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
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
from doorstep.followup import selectors as followup
from doorstep.followup.models import ReferralStatus
from doorstep.imports.models import ImportStatus
from doorstep.imports.selectors import import_jobs_visible_to
from doorstep.screening import coverage
from doorstep.screening.models import Campaign, ProgressState
from doorstep.screening.selectors import campaigns_visible_to, progress_visible_to

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


def todos(user: User) -> list[Todo]:
    now = timezone.now()
    end = _start_of_day(now) + datetime.timedelta(days=1)
    found: list[Todo] = []
    for campaign in _open_campaigns(user):
        rows = progress_visible_to(user, campaign)
        if user.role == Role.GRID_WORKER:
            field = reverse("screening:field_list", args=[campaign.pk])
            found.append(
                Todo(
                    _("Revisits due today (%(c)s)") % {"c": campaign.name},
                    rows.filter(state=ProgressState.REVISIT, revisit_due_at__lt=end).count(),
                    f"{field}?f=revisit",
                )
            )
            found.append(
                Todo(
                    _("Households not yet visited (%(c)s)") % {"c": campaign.name},
                    rows.filter(state=ProgressState.NOT_STARTED).count(),
                    f"{field}?f=todo",
                )
            )
            continue
        listing = reverse("screening:coverage_list", args=[campaign.pk])
        # one pass over the open states' rows instead of a COUNT per state
        counts = rows.filter(
            state__in=[ProgressState.REVISIT, ProgressState.SELF_REPORTED, ProgressState.ESCALATED]
        ).aggregate(
            overdue=Count("pk", filter=Q(state=ProgressState.REVISIT, revisit_due_at__lt=now)),
            self_reported=Count("pk", filter=Q(state=ProgressState.SELF_REPORTED)),
            escalated=Count("pk", filter=Q(state=ProgressState.ESCALATED)),
        )
        found.append(
            Todo(
                _("Revisits overdue (%(c)s)") % {"c": campaign.name},
                counts["overdue"],
                f"{listing}?state=revisit",
            )
        )
        found.append(
            Todo(
                _("Self-reports to verify (%(c)s)") % {"c": campaign.name},
                counts["self_reported"],
                f"{listing}?state=self_reported",
            )
        )
        found.append(
            Todo(
                _("Escalated households (%(c)s)") % {"c": campaign.name},
                counts["escalated"],
                f"{listing}?state=escalated",
            )
        )
    found.extend(_follow_up_todos(user, now))
    if user.manages_roster:
        failed = import_jobs_visible_to(user).filter(status=ImportStatus.FAILED).count()
        found.append(Todo(_("Imports that failed"), failed, reverse("imports:list")))
    if user.role == Role.COMMAND:
        waiting = (
            bulletins_visible_to(user)
            .filter(status=BulletinStatus.DRAFT)
            .exclude(author=user)
            .count()
        )
        found.append(
            Todo(_("Bulletins waiting for your approval"), waiting, reverse("command:bulletins"))
        )
    return found


def _follow_up_todos(user: User, now: datetime.datetime) -> list[Todo]:
    """Checks due, handoffs to accept, referrals waiting, arrivals to enter: each from its
    domain's scoped selectors, shown only to the roles that act on it."""
    found: list[Todo] = []
    if user.role in (Role.GRID_WORKER, Role.COMMUNITY_ADMIN):
        found.append(
            Todo(
                _("Follow-up checks due now"),
                followup.due_now(user, now).count(),
                reverse("followup:today"),
            )
        )
    if user.role == Role.COMMUNITY_ADMIN:
        waiting = handoffs_visible_to(user).filter(
            status=HandoffStatus.PENDING, community_id=user.jurisdiction_area_id
        )
        found.append(
            Todo(
                _("Arrivals handed to your community"),
                waiting.count(),
                reverse("checkpoints:inbox"),
            )
        )
    if user.role == Role.CLINIC_STAFF:
        waiting_referrals = followup.referrals_for_clinic(user).exclude(
            status=ReferralStatus.CLOSED
        )
        found.append(
            Todo(
                _("Referrals waiting for an outcome"),
                waiting_referrals.count(),
                reverse("followup:referrals"),
            )
        )
    if user.role == Role.CHECKPOINT_OFFICER:
        checkpoint = officer_checkpoint(user)
        if checkpoint is not None:
            found.append(
                Todo(
                    _("Arrivals entered today at %(c)s") % {"c": checkpoint.name},
                    arrivals_visible_to(user)
                    .filter(checkpoint=checkpoint, arrived_at__gte=_start_of_day(now))
                    .count(),
                    reverse("checkpoints:entry", args=[checkpoint.pk]),
                )
            )
    return found


def _start_of_day(now: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def standing(user: User) -> list[dict[str, Any]]:
    """How the user's area stands in each open campaign: closed share, persons seen and flagged,
    and (for admins) each child area's coverage for a bar chart."""
    area = user.jurisdiction_area
    result: list[dict[str, Any]] = []
    if area is None:
        return result
    for campaign in _open_campaigns(user):
        if user.role == Role.GRID_WORKER:
            rows = coverage.coverage_by_worker(campaign, area)
            mine = next((r for r in rows if r.key == user), None)
            if mine is None:
                continue
            total, children = mine, list[coverage.CoverageRow]()
        else:
            scope = campaign.scope_area
            if not (area.path.startswith(scope.path) or scope.path.startswith(area.path)):
                continue
            total, children = coverage.coverage_by_child_area(campaign, area)
        chart = {
            "days": [c.label for c in children],
            "series": [
                {
                    "name": _("Households closed %"),
                    "data": [round(c.household_coverage * 100, 1) for c in children],
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


def dashboard_context(user: User) -> dict[str, Any]:
    return {
        "todos": todos(user),
        "standing": standing(user),
        "reads_briefs": may_read_briefs(user),
        "is_grid_worker": user.role == Role.GRID_WORKER,
    }
