"""Changes of a monitoring: measure, extension, reassignment, transfer, release. Every change
writes a history row (MonitoringChange) in the same transaction."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import ROSTER_MANAGER_ROLES, Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.services import audit_write

from .. import schedule
from ..models import (
    ChangeKind,
    KeyPerson,
    Measure,
    Monitoring,
    MonitoringStatus,
    ReasonKind,
    ReasonLength,
    Referral,
    ReferralStatus,
)
from .errors import FollowupRefused
from .facilities import placements_end_for
from .keypersons import end_date_of, history

ELIGIBILITY_QUESTIONS = ("own_room", "no_vulnerable", "supplies")


def _locked(monitoring: Monitoring) -> Monitoring:
    return Monitoring.objects.select_for_update().get(pk=monitoring.pk)


def _is_admin(user: User) -> bool:
    return user.role in ROSTER_MANAGER_ROLES and user.jurisdiction_area_id is not None


def _ensure_responsible_admin(user: User, key_person: KeyPerson, field: str) -> None:
    """Who a key person is followed by, and by which community, is decided by an admin whose
    jurisdiction covers the responsible community: never by a worker, nor by another
    community (whatever the caller: page, API, command)."""
    area = user.jurisdiction_area
    community = Area.objects.get(pk=key_person.community_id)
    if (
        not user.is_active
        or not _is_admin(user)
        or area is None
        or not community.path.startswith(area.path)
    ):
        raise FollowupRefused(
            _("only the community admins of the key person's community do this"), field
        )


@transaction.atomic
def monitoring_measure_set(
    *,
    user: User,
    monitoring: Monitoring,
    measure: str,
    eligibility: dict[str, bool] | None = None,
    reason: str = "",
) -> Monitoring:
    """Change the measure. Home isolation asks the eligibility questions first; a "no" refuses
    it and proposes centralised isolation."""
    monitoring = _locked(monitoring)
    if monitoring.status != MonitoringStatus.ACTIVE:
        raise FollowupRefused(_("the monitoring is closed"), "measure")
    if measure not in Measure.values:
        raise FollowupRefused(_("unknown measure"), "measure")
    answers = {q: bool((eligibility or {}).get(q)) for q in ELIGIBILITY_QUESTIONS}
    if measure == Measure.HOME_ISOLATION and not all(answers.values()):
        raise FollowupRefused(
            _(
                "not eligible for home isolation (a room of one's own, no vulnerable person at "
                "home, supplies ensured): centralised isolation is proposed"
            ),
            "eligibility",
        )
    before = monitoring.measure
    monitoring.measure = measure
    monitoring.eligibility = answers if measure == Measure.HOME_ISOLATION else {}
    monitoring.save(update_fields=["measure", "eligibility"])
    history(
        monitoring,
        ChangeKind.MEASURE,
        user=user,
        reason=reason,
        detail={"from": before, "to": measure, "eligibility": monitoring.eligibility},
    )
    return monitoring


@transaction.atomic
def monitoring_extend(*, user: User, monitoring: Monitoring, days: int, reason: str) -> Monitoring:
    if not reason.strip():
        raise FollowupRefused(_("an extension needs a reason"), "reason")
    if not 1 <= days <= 30:
        raise FollowupRefused(_("extend by 1 to 30 days"), "days")
    monitoring = _locked(monitoring)
    if monitoring.status != MonitoringStatus.ACTIVE:
        raise FollowupRefused(_("the monitoring is closed"), "days")
    before = monitoring.end_date
    monitoring.extension_days += days
    monitoring.end_date = end_date_of(monitoring)
    monitoring.save(update_fields=["extension_days", "end_date"])
    history(
        monitoring,
        ChangeKind.EXTENDED,
        user=user,
        reason=reason,
        detail={"from": str(before), "to": str(monitoring.end_date), "days": days},
    )
    return monitoring


@transaction.atomic
def key_person_reassign(*, user: User, key_person: KeyPerson, worker: User | None) -> KeyPerson:
    """Give the key person to another worker of the community (history keeps the previous).
    Only the responsible community's admins do."""
    _ensure_responsible_admin(user, key_person, "worker")
    if worker is not None and (
        worker.role != Role.GRID_WORKER
        or worker.jurisdiction_area is None
        or not worker.jurisdiction_area.path.startswith(key_person.community.path)
    ):
        raise FollowupRefused(_("choose a grid worker of the community"), "worker")
    before = key_person.worker_id
    KeyPerson.objects.filter(pk=key_person.pk).update(worker=worker)
    key_person.worker = worker
    for monitoring in key_person.monitorings.filter(status=MonitoringStatus.ACTIVE):
        history(
            monitoring,
            ChangeKind.REASSIGNED,
            user=user,
            detail={"from": before, "to": worker.pk if worker else None},
        )
    return key_person


