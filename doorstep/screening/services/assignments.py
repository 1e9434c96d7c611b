"""Assignments (包片) made by managers and blocks claimed (认领) by workers."""

from collections.abc import Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from doorstep.accounts.models import AREA_ROLE_LEVELS, Role, User
from doorstep.areas.models import Area
from doorstep.core.services import audit_write

from ..models import Assignment, Campaign, HouseholdProgress
from .campaigns import _require_manager


def _households_of_block(
    campaign: Campaign, grid: Area, building: str = "", household_ids: Sequence[int] | None = None
):
    rows = HouseholdProgress.objects.filter(campaign=campaign, grid=grid)
    if building:
        rows = rows.filter(household__building=building)
    if household_ids is not None:
        rows = rows.filter(household_id__in=list(household_ids))
    return rows


def _check_worker_fits(worker: User, grid: Area) -> None:
    if (
        worker.role not in AREA_ROLE_LEVELS
        or worker.jurisdiction_area is None
        or not grid.path.startswith(worker.jurisdiction_area.path)
        or not worker.is_active
    ):
        raise ValidationError(
            _("%(worker)s does not work in %(grid)s")
            % {"worker": worker, "grid": grid.display_name}
        )


@transaction.atomic
def assignment_create(
    *,
    user: User,
    campaign: Campaign,
    worker: User,
    grid: Area,
    building: str = "",
    household_ids: Sequence[int] | None = None,
    request=None,
) -> Assignment:
    """Give a worker a grid, a building of a grid, or a list of households (包片). Households
    already given to someone else move to this worker; the visits recorded stay as they are."""
    _require_manager(user)
    if not grid.path.startswith(user.jurisdiction_area.path) or not grid.path.startswith(
        campaign.scope_area.path
    ):
        raise Http404
    if campaign.closed_at is not None:
        raise ValidationError(_("the campaign is closed"))
    _check_worker_fits(worker, grid)
    kind = (
        Assignment.Kind.LIST
        if household_ids is not None
        else Assignment.Kind.BUILDING
        if building
        else Assignment.Kind.GRID
    )
    moved = _households_of_block(campaign, grid, building, household_ids).update(assigned_to=worker)
    if kind != Assignment.Kind.LIST:
        # The block now belongs to one worker: narrower assignments inside it are replaced.
        stale = Assignment.objects.filter(campaign=campaign, grid=grid)
        if building:
            stale = stale.filter(building=building).exclude(worker=worker)
        else:
            # The whole grid to one worker: every narrower assignment in it is subsumed,
            # the same worker's building assignments included.
            stale = stale.exclude(worker=worker, building="", kind=Assignment.Kind.GRID)
        stale.delete()
    assignment, _created = Assignment.objects.get_or_create(
        campaign=campaign,
        worker=worker,
        grid=grid,
        building=building,
        kind=kind,
        defaults={"created_by": user},
    )
    audit_write(
        user=user,
        action="assignment.create",
        obj=assignment,
        request=request,
        detail={"households": moved, "worker": worker.pk},
    )
    return assignment


@transaction.atomic
def assignment_claim(
    *, worker: User, campaign: Campaign, grid: Area, building: str = "", request=None
) -> Assignment:
    """A worker takes an unassigned block themselves (认领); a block with any household
    already assigned cannot be claimed."""
    if worker.role != Role.GRID_WORKER:
        raise PermissionDenied
    _check_worker_fits(worker, grid)
    if not grid.path.startswith(campaign.scope_area.path) or not campaign.is_open:
        raise Http404
    block = _households_of_block(campaign, grid, building).select_for_update()
    if not block.exists():
        raise ValidationError(_("there are no households in this block"))
    if block.filter(assigned_to__isnull=False).exists():
        raise ValidationError(_("this block is already assigned"))
    count = block.update(assigned_to=worker)
    assignment = Assignment.objects.create(
        campaign=campaign,
        worker=worker,
        grid=grid,
        building=building,
        claimed=True,
        kind=Assignment.Kind.BUILDING if building else Assignment.Kind.GRID,
        created_by=worker,
    )
    audit_write(
        user=worker,
        action="assignment.claim",
        obj=assignment,
        request=request,
        detail={"households": count},
    )
    return assignment
