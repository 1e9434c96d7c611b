"""Possible duplicates: a person decides, merge or keep apart, and the decision is audited."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.core.services import audit_write

from ..models import (
    ChangeKind,
    DuplicateStatus,
    KeyPerson,
    Monitoring,
    MonitoringStatus,
    Placement,
    PossibleDuplicate,
    Reason,
    Source,
)
from .errors import FollowupRefused
from .facilities import placements_end_for
from .keypersons import end_date_refresh, history


def _placement_follow(
    *, user: User, drop: KeyPerson, keep: KeyPerson, monitoring: Monitoring | None
) -> None:
    """The person of a merged record stays where they are placed: the placement goes to the
    record kept (its room stays taken), unless that one has its own, then it ends (one room per
    person)."""
    if Placement.objects.filter(key_person=keep, ended_at__isnull=True).exists():
        placements_end_for(user=user, key_person_id=drop.pk, why="merged")
    else:
        Placement.objects.filter(key_person=drop, ended_at__isnull=True).update(
            key_person=keep, monitoring=monitoring
        )


@transaction.atomic
def duplicate_decide(
    *, user: User, case: PossibleDuplicate, merge: bool, request: HttpRequest | None = None
) -> PossibleDuplicate:
    """Merge: the newer record's reasons and sources move to the older one, whose end date
    moves with them; the newer record's monitoring closes as merged. Keep apart: nothing moves."""
    case = PossibleDuplicate.objects.select_for_update().get(pk=case.pk)
    if case.status != DuplicateStatus.PENDING:
        raise FollowupRefused(_("already decided"), "decision")
    keep, drop = case.other, case.key_person
    if merge:
        Reason.objects.filter(key_person=drop).update(key_person=keep)
        Source.objects.filter(key_person=drop).update(key_person=keep)
        KeyPerson.objects.filter(pk=drop.pk).update(merged_into=keep)
        for monitoring in Monitoring.objects.filter(
            key_person=drop, status=MonitoringStatus.ACTIVE
        ):
            monitoring.status = MonitoringStatus.MERGED
            monitoring.save(update_fields=["status"])
            history(monitoring, ChangeKind.MERGED, user=user, detail={"into": keep.pk})
        active = Monitoring.objects.filter(key_person=keep, status=MonitoringStatus.ACTIVE).first()
        if active is not None:
            end_date_refresh(active, user=user, reason=_("merged record"))
        _placement_follow(user=user, drop=drop, keep=keep, monitoring=active)
    case.status = DuplicateStatus.MERGED if merge else DuplicateStatus.KEPT_APART
    case.decided_by, case.decided_at = user, timezone.now()
    case.save(update_fields=["status", "decided_by", "decided_at"])
    audit_write(
        user=user,
        action="key_person.duplicate_" + ("merge" if merge else "keep_apart"),
        obj=case,
        request=request,
        detail={"key_person": drop.pk, "other": keep.pk},
    )
    return case