@transaction.atomic
def transfer_ask(*, user: User, key_person: KeyPerson, to: Area, reason: str = "") -> KeyPerson:
    """Send the key person to the community where they live. Until that community accepts,
    both see the record and it counts as the sender's. Only the sending community's admins
    ask."""
    _ensure_responsible_admin(user, key_person, "to")
    if to.level != AreaLevel.COMMUNITY or to.pk == key_person.community_id:
        raise FollowupRefused(_("choose another community"), "to")
    KeyPerson.objects.filter(pk=key_person.pk).update(transfer_to=to)
    key_person.transfer_to = to
    for monitoring in key_person.monitorings.filter(status=MonitoringStatus.ACTIVE):
        history(
            monitoring,
            ChangeKind.TRANSFER_ASKED,
            user=user,
            reason=reason,
            detail={"from": key_person.community.code, "to": to.code},
        )
    return key_person


@transaction.atomic
def transfer_accept(*, user: User, key_person: KeyPerson) -> KeyPerson:
    """The receiving community takes the key person: responsible community and worker change."""
    to = key_person.transfer_to
    area = user.jurisdiction_area
    if to is None or area is None or not to.path.startswith(area.path) or not _is_admin(user):
        raise FollowupRefused(_("only the receiving community accepts a transfer"), "transfer")
    before = key_person.community.code
    # The worker who followed the person until now, kept in the history: a check they recorded
    # offline before they learned of the transfer is held for the new community (holding.py).
    before_worker = key_person.worker_id
    KeyPerson.objects.filter(pk=key_person.pk).update(community=to, transfer_to=None, worker=None)
    key_person.community, key_person.transfer_to, key_person.worker = to, None, None
    placements_end_for(user=user, key_person_id=key_person.pk, why="transfer_accepted")
    for monitoring in key_person.monitorings.filter(status=MonitoringStatus.ACTIVE):
        history(
            monitoring,
            ChangeKind.TRANSFER_ACCEPTED,
            user=user,
            detail={"from": before, "to": to.code, "worker": before_worker},
        )
    return key_person


def release_blockers(monitoring: Monitoring, *, now: datetime.datetime) -> list[str]:
    """Why the monitoring cannot be released now (empty: it can)."""
    reasons = []
    if Referral.objects.filter(
        key_person_id=monitoring.key_person_id,
        status__in=[ReferralStatus.OPEN, ReferralStatus.ARRIVED],
    ).exists():
        reasons.append(_("a referral is still open"))
    recent = now - datetime.timedelta(hours=settings.FOLLOWUP_RELEASE_LAST_CHECK_HOURS)
    if monitoring.last_check_at is None or monitoring.last_check_at < recent:
        reasons.append(
            _("the last check is older than %(h)g hours")
            % {"h": settings.FOLLOWUP_RELEASE_LAST_CHECK_HOURS}
        )
    return reasons


@transaction.atomic
def monitoring_release(
    *,
    user: User,
    monitoring: Monitoring,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Monitoring:
    """Close the monitoring (解除管控). Refused while a referral is open or without a recent
    check. Before its last day it is an early release: it needs a reason, and the community
    admin's approval — a worker's release is recorded as a request that the admin approves by
    releasing."""
    now = timezone.now()
    monitoring = _locked(monitoring)
    if monitoring.status != MonitoringStatus.ACTIVE:
        raise FollowupRefused(_("the monitoring is already closed"), "status")
    blockers = release_blockers(monitoring, now=now)
    if blockers:
        raise FollowupRefused(_("cannot release: %(why)s") % {"why": "; ".join(blockers)}, "status")
    early = schedule.local_date(now) < monitoring.end_date
    if early:
        if not reason.strip() and not monitoring.early_release_reason:
            raise FollowupRefused(_("an early release needs a reason"), "reason")
        if not _is_admin(user):
            monitoring.early_release_requested_by = user
            monitoring.early_release_reason = reason[:200]
            monitoring.save(update_fields=["early_release_requested_by", "early_release_reason"])
            history(monitoring, ChangeKind.EARLY_RELEASE_ASKED, user=user, reason=reason)
            return monitoring
    monitoring.status = MonitoringStatus.RELEASED
    monitoring.released_at, monitoring.released_by = now, user
    monitoring.release_reason = (reason or monitoring.early_release_reason)[:200]
    monitoring.save(update_fields=["status", "released_at", "released_by", "release_reason"])
    history(
        monitoring,
        ChangeKind.RELEASED,
        user=user,
        reason=monitoring.release_reason,
        detail={"early": early, "approved": early},
    )
    placements_end_for(user=user, key_person_id=monitoring.key_person_id, why="released")
    audit_write(user=user, action="monitoring.release", obj=monitoring, request=request)
    return monitoring


@transaction.atomic
def reason_length_set(*, user: User, kind: str, days: int) -> ReasonLength:
    """Command staff set how long each reason keeps a person under monitoring."""
    if user.role != Role.COMMAND or user.jurisdiction_area_id is None:
        raise FollowupRefused(_("only command staff set the monitoring lengths"), "days")
    if kind not in ReasonKind.values:
        raise FollowupRefused(_("unknown reason"), "kind")
    if not 1 <= days <= 60:
        raise FollowupRefused(_("a length of 1 to 60 days"), "days")
    row, _created = ReasonLength.objects.update_or_create(
        kind=kind, defaults={"days": days, "updated_by": user}
    )
    audit_write(user=user, action="followup.reason_length", obj=row, detail={"days": days})
    return row
