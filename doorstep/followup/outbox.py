"""Checks recorded offline (issue 14, point 7): the phone's outbox sends each check as the
check page's form was filled in, with the client UUID the page gave it and the time the worker
saved it on the phone. Each record is read by the page's own form code
(`checkform.check_input_from_form`) and recorded by the same service as every check
(`services.check_record`), so it is idempotent by its UUID with the check API's rule (same
body again → the first answer, "duplicate"; another body → "conflict", nothing written), and a
second check of the same slot replaces the first with its history kept ("replaced").

Each record is answered on its own: created, replaced, duplicate, conflict, rejected (with the
reason and the field: released since, dated in the future, a damaged form...), held (the key
person was the sender's but was given to another worker or community meanwhile: kept for that
community's admins, see holding.py; field "held"), not_found (not the caller's key person and
never was: nothing written, nothing told) or throttled (too many refused writes: the phone sends
it again later)."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.http import Http404, HttpRequest, QueryDict
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.core.ratelimit import refusals_left, write_refused

from . import holding, selectors, services
from .checkform import CheckFormDamaged, check_input_from_form
from .models import CheckSubmission, HeldCheck


@dataclass
class OutboxCheck:
    """One check as the phone kept it: the check form's fields (name, value) in page order."""

    client_uuid: uuid.UUID
    key_person_id: int
    measured_at: datetime.datetime
    form: Sequence[tuple[str, str]]

    def data(self) -> QueryDict:
        data = QueryDict(mutable=True)
        for name, value in self.form:
            data.appendlist(name, value)
        # The record's UUID is the form's (the page gave it; the service worker kept it).
        data["client_uuid"] = str(self.client_uuid)
        return data


@dataclass(frozen=True)
class OutboxCheckAnswer:
    index: int
    client_uuid: str
    # created | replaced | duplicate | held | conflict | rejected | not_found | throttled
    status: str
    check_id: int | None = None
    late: bool = False
    referral_opened: bool = False
    error: str = ""
    field: str = ""


def _sent_before(data: services.CheckInput, key_person_id: int) -> services.CheckResult | None:
    """The page's own post of this form reached the server but its answer was lost (the phone
    kept the form with its UUID and the phone's time): the same form is the same check. The
    page's post was dated by the server, so the stored times of the check (its own and those
    of its history) are tried too; none matching is another body (the 409 rule)."""
    submission = (
        CheckSubmission.objects.filter(client_uuid=data.client_uuid)
        .select_related("check_row", "check_row__monitoring")
        .first()
    )
    if submission is None:
        return None
    check = submission.check_row
    if check.monitoring.key_person_id != key_person_id:
        raise Http404  # another person's check: the UUID is no key to it
    times = [data.measured_at, check.measured_at]
    times += [
        datetime.datetime.fromisoformat(previous["measured_at"])
        for previous in check.changes.values_list("previous", flat=True)
        if isinstance(previous, dict) and previous.get("measured_at")
    ]
    for at in times:
        if dataclasses.replace(data, measured_at=at).digest() == submission.body_hash:
            return services.CheckResult(check, "duplicate", check.late)
    raise services.CheckConflict(check)


def outbox_check_record(
    *, user: User, record: OutboxCheck, index: int = 0, request: HttpRequest | None = None
) -> OutboxCheckAnswer:
    """Record one outbox check; the answer says what became of it (see the module)."""
    uuid_text = str(record.client_uuid)
    not_found = OutboxCheckAnswer(index, uuid_text, "not_found", error=_("key person not found"))
    held = holding.held_of(record.client_uuid)
    if held is not None:
        return _held_answer(user, record, held, index, request, not_found)
    try:
        key_person = selectors.access_key_person(user, record.key_person_id)
    except Http404:
        reason = holding.sender_link(user, record.key_person_id)
        if reason is None:
            write_refused(request, reason="check not_found")
            return not_found
        return _hold(user, record, reason, index, request, not_found)
    try:
        data = check_input_from_form(record.data(), measured_at=record.measured_at)
    except CheckFormDamaged:
        write_refused(request, reason="check rejected form")
        message = _(
            "The form was damaged (its slot or identifier is not valid): nothing was saved. "
            "Enter the check again."
        )
        return OutboxCheckAnswer(index, uuid_text, "rejected", error=message, field="slot")
    try:
        try:
            result = _sent_before(data, key_person.pk)
        except (services.CheckConflict, Http404) as refusal:
            kind = "conflict" if isinstance(refusal, services.CheckConflict) else "not_found"
            write_refused(request, reason=f"check {kind}")
            raise
        if result is None:  # the service counts its own refusals
            result = services.check_record(
                user=user, key_person=key_person, data=data, request=request
            )
    except services.CheckConflict as conflict:
        return OutboxCheckAnswer(
            index,
            uuid_text,
            "conflict",
            conflict.check.pk,
            error=str(conflict),
            field="client_uuid",
        )
    except services.FollowupRefused as refused:
        return OutboxCheckAnswer(
            index, uuid_text, "rejected", error=refused.message, field=refused.field
        )
    except Http404:
        return not_found
    return OutboxCheckAnswer(
        index,
        uuid_text,
        result.status,
        result.check.pk,
        result.late,
        referral_opened=result.referral is not None,
    )


