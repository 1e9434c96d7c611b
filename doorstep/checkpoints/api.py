"""Checkpoint API: vehicles with their occupants, single and batched (idempotent by client
UUID, 409 on another body), and the handoff actions of the receiving community."""

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from doorstep.screening.api import BodyIn, ErrorOut, RowId, ValidationErrorOut

from . import selectors, services
from .models import Handoff

router = Router(tags=["checkpoints"])
NOT_FOUND_OR_INVALID: dict[int, Any] = {404: ErrorOut, 422: ValidationErrorOut}


class OccupantIn(BodyIn):
    client_uuid: uuid.UUID
    name: str = Field(max_length=50)
    id_type: str = Field("resident_id", max_length=20)
    id_number: str = Field("", max_length=32)
    phone: str = Field("", max_length=20)
    origin: str = Field("", max_length=100)
    destination: str = Field("", max_length=200)
    purpose: str = Field("home", max_length=16)
    temperature: str | None = Field(None, max_length=10)
    symptoms: list[str] = Field(default_factory=list, max_length=10)
    left_origin_on: datetime.date | None = None
    destination_outside: bool = False

    def to_input(self) -> services.OccupantInput:
        data = self.model_dump()
        data["symptoms"] = tuple(data["symptoms"])
        return services.OccupantInput(**data)


class PassageIn(BodyIn):
    client_uuid: uuid.UUID
    kind: str = Field(max_length=16)
    arrived_at: datetime.datetime
    plate: str = Field("", max_length=20)
    origin: str = Field("", max_length=100)
    destination: str = Field("", max_length=200)
    occupants: list[OccupantIn] = Field(max_length=80)

    def to_input(self) -> services.PassageInput:
        return services.PassageInput(
            client_uuid=self.client_uuid,
            kind=self.kind,
            arrived_at=self.arrived_at,
            plate=self.plate,
            origin=self.origin,
            destination=self.destination,
            occupants=tuple(o.to_input() for o in self.occupants),
        )


class OccupantOut(Schema):
    index: int
    client_uuid: str
    status: str
    arrival_id: int | None
    error: str
    field: str
    flags: list[str]
    route: str
    needs_completion: bool
    referral: bool  # a fever-clinic referral was opened at once (follow-up)


class PassageOut(Schema):
    id: int
    client_uuid: uuid.UUID
    created: bool
    occupants: list[OccupantOut]


class PassageBatchIn(BodyIn):
    passages: list[PassageIn] = Field(max_length=50)


class PassageBatchItemOut(Schema):
    index: int
    client_uuid: str
    status: str  # created | duplicate | conflict | rejected
    passage_id: int | None
    error: str
    field: str
    occupants: list[OccupantOut]


class HandoffOut(Schema):
    id: int
    status: str
    community: str
    received_at: datetime.datetime
    deadline: datetime.datetime
    late_seconds: int | None
    not_found_reason: str
    note: str
    arrivals: list[str]


class NotFoundIn(BodyIn):
    reason: str = Field(max_length=16)
    note: str = Field("", max_length=300)


class RerouteIn(BodyIn):
    community_code: str = Field(max_length=32)
    note: str = Field("", max_length=300)


def _passage_out(result: services.PassageResult) -> dict[str, object]:
    return {
        "id": result.passage.pk,
        "client_uuid": result.passage.client_uuid,
        "created": result.created,
        "occupants": [o.__dict__ for o in result.occupants],
    }


@router.post(
    "/{checkpoint_id}/arrivals",
    response={
        200: PassageOut,
        201: PassageOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut | ValidationErrorOut,
    },
    operation_id="arrival_submit",
)
def arrival_submit(request: HttpRequest, checkpoint_id: RowId, body: PassageIn) -> Any:
    """One vehicle and its occupants. Each occupant answers on its own: created, duplicate,
    conflict (its UUID with other data) or rejected (with the reason and the field); the rest
    of the vehicle is saved. Same vehicle UUID with another body → 409; a checkpoint that is not
    yours → 404."""
    checkpoint = selectors.access_checkpoint_for_entry(request.user, checkpoint_id)  # type: ignore[arg-type]
    try:
        result = services.passage_record(
            user=request.user,  # type: ignore[arg-type]
            checkpoint=checkpoint,
            passage=body.to_input(),
            request=request,
        )
    except services.PassageConflict as conflict:
        return Status(409, {"detail": str(conflict)})
    except services.PassageRejected as rejected:
        return Status(422, {"detail": rejected.message, "field": rejected.field})
    return Status(201 if result.created else 200, _passage_out(result))


