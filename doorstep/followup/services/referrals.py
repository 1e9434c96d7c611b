"""Fever-clinic referrals: opened by a check, a visit or an arrival; the clinic records arrival
and outcome, and the outcome acts on the monitoring."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.core.db import sqlite_writer_turn
from doorstep.core.ratelimit import write_refused
from doorstep.core.services import audit_write

from ..models import (
    ChangeKind,
    Facility,
    FacilityKind,
    KeyPerson,
    Measure,
    Monitoring,
    MonitoringStatus,
    Referral,
    ReferralOutcome,
    ReferralStatus,
    Transport,
)
from .errors import FollowupRefused
from .facilities import placements_end_for
from .keypersons import SourceInput, history


def referral_write(
    *,
    user: User | None,
    key_person: KeyPerson,
    monitoring: Monitoring | None,
    temperature: Decimal | None,
    symptoms: Sequence[str],
    source_kind: str,
    source_reference: str,
    facility: Facility | None,
) -> Referral:
    """The insert of a referral and its history row (inside the caller's transaction)."""
    referral = Referral.objects.create(
        key_person=key_person,
        monitoring=monitoring,
        facility=facility,
        temperature=temperature,
        symptoms=list(symptoms),
        source_kind=source_kind,
        source_reference=source_reference[:100],
        opened_at=timezone.now(),
        opened_by=user,
    )
    if monitoring is not None:
        history(
            monitoring,
            ChangeKind.REFERRAL,
            user=user,
            detail={"referral": referral.pk, "opened": True},
        )
    return referral


def referral_open(
    *,
    user: User,
    key_person: KeyPerson,
    temperature: Decimal | None,
    symptoms: Sequence[str],
    source: SourceInput,
    facility: Facility | None = None,
    request: HttpRequest | None = None,
) -> Referral:
    """Open a referral task for the key person at once (one open at a time: an open one is
    returned as it is)."""
    if facility is not None and facility.kind != FacilityKind.FEVER_CLINIC:
        raise FollowupRefused(_("refer to a fever clinic"), "facility")
    with sqlite_writer_turn(), transaction.atomic():
        key_person = KeyPerson.objects.select_for_update().get(pk=key_person.pk)
        existing = Referral.objects.filter(
            key_person=key_person, status__in=[ReferralStatus.OPEN, ReferralStatus.ARRIVED]
        ).first()
        if existing is not None:
            return existing
        monitoring = key_person.monitorings.filter(status=MonitoringStatus.ACTIVE).first()
        referral = referral_write(
            user=user,
            key_person=key_person,
            monitoring=monitoring,
            temperature=temperature,
            symptoms=symptoms,
            source_kind=source.kind,
            source_reference=source.reference,
            facility=facility,
        )
        audit_write(user=user, action="referral.open", obj=referral, request=request)
    return referral


@transaction.atomic
def referral_dispatch(
    *,
    user: User,
    referral: Referral,
    facility: Facility,
    transport: str,
    at: datetime.datetime | None = None,
) -> Referral:
    """The community arranges the trip: which clinic, how, when."""
    if facility.kind != FacilityKind.FEVER_CLINIC:
        raise FollowupRefused(_("refer to a fever clinic"), "facility")
    if transport not in Transport.values:
        raise FollowupRefused(_("unknown transport"), "transport")
    if referral.status != ReferralStatus.OPEN:
        raise FollowupRefused(_("the patient has already arrived"), "status")
    referral.facility, referral.transport = facility, transport
    referral.transport_at = at or timezone.now()
    referral.save(update_fields=["facility", "transport", "transport_at"])
    return referral


def _clinic_referral(user: User, referral_id: int) -> Referral:
    """The referral, if it goes to the facility the user staffs (else 404, nothing written)."""
    from ..selectors import referrals_for_clinic

    try:
        return referrals_for_clinic(user).select_for_update().get(pk=referral_id)
    except (Referral.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def referral_arrive(
    *, user: User, referral_id: int, request: HttpRequest | None = None
) -> Referral:
    try:
        with sqlite_writer_turn(), transaction.atomic():
            referral = _clinic_referral(user, referral_id)
            if referral.status == ReferralStatus.OPEN:
                referral.status, referral.arrived_at = ReferralStatus.ARRIVED, timezone.now()
                referral.save(update_fields=["status", "arrived_at"])
                audit_write(user=user, action="referral.arrive", obj=referral, request=request)
            return referral
    except Http404:
        write_refused(request, reason="not_found")
        raise


def referral_outcome_record(
    *, user: User, referral_id: int, outcome: str, request: HttpRequest | None = None
) -> Referral:
    """The clinic's answer. Excluded: monitoring goes on. Suspected or confirmed: centralised
    isolation (the confirmed person's household members are then proposed as close contacts on
    the record's page). Admitted: the monitoring closes as admitted."""
    if outcome not in ReferralOutcome.values:
        raise FollowupRefused(_("unknown outcome"), "outcome")
    try:
        with sqlite_writer_turn(), transaction.atomic():
            referral = _clinic_referral(user, referral_id)
            if referral.status == ReferralStatus.CLOSED:
                raise FollowupRefused(_("the outcome is already recorded"), "outcome")
            now = timezone.now()
            referral.status, referral.outcome = ReferralStatus.CLOSED, outcome
            referral.outcome_at, referral.outcome_by = now, user
            referral.arrived_at = referral.arrived_at or now
            referral.save(
                update_fields=["status", "outcome", "outcome_at", "outcome_by", "arrived_at"]
            )
            _act_on_monitoring(user, referral, outcome)
            audit_write(
                user=user,
                action="referral.outcome",
                obj=referral,
                request=request,
                detail={"outcome": outcome},
            )
            return referral
    except Http404:
        write_refused(request, reason="not_found")
        raise


def _act_on_monitoring(user: User, referral: Referral, outcome: str) -> None:
    monitoring = (
        Monitoring.objects.select_for_update()
        .filter(key_person_id=referral.key_person_id, status=MonitoringStatus.ACTIVE)
        .first()
    )
    if monitoring is None:
        return
    detail = {"referral": referral.pk, "outcome": outcome}
    if outcome == ReferralOutcome.ADMITTED:
        monitoring.status = MonitoringStatus.ADMITTED
        monitoring.released_at, monitoring.released_by = timezone.now(), user
        monitoring.save(update_fields=["status", "released_at", "released_by"])
        placements_end_for(user=user, key_person_id=monitoring.key_person_id, why="admitted")
    elif outcome in (ReferralOutcome.SUSPECTED, ReferralOutcome.CONFIRMED):
        detail["measure_from"] = monitoring.measure
        monitoring.measure = Measure.CENTRALISED_ISOLATION
        monitoring.eligibility = {}
        monitoring.save(update_fields=["measure", "eligibility"])
    history(monitoring, ChangeKind.REFERRAL, user=user, detail=detail)