def _held_answer(
    user: User,
    record: OutboxCheck,
    held: HeldCheck,
    index: int,
    request: HttpRequest | None,
    not_found: OutboxCheckAnswer,
) -> OutboxCheckAnswer:
    """A record the server holds already (a replay): what became of it. Another sender's UUID
    is no key to it (answered as an unknown key person); another body under the same UUID is a
    conflict, nothing written."""
    uuid_text = str(record.client_uuid)
    if held.sender_id != user.pk:
        write_refused(request, reason="check not_found")
        return not_found
    digest = holding.body_digest(
        key_person_id=record.key_person_id, measured_at=record.measured_at, form=record.form
    )
    if digest != held.body_hash:
        write_refused(request, reason="check conflict")
        message = _("this client UUID was already used for a different check")
        return OutboxCheckAnswer(index, uuid_text, "conflict", error=message, field="client_uuid")
    status, message = holding.held_message(held)
    return OutboxCheckAnswer(index, uuid_text, status, error=message, field="held")


def _hold(
    user: User,
    record: OutboxCheck,
    reason: str,
    index: int,
    request: HttpRequest | None,
    not_found: OutboxCheckAnswer,
) -> OutboxCheckAnswer:
    """A check of the sender's former key person (holding.sender_link said so): the form's own
    rules first (a check that could never be saved is refused with its reason, as when the
    person was still theirs), then the page's post that may have landed before the person
    moved (its first answer), else held for the community."""
    uuid_text = str(record.client_uuid)
    try:
        data = check_input_from_form(record.data(), measured_at=record.measured_at)
        services.check_input_validate(data)
    except CheckFormDamaged:
        write_refused(request, reason="check rejected form")
        message = _(
            "The form was damaged (its slot or identifier is not valid): nothing was saved. "
            "Enter the check again."
        )
        return OutboxCheckAnswer(index, uuid_text, "rejected", error=message, field="slot")
    except services.FollowupRefused as refused:
        write_refused(request, reason="check rejected")
        return OutboxCheckAnswer(
            index, uuid_text, "rejected", error=refused.message, field=refused.field
        )
    try:
        landed = _sent_before(data, record.key_person_id)
    except services.CheckConflict as conflict:
        write_refused(request, reason="check conflict")
        return OutboxCheckAnswer(
            index,
            uuid_text,
            "conflict",
            conflict.check.pk,
            error=str(conflict),
            field="client_uuid",
        )
    except Http404:
        write_refused(request, reason="check not_found")
        return not_found
    if landed is not None:
        return OutboxCheckAnswer(index, uuid_text, "duplicate", landed.check.pk, landed.late)
    held = holding.hold(
        user=user,
        key_person_id=record.key_person_id,
        client_uuid=record.client_uuid,
        measured_at=record.measured_at,
        form=record.form,
        reason=reason,
        request=request,
    )
    return _held_answer(user, record, held, index, request, not_found)


def outbox_check_batch_record(
    *, user: User, records: Sequence[OutboxCheck], request: HttpRequest | None = None
) -> list[OutboxCheckAnswer]:
    """Each record stands alone; once the budget of refused writes is spent the rest wait
    ("throttled": the phone keeps them and sends them again later)."""
    answers = []
    for index, record in enumerate(records):
        if not refusals_left(request):
            message = _("too many refused writes: wait, then send this check again")
            answers.append(
                OutboxCheckAnswer(index, str(record.client_uuid), "throttled", error=message)
            )
            continue
        answers.append(outbox_check_record(user=user, record=record, index=index, request=request))
    return answers