@router.post(
    "/{checkpoint_id}/arrivals/batch",
    response={200: list[PassageBatchItemOut], **NOT_FOUND_OR_INVALID},
    operation_id="arrival_batch_submit",
)
def arrival_batch_submit(request: HttpRequest, checkpoint_id: RowId, body: PassageBatchIn) -> Any:
    """Up to 50 vehicles; each gets its own status, and each occupant its own."""
    checkpoint = selectors.access_checkpoint_for_entry(request.user, checkpoint_id)  # type: ignore[arg-type]
    outcomes = services.passages_record(
        user=request.user,  # type: ignore[arg-type]
        checkpoint=checkpoint,
        passages=[passage.to_input() for passage in body.passages],
        request=request,
    )
    items = []
    for i, (passage, outcome) in enumerate(zip(body.passages, outcomes, strict=True)):
        item: dict[str, object] = {
            "index": i,
            "client_uuid": str(passage.client_uuid),
            "passage_id": None,
            "error": "",
            "field": "",
            "occupants": [],
        }
        if isinstance(outcome, services.PassageConflict):
            item.update(status="conflict", error=str(outcome))
        elif isinstance(outcome, services.PassageRejected):
            item.update(status="rejected", error=outcome.message, field=outcome.field)
        else:
            item.update(
                status="created" if outcome.created else "duplicate",
                passage_id=outcome.passage.pk,
                occupants=[o.__dict__ for o in outcome.occupants],
            )
        items.append(item)
    return items


def _handoff_out(handoff: Handoff) -> dict[str, object]:
    return {
        "id": handoff.pk,
        "status": handoff.status,
        "community": handoff.community.name,
        "received_at": handoff.received_at,
        "deadline": handoff.deadline,
        "late_seconds": handoff.late_seconds,
        "not_found_reason": handoff.not_found_reason,
        "note": handoff.note,
        # all(): the list prefetched them (selectors.handoff_arrivals), one handoff reads them
        "arrivals": [a.name for a in sorted(handoff.arrivals.all(), key=lambda a: a.pk)],
    }


@router.get("/handoffs", response=list[HandoffOut], operation_id="handoff_list")
def handoff_list(request: HttpRequest, status: str = "pending") -> Any:
    """The handoffs to your community (street, command: to theirs), newest first, 200 at most."""
    rows = (
        selectors.handoffs_visible_to(request.user)  # type: ignore[arg-type]
        .select_related("community")
        .prefetch_related(selectors.handoff_arrivals())
    )
    if status:
        rows = rows.filter(status=status)
    return [_handoff_out(h) for h in rows.order_by("-received_at", "-pk")[:200]]


HANDOFF_ANSWERS: dict[int, Any] = {
    200: HandoffOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut | ValidationErrorOut,
}


def _act(call: Any) -> Any:
    try:
        handoff = call()
    except services.HandoffClosed as closed:
        return Status(409, {"detail": str(closed)})
    except services.HandoffRejected as rejected:
        return Status(422, {"detail": rejected.message, "field": rejected.field})
    return Status(200, _handoff_out(handoff))


@router.post(
    "/handoffs/{handoff_id}/accept", response=HANDOFF_ANSWERS, operation_id="handoff_accept"
)
def handoff_accept(request: HttpRequest, handoff_id: RowId) -> Any:
    """Person found. Already closed → 409 (two workers at once: one outcome)."""
    return _act(
        lambda: services.handoff_accept(
            user=request.user,  # type: ignore[arg-type]
            handoff_id=handoff_id,
            request=request,
        )
    )


@router.post(
    "/handoffs/{handoff_id}/not-found",
    response=HANDOFF_ANSWERS,
    operation_id="handoff_not_found",
)
def handoff_not_found(request: HttpRequest, handoff_id: RowId, body: NotFoundIn) -> Any:
    """Not found: wrong_address, left_district, never_arrived or other (with a note)."""
    return _act(
        lambda: services.handoff_not_found(
            user=request.user,  # type: ignore[arg-type]
            handoff_id=handoff_id,
            reason=body.reason,
            note=body.note,
            request=request,
        )
    )


@router.post(
    "/handoffs/{handoff_id}/reroute", response=HANDOFF_ANSWERS, operation_id="handoff_reroute"
)
def handoff_reroute(request: HttpRequest, handoff_id: RowId, body: RerouteIn) -> Any:
    """Hand it to another community of the district (by its code), which must accept in turn."""
    return _act(
        lambda: services.handoff_reroute(
            user=request.user,  # type: ignore[arg-type]
            handoff_id=handoff_id,
            community_code=body.community_code,
            note=body.note,
            request=request,
        )
    )
