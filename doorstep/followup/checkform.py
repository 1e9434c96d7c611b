"""The check page's form, read in one place: by the page itself (views/field.py) and by the
offline outbox (outbox.py), which sends each check as the page's form was filled in, so that a
check recorded on the stairs without network is read exactly as if it had been posted."""

from __future__ import annotations

import datetime
import uuid

from django.http import QueryDict

from . import schedule
from .models import CheckMethod, CheckOutcome
from .services import CheckInput


class CheckFormDamaged(ValueError):
    """The form's slot or identifier is not valid: read as "now" it would land in another
    slot, so nothing is saved."""


def check_input_from_form(data: QueryDict, *, measured_at: datetime.datetime) -> CheckInput:
    """The check the form says, made at `measured_at` (the page: the time of the post; the
    outbox: the time the worker saved it on the phone). A slot left empty ("the current slot")
    is the slot `measured_at` falls in; a check for a slot that had ended by then is dated in
    its last minute (a late check). Raises CheckFormDamaged."""
    day_text, _sep, index_text = data.get("slot", "").partition("/")
    try:
        client_uuid = uuid.UUID(data.get("client_uuid", ""))
        slot_date = datetime.date.fromisoformat(day_text) if day_text else None
        slot_index = int(index_text) if index_text else None
    except ValueError:
        raise CheckFormDamaged from None
    unreachable = data.get("outcome") == CheckOutcome.UNREACHABLE
    check = CheckInput(
        client_uuid=client_uuid,
        measured_at=measured_at,
        outcome=CheckOutcome.UNREACHABLE if unreachable else CheckOutcome.MEASURED,
        method=str(data.get("method") or CheckMethod.VISIT),
        temperature=None if unreachable else data.get("temperature", ""),
        symptoms=[] if unreachable else data.getlist("symptoms"),
        slot_date=slot_date,
        slot=slot_index,
    )
    if slot_date is not None and slot_index is not None:
        slot = schedule.Slot(slot_date, slot_index)
        if slot.has_ended(measured_at):
            check.measured_at = slot.ends_at - datetime.timedelta(minutes=1)
    return check
