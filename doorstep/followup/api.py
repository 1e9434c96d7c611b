"""Follow-up API for field devices and clinics: a worker's due checks, check submission (single
and batched, idempotent by client UUID: same UUID and body → the first answer, another body →
409), key-person creation, and referral arrival and outcome for clinic staff."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from doorstep.accounts.models import User
from doorstep.core.masking import mask_id_number
from doorstep.screening.api import (
    NOT_FOUND_OR_INVALID,
    BodyIn,
    ErrorOut,
    NulFreeStr,
    RowId,
    ValidationErrorOut,
)

from . import field_reads, schedule, selectors, services
from .models import CheckMethod, CheckOutcome

router = Router(tags=["followup"])


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # the API authenticates every operation
    return user


class FollowupIn(BodyIn):
    """A part of a request body (plain pydantic, no NUL in any text: see screening.api.BodyIn)."""


class CheckIn(FollowupIn):
    client_uuid: uuid.UUID
    measured_at: datetime.datetime
    outcome: str = CheckOutcome.MEASURED
    method: str = CheckMethod.VISIT
    temperature: Decimal | NulFreeStr | None = None
    symptoms: list[NulFreeStr] = Field(default_factory=list, max_length=10)
    slot_date: datetime.date | None = None
    slot: int | None = Field(None, ge=0, le=23)

    def to_input(self) -> services.CheckInput:
        temperature = str(self.temperature) if self.temperature is not None else None
        return services.CheckInput(
            client_uuid=self.client_uuid,
            measured_at=self.measured_at,
            outcome=self.outcome,
            method=self.method,
            temperature=temperature,
            symptoms=list(self.symptoms),
            slot_date=self.slot_date,
            slot=self.slot,
        )


class CheckOut(Schema):
    id: int
    key_person_id: int
    slot_date: datetime.date
    slot: int
    status: str
    late: bool
    referral_opened: bool


class BatchCheckIn(FollowupIn):
    key_person_id: RowId
    check: CheckIn


class CheckBatchIn(FollowupIn):
    checks: list[BatchCheckIn] = Field(max_length=500)


class CheckBatchItemOut(Schema):
    index: int
    client_uuid: str
    status: str
    check_id: int | None
    late: bool
    error: str
    field: str


class DueOut(Schema):
    key_person_id: int
    name: str
    slot_date: datetime.date
    slot: int
    status: str  # due | missed
    escalation: str
    end_date: datetime.date


class ReasonIn(FollowupIn):
    kind: NulFreeStr
    exposure_date: datetime.date
    detail: NulFreeStr = Field("", max_length=200)
    arrival_date: datetime.date | None = None


class KeyPersonIn(FollowupIn):
    community: NulFreeStr = Field(max_length=32)
    name: NulFreeStr = Field(max_length=50)
    id_number: NulFreeStr = Field("", max_length=32)
    phone: NulFreeStr = Field("", max_length=20)
    reasons: list[ReasonIn] = Field(min_length=1, max_length=5)
    measure: NulFreeStr | None = None
    reference: NulFreeStr = Field("", max_length=100)


class KeyPersonOut(Schema):
    id: int
    name: str
    id_number_masked: str
    community: str
    measure: str | None
    end_date: datetime.date | None


class OutcomeIn(FollowupIn):
    outcome: NulFreeStr


class ReferralOut(Schema):
    id: int
    key_person_id: int
    name: str
    status: str
    outcome: str
    opened_at: datetime.datetime
    arrived_at: datetime.datetime | None
    temperature: Decimal | None
    symptoms: list[str]


def _check_out(result: services.CheckResult, key_person_id: int) -> dict[str, Any]:
    return {
        "id": result.check.pk,
        "key_person_id": key_person_id,
        "slot_date": result.check.slot_date,
        "slot": result.check.slot,
        "status": result.status,
        "late": result.late,
        "referral_opened": result.referral is not None,
    }


@router.get("/checks/due", response=list[DueOut], operation_id="check_due_list")
def check_due_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The caller's checks due now and those missed today and yesterday (with escalation)."""
    user = _user(request)
    now = timezone.now()
    current = schedule.slot_of(now)
    rows = [
        {
            "key_person_id": m.key_person_id,
            "name": m.name,
            "slot_date": current.day,
            "slot": current.index,
            "status": "due",
            "escalation": "",
            "end_date": m.end_date,
        }
        for m in field_reads.due_now_rows(user, now, limit=1000)
    ]
    rows += [
        {
            "key_person_id": x.monitoring.key_person_id,
            "name": x.monitoring.key_person.person.name,
            "slot_date": x.slot.day,
            "slot": x.slot.index,
            "status": "missed",
            "escalation": x.escalation,
            "end_date": x.monitoring.end_date,
        }
        for x in selectors.missed_slots(user, now)[:1000]
    ]
    return rows


