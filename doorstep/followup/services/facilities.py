"""Isolation facilities: occupancy is the count of current placements, never typed."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.core.db import sqlite_writer_turn
from doorstep.core.services import audit_write

from ..models import (
    ChangeKind,
    Facility,
    FacilityKind,
    KeyPerson,
    MonitoringStatus,
    Placement,
)
from .errors import FacilityFull, FollowupRefused
from .keypersons import history


def with_occupancy(facilities: QuerySet[Facility]) -> QuerySet[Facility]:
    return facilities.annotate(
        occupied=Count("placements", filter=Q(placements__ended_at__isnull=True))
    )


def placement_create(
    *,
    user: User,
    key_person: KeyPerson,
    facility: Facility,
    until: datetime.date | None = None,
    request: HttpRequest | None = None,
) -> Placement:
    """Place the key person at a site. A full site refuses, naming the sites with room."""
    if facility.kind == FacilityKind.FEVER_CLINIC:
        raise FollowupRefused(_("a fever clinic takes referrals, not placements"), "facility")
    with sqlite_writer_turn(), transaction.atomic():
        # The site's row is the lock: two placements into its last room take turns.
        facility = Facility.objects.select_for_update().get(pk=facility.pk)
        occupied = Placement.objects.filter(facility=facility, ended_at__isnull=True).count()
        if occupied >= facility.capacity:
            others = [
                f
                for f in with_occupancy(
                    Facility.objects.filter(kind=facility.kind, area_id=facility.area_id).exclude(
                        pk=facility.pk
                    )
                ).order_by("name")
                if f.occupied < f.capacity  # type: ignore[attr-defined]
            ]
            raise FacilityFull(facility, others)
        now = timezone.now()
        Placement.objects.filter(key_person=key_person, ended_at__isnull=True).update(ended_at=now)
        monitoring = key_person.monitorings.filter(status=MonitoringStatus.ACTIVE).first()
        placement = Placement.objects.create(
            facility=facility,
            key_person=key_person,
            monitoring=monitoring,
            since=now,
            until=until or (monitoring.end_date if monitoring else None),
            placed_by=user,
        )
        if monitoring is not None:
            history(
                monitoring,
                ChangeKind.PLACED,
                user=user,
                detail={"facility": facility.pk, "name": facility.name},
            )
        audit_write(user=user, action="placement.create", obj=placement, request=request)
    return placement


@transaction.atomic
def placement_end(*, user: User, placement: Placement, why: str = "") -> Placement:
    """The key person leaves the site: its room counts free again."""
    placement = Placement.objects.select_for_update().get(pk=placement.pk)
    if placement.ended_at is None:
        placement.ended_at = timezone.now()
        placement.save(update_fields=["ended_at"])
        audit_write(user=user, action="placement.end", obj=placement, detail={"why": why})
    return placement


def placements_end_for(*, user: User, key_person_id: int, why: str) -> None:
    """End the key person's current placement. Called inside the writes that close the
    monitoring (release, admission to hospital) or hand the record to another community: a
    placement left open would keep its room taken for ever."""
    for placement in Placement.objects.filter(key_person_id=key_person_id, ended_at__isnull=True):
        placement_end(user=user, placement=placement, why=why)
