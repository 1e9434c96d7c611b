"""The follow-up pages' offline outbox (issue 14, point 7): checks recorded on the phone without
network, sent as the check page's forms were filled in (POST /api/followup/checks/outbox). The
reading and recording are followup/outbox.py's; this route only validates the body."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from pydantic import field_validator

from doorstep.accounts.models import User
from doorstep.screening.api import BodyIn, FormName, FormValue, RowId, ValidationErrorOut

from . import outbox

router = Router(tags=["followup"])


class OutboxCheckIn(BodyIn):
    """A check the phone kept while offline: the check form's fields as the page posts them,
    and the time the worker saved it on the phone."""

    client_uuid: uuid.UUID
    key_person_id: RowId
    measured_at: datetime.datetime
    form: list[tuple[FormName, FormValue]] = Field(max_length=60)

    @field_validator("measured_at")
    @classmethod
    def _aware(cls, value: datetime.datetime) -> datetime.datetime:
        # A time without a zone is the phone's local time, which is the district's.
        return value if value.tzinfo else timezone.make_aware(value)

    def to_record(self) -> outbox.OutboxCheck:
        return outbox.OutboxCheck(
            client_uuid=self.client_uuid,
            key_person_id=self.key_person_id,
            measured_at=self.measured_at,
            form=[(name, value) for name, value in self.form],
        )


class OutboxChecksIn(BodyIn):
    records: list[OutboxCheckIn] = Field(max_length=200)


class OutboxCheckOut(Schema):
    index: int
    client_uuid: str
    status: str
    check_id: int | None
    late: bool
    referral_opened: bool
    error: str
    field: str


@router.post(
    "/checks/outbox",
    response={200: list[OutboxCheckOut], 422: ValidationErrorOut},
    operation_id="check_outbox_submit",
)
def check_outbox_submit(request: HttpRequest, body: OutboxChecksIn) -> list[dict[str, Any]]:
    """The follow-up pages' offline outbox: up to 200 checks as their forms were filled in, each
    answered on its own: created, replaced (the slot's earlier check kept as history),
    duplicate (this UUID and form again), conflict (this UUID, another form: nothing written),
    rejected (with the reason and field: released since, dated in the future...), held (your
    key person was given to another worker or community meanwhile: kept for its community's
    admins to decide; field "held", and a replay says what they decided), not_found (not your
    key person: nothing written) or throttled (send it again later)."""
    user = request.user
    assert isinstance(user, User)  # the API authenticates every operation
    answers = outbox.outbox_check_batch_record(
        user=user, records=[r.to_record() for r in body.records], request=request
    )
    return [a.__dict__ for a in answers]