@router.post(
    "/key-persons/{key_person_id}/checks",
    response={
        200: CheckOut,
        201: CheckOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut | ValidationErrorOut,
    },
    operation_id="check_submit",
)
def check_submit(request: HttpRequest, key_person_id: RowId, body: CheckIn) -> Status[Any]:
    """Record one check. Same client_uuid and body again → 200 with the first answer; same
    client_uuid, another body → 409; a key person who is not yours → 404, nothing written; a
    second check for the same slot replaces the first (status "replaced", history kept)."""
    user = _user(request)
    try:
        # the key person is reached through the caller's selector in the read that locks its
        # monitorings (one read fewer per check); not theirs: 404, nothing written
        key_person_id, result = services.check_record_for(
            user=user, key_person_id=key_person_id, data=body.to_input(), request=request
        )
    except services.CheckConflict as conflict:
        return Status(409, {"detail": str(conflict)})
    except services.FollowupRefused as refused:
        return Status(422, {"detail": refused.message, "field": refused.field})
    return Status(201 if result.status == "created" else 200, _check_out(result, key_person_id))


@router.post(
    "/checks/batch",
    response={200: list[CheckBatchItemOut], 422: ValidationErrorOut},
    operation_id="check_batch_submit",
)
def check_batch_submit(request: HttpRequest, body: CheckBatchIn) -> list[dict[str, Any]]:
    """Up to 500 checks, each with its own status: created, replaced, duplicate, conflict,
    rejected (with the reason and field), not_found or throttled (send again later)."""
    user = _user(request)
    results = services.check_batch_record(
        user=user,
        items=[(item.key_person_id, item.check.to_input()) for item in body.checks],
        key_person_for=lambda pk: selectors.access_key_person(user, pk, related=()),
        request=request,
    )
    return [r.__dict__ for r in results]


@router.post(
    "/key-persons",
    response={
        200: KeyPersonOut,
        201: KeyPersonOut,
        404: ErrorOut,
        422: ErrorOut | ValidationErrorOut,
    },
    operation_id="key_person_create",
)
def key_person_create(request: HttpRequest, body: KeyPersonIn) -> Status[Any]:
    """Add a key person by hand (a hotline call, a neighbour's report) in a community of your
    jurisdiction; a person who already has a record gets these reasons added (200)."""
    user = _user(request)
    community = selectors.area_in_scope(user, body.community)
    try:
        person = services.person_for_follow_up(
            user=user,
            community=community,
            name=body.name,
            id_number=body.id_number,
            phone=body.phone,
            request=request,
        )
        existed = hasattr(person, "key_person")
        key_person = services.key_person_add(
            user=user,
            person=person,
            reasons=[
                services.ReasonInput(
                    kind=r.kind,
                    exposure_date=r.exposure_date,
                    detail=r.detail,
                    arrival_date=r.arrival_date,
                )
                for r in body.reasons
            ],
            source=services.SourceInput(kind="manual", reference=body.reference),
            measure=body.measure,
            community=community,
            request=request,
        )
    except services.FollowupRefused as refused:
        return Status(422, {"detail": refused.message, "field": refused.field})
    monitoring = key_person.monitorings.filter(status="active").first()
    return Status(
        200 if existed else 201,
        {
            "id": key_person.pk,
            "name": person.name,
            "id_number_masked": mask_id_number(person.shown_id_number),
            "community": key_person.community.code,
            "measure": monitoring.measure if monitoring else None,
            "end_date": monitoring.end_date if monitoring else None,
        },
    )


def _referral_out(referral: Any) -> dict[str, Any]:
    return {
        "id": referral.pk,
        "key_person_id": referral.key_person_id,
        "name": referral.key_person.person.name,
        "status": referral.status,
        "outcome": referral.outcome,
        "opened_at": referral.opened_at,
        "arrived_at": referral.arrived_at,
        "temperature": referral.temperature,
        "symptoms": referral.symptoms,
    }


@router.get("/referrals", response=list[ReferralOut], operation_id="referral_list")
def referral_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Referrals the caller sees: clinic staff, those to their facility; others, their key
    persons' (newest first, at most 200)."""
    rows = (
        selectors.referrals_visible_to(_user(request))
        .select_related("key_person__person")
        .order_by("-opened_at")[:200]
    )
    return [_referral_out(r) for r in rows]


@router.post(
    "/referrals/{referral_id}/arrival",
    response={200: ReferralOut, **NOT_FOUND_OR_INVALID},
    operation_id="referral_arrival_record",
)
def referral_arrival(request: HttpRequest, referral_id: RowId) -> Any:
    """Clinic staff: the patient has arrived (a referral to another facility: 404)."""
    referral = services.referral_arrive(
        user=_user(request), referral_id=referral_id, request=request
    )
    return _referral_out(referral)


@router.post(
    "/referrals/{referral_id}/outcome",
    response={200: ReferralOut, 404: ErrorOut, 422: ErrorOut | ValidationErrorOut},
    operation_id="referral_outcome_record",
)
def referral_outcome(request: HttpRequest, referral_id: RowId, body: OutcomeIn) -> Any:
    """Clinic staff: excluded, suspected, confirmed or admitted; it acts on the monitoring."""
    try:
        referral = services.referral_outcome_record(
            user=_user(request), referral_id=referral_id, outcome=body.outcome, request=request
        )
    except services.FollowupRefused as refused:
        return Status(422, {"detail": refused.message, "field": refused.field})
    return _referral_out(referral)
