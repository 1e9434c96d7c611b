"""Campaigns: create, enrol the roster's households, close; the risk-area list."""

import datetime
from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import ROSTER_MANAGER_ROLES, Role, User
from doorstep.areas.models import Area
from doorstep.core.db import prefix_q, refresh_planner_statistics
from doorstep.core.services import audit_write
from doorstep.registry.models import Household, Person, PersonStatus

from ..models import Campaign, HouseholdProgress, RiskArea
from ..tally import tally_add_enrolled


def _require_manager(user: User) -> None:
    if user.role not in ROSTER_MANAGER_ROLES or user.jurisdiction_area is None:
        raise PermissionDenied


@transaction.atomic
def campaign_create(
    *,
    user: User,
    name: str,
    scope_area: Area,
    deadline: datetime.datetime,
    starts_at: datetime.datetime | None = None,
    kind: str = "sweep",
    max_attempts: int = 3,
    lookback_days: int = 14,
    questions: Sequence[str] | None = None,
    request=None,
) -> Campaign:
    """Create a campaign and enrol every household in its scope (one progress row each)."""
    _require_manager(user)
    if not scope_area.path.startswith(user.jurisdiction_area.path):
        raise PermissionDenied
    starts_at = starts_at or timezone.now()
    if deadline <= starts_at:
        raise ValidationError({"deadline": _("the deadline must be after the start")})
    from ..rules import DEFAULT_QUESTIONS

    campaign = Campaign.objects.create(
        name=name,
        kind=kind,
        scope_area=scope_area,
        starts_at=starts_at,
        deadline=deadline,
        max_attempts=max_attempts,
        lookback_days=lookback_days,
        questions=list(questions if questions is not None else DEFAULT_QUESTIONS),
        created_by=user,
    )
    enrolled = campaign_enrol_households(campaign=campaign)
    if enrolled > 10_000:
        refresh_planner_statistics(HouseholdProgress)
    audit_write(
        user=user,
        action="campaign.create",
        obj=campaign,
        request=request,
        detail={"households": enrolled},
    )
    return campaign


def campaign_enrol_households(*, campaign: Campaign) -> int:
    """Add a progress row for every household in scope that has none yet (new roster rows
    included); one INSERT … SELECT, so a district of 333,000 households enrols in seconds."""
    progress = HouseholdProgress._meta.db_table
    household = Household._meta.db_table
    area = Area._meta.db_table
    person = Person._meta.db_table
    path = campaign.scope_area.path
    if connection.vendor == "postgresql":
        escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        in_scope, path_params = "a.path LIKE %s ESCAPE '\\'", [escaped + "%"]
    else:
        in_scope, path_params = (
            "a.path >= %s AND a.path < %s",
            [path, path[:-1] + chr(ord(path[-1]) + 1)],
        )
    params = [campaign.pk, "not_started", PersonStatus.ACTIVE, *path_params, campaign.pk]
    # Table names come from model metadata; every value is a parameter. Members are counted by
    # one GROUP BY (a sequential read) rather than one index probe per household: on a cold
    # cache the probes are random reads, a third of a million of them for a district.
    sql = f"""
        INSERT INTO {progress} (campaign_id, household_id, grid_id, state, closed, attempts,
            failed_attempts, last_outcome, persons_total, persons_seen, persons_elsewhere,
            persons_flagged)
        SELECT %s, h.id, h.grid_id, %s, FALSE, 0, 0, '', COALESCE(pc.n, 0), 0, 0, 0
        FROM {household} h JOIN {area} a ON a.id = h.grid_id
        LEFT JOIN (SELECT household_id, COUNT(*) AS n FROM {person} WHERE status = %s
                   GROUP BY household_id) pc ON pc.household_id = h.id
        WHERE {in_scope}
          AND NOT EXISTS (SELECT 1 FROM {progress} x WHERE x.campaign_id = %s
                          AND x.household_id = h.id)
        RETURNING grid_id, persons_total
    """  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Check the foreign keys row by row as they are inserted rather than queueing a
            # million deferred checks for the commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, params)
        enrolled = cursor.fetchall()
        tally_add_enrolled(campaign_id=campaign.pk, enrolled=enrolled)
    return len(enrolled)


def open_campaigns_enrol_new_households(*, area: Area) -> int:
    """After the roster grew under `area`: enrol its new households in every open campaign
    that covers them, so a campaign's open set always matches the roster."""
    ancestors = [code for code in area.path.strip("/").split("/") if code]
    campaigns = Campaign.objects.filter(closed_at__isnull=True, deadline__gt=timezone.now()).filter(
        Q(scope_area__code__in=ancestors) | prefix_q("scope_area__path", area.path)
    )
    return sum(
        campaign_enrol_households(campaign=c) for c in campaigns.select_related("scope_area")
    )


@transaction.atomic
def campaign_close(*, user: User, campaign: Campaign, request=None) -> Campaign:
    _require_manager(user)
    if not campaign.scope_area.path.startswith(user.jurisdiction_area.path):
        raise PermissionDenied
    if campaign.closed_at is not None:
        return campaign  # closing twice keeps the first closing time (and its audit event)
    campaign.closed_at = timezone.now()
    campaign.save(update_fields=["closed_at"])
    audit_write(user=user, action="campaign.close", obj=campaign, request=request)
    return campaign


@transaction.atomic
def risk_areas_set(*, user: User, names: Sequence[str], request=None) -> list[RiskArea]:
    """Replace the active risk areas (command only): the list moves with the epidemic."""
    if user.role != Role.COMMAND:
        raise PermissionDenied
    wanted = {n.strip() for n in names if n.strip()}
    RiskArea.objects.exclude(name__in=wanted).update(active=False)
    for name in wanted:
        RiskArea.objects.update_or_create(name=name, defaults={"active": True})
    audit_write(
        user=user,
        action="risk_areas.set",
        object_type="screening.riskarea",
        request=request,
        detail={"names": sorted(wanted)},
    )
    return list(RiskArea.objects.filter(active=True))


def progress_scope_for_area(campaign: Campaign, area: Area):
    return HouseholdProgress.objects.filter(campaign=campaign).filter(
        prefix_q("grid__path", area.path)
    )
