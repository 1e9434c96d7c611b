"""Checks recorded offline for a key person who changed hands before they arrived (issue 14,
point 7): the community's holding list of checks, as screening/outbox.py keeps one of visits.

A worker's phone may keep a check for hours without network; meanwhile the key person may be
given to another worker (`key_person_reassign`) or taken by another community
(`transfer_accept`). The check is then not the sender's to record, but it is a reading taken at
the door and is never dropped:

- The outbox (outbox.py) asks `sender_link` when the key person is out of the sender's reach.
  A check is held only when the key person's own history shows the sender followed it: they
  made the record, it was reassigned away from them, or a transfer took it from them
  (MonitoringChange). For anybody else the answer is exactly the answer for an id that does
  not exist: no answer depends on a record outside the caller's jurisdiction.
- A held check (HeldCheck) keeps the form as the phone posted it, the sender and the time saved
  on the phone; idempotent by its client UUID (a replay answers the same, one row ever).
- The admins whose jurisdiction holds the key person *now* (its community, or the community a
  pending transfer goes to; street and command above them) see it, because they decide on the
  person's checks; the sender's former community, after a transfer, no longer sees the person
  and so not the check either.
- Accepting records it through the check service with the sender as the one who entered it and
  the phone's time (the same rules: a second check of the slot replaces the first with its
  history, a check after the release is refused with the reason, a check after its slot ended
  is marked late); discarding needs a reason, which the sender's phone is told on a replay.
  Both are audited.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area
from doorstep.core.db import sqlite_writer_turn
from doorstep.core.services import audit_write

from . import services
from .checkform import CheckFormDamaged, check_input_from_form
from .models import (
    ChangeKind,
    Check,
    HeldCheck,
    HeldCheckReason,
    HeldCheckState,
    KeyPerson,
    MonitoringChange,
)
from .selectors import access_key_person, key_person_scope_q

HELD_DECIDERS = {Role.COMMAND, Role.STREET_ADMIN, Role.COMMUNITY_ADMIN}


def form_data(form: Sequence[Sequence[str]], client_uuid: uuid.UUID) -> QueryDict:
    """A kept form as the check page would have posted it (the record's UUID is the form's)."""
    data = QueryDict(mutable=True)
    for name, value in form:
        data.appendlist(str(name), str(value))
    data["client_uuid"] = str(client_uuid)
    return data


def body_digest(
    *, key_person_id: int, measured_at: datetime.datetime, form: Sequence[Sequence[str]]
) -> str:
    body = {
        "key_person_id": key_person_id,
        "measured_at": measured_at.isoformat(),
        "form": [[str(name), str(value)] for name, value in form],
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# -- the outbox's side --------------------------------------------------------------------------
def sender_link(user: User, key_person_id: int) -> str | None:
    """Why a check of `user` for a key person out of their reach is held (a HeldCheckReason), or
    None when the user never followed that key person (then nothing may be told). Asked only of
    an active grid worker holding a jurisdiction, like a held visit; read from the key person's
    own record and history: they made it, it was reassigned away from them, or a transfer took
    it from them."""
    if (
        user.role != Role.GRID_WORKER
        or not user.is_active
        or user.jurisdiction_area_id is None
        or not isinstance(key_person_id, int)
    ):
        return None
    followed = MonitoringChange.objects.filter(monitoring__key_person_id=key_person_id).filter(
        Q(kind=ChangeKind.REASSIGNED, detail__from=user.pk)
        | Q(kind=ChangeKind.TRANSFER_ACCEPTED, detail__worker=user.pk)
    )
    community = (
        KeyPerson.objects.filter(pk=key_person_id)
        .filter(Q(created_by=user) | Q(pk__in=followed.values("monitoring__key_person_id")))
        .values_list("community__path", flat=True)
        .first()
    )
    if community is None:
        return None
    own = Area.objects.filter(pk=user.jurisdiction_area_id).values_list("path", flat=True).first()
    if own is not None and own.startswith(community):
        return HeldCheckReason.REASSIGNED
    return HeldCheckReason.TRANSFERRED


def held_of(client_uuid: uuid.UUID) -> HeldCheck | None:
    return HeldCheck.objects.filter(client_uuid=client_uuid).first()


def hold(
    *,
    user: User,
    key_person_id: int,
    client_uuid: uuid.UUID,
    measured_at: datetime.datetime,
    form: Sequence[Sequence[str]],
    reason: str,
    request: HttpRequest | None = None,
) -> HeldCheck:
    """Keep the check for the community (the caller checked `sender_link`). The same record
    sent twice at once: the first insert holds it, the second finds it."""
    try:
        with sqlite_writer_turn(), transaction.atomic():
            held = HeldCheck.objects.create(
                key_person_id=key_person_id,
                sender=user,
                client_uuid=client_uuid,
                body_hash=body_digest(
                    key_person_id=key_person_id, measured_at=measured_at, form=form
                ),
                measured_at=measured_at,
                form=[[str(name), str(value)] for name, value in form],
                reason=reason,
            )
            audit_write(
                user=user, action="check.held", obj=held, request=request, detail={"reason": reason}
            )
    except IntegrityError:
        held = HeldCheck.objects.get(client_uuid=client_uuid)
    return held


def held_message(held: HeldCheck) -> tuple[str, str]:
    """(status, message) of the outbox's answer for a held check, as it stands now."""
    if held.state == HeldCheckState.ACCEPTED:
        return "duplicate", _("accepted by the community")
    if held.state == HeldCheckState.DISCARDED:
        return "rejected", _("discarded by the community: %(why)s") % {"why": held.decision_note}
    if held.reason == HeldCheckReason.TRANSFERRED:
        return "held", _(
            "the key person was transferred to another community meanwhile: your check is kept "
            "for the community admin to decide"
        )
    return "held", _(
        "the key person was given to another worker meanwhile: your check is kept for the "
        "community admin to decide"
    )


# -- the holding list ---------------------------------------------------------------------------
def held_checks_visible_to(user: User) -> QuerySet[HeldCheck]:
    """The held checks of the key persons the user sees now, for the admins who decide on them
    (never the worker who sent them)."""
    scope = key_person_scope_q(user, "key_person__")
    if scope is None or user.role not in HELD_DECIDERS:
        return HeldCheck.objects.none()
    return (
        HeldCheck.objects.filter(scope)
        .select_related(
            "key_person__person",
            "key_person__community",
            "key_person__worker",
            "key_person__transfer_to",
            "sender",
            "decided_by",
        )
        .order_by("-received_at", "-pk")
    )


def access_held_check(user: User, held_id: int | str) -> HeldCheck:
    try:
        return held_checks_visible_to(user).get(pk=held_id)
    except (HeldCheck.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def held_check_input(held: HeldCheck) -> services.CheckInput:
    """The check the kept form says, at the time it was saved on the phone."""
    try:
        return check_input_from_form(
            form_data(held.form, held.client_uuid), measured_at=held.measured_at
        )
    except CheckFormDamaged:
        raise services.FollowupRefused(_("the kept form is damaged"), "slot") from None


def _decider_reach(user: User, held: HeldCheck) -> KeyPerson:
    """The key person, reached through the deciding user's own selector (Http404 otherwise)."""
    if user.role not in HELD_DECIDERS:
        raise Http404
    return access_key_person(user, held.key_person_id, related=())


def held_check_accept(*, user: User, held: HeldCheck, request: HttpRequest | None = None) -> Check:
    """Record a held check as the sender's check, made when the phone saved it, through the
    check service (its rules and its history). Accepting again answers with the same check; a
    discarded one is refused (FollowupRefused, field "state"); the service's refusals
    (FollowupRefused with the reason, CheckConflict) leave the check held, and nothing else is
    written. Audited with the check."""
    key_person = _decider_reach(user, held)
    data = held_check_input(held)
    refusal: Exception | None = None
    check: Check | None = None
    with sqlite_writer_turn(), transaction.atomic():
        current = HeldCheck.objects.select_for_update().select_related("sender").get(pk=held.pk)
        if current.state == HeldCheckState.ACCEPTED and current.check_row_id is not None:
            check = Check.objects.get(pk=current.check_row_id)
        elif current.state == HeldCheckState.DISCARDED:
            refusal = services.FollowupRefused(_("this check was discarded already"), "state")
        else:
            try:
                # The service rolls its own writes back on a refusal and then counts and
                # audits the refusal, here, in the decision's transaction (so it is kept).
                result = services.check_record(
                    user=current.sender, key_person=key_person, data=data, request=request
                )
            except (services.FollowupRefused, services.CheckConflict, Http404) as refused:
                refusal = refused
            else:
                check = result.check
                HeldCheck.objects.filter(pk=held.pk, state=HeldCheckState.HELD).update(
                    state=HeldCheckState.ACCEPTED,
                    decided_by=user,
                    decided_at=timezone.now(),
                    check_row=check,
                )
                audit_write(
                    user=user,
                    action="check.held.accept",
                    obj=held,
                    request=request,
                    detail={
                        "check": check.pk,
                        "status": result.status,
                        "late": result.late,
                        "sender": held.sender_id,
                    },
                )
    if refusal is not None:
        raise refusal
    assert check is not None
    held.refresh_from_db()
    return check


def held_check_discard(
    *, user: User, held: HeldCheck, note: str, request: HttpRequest | None = None
) -> HeldCheck:
    """Discard a held check with a reason (the sender's phone is told it on a replay)."""
    note = note.strip()[:200]
    if not note:
        raise ValidationError(_("say why the check is discarded"))
    _decider_reach(user, held)
    with sqlite_writer_turn(), transaction.atomic():
        decided = HeldCheck.objects.filter(pk=held.pk, state=HeldCheckState.HELD).update(
            state=HeldCheckState.DISCARDED,
            decided_by=user,
            decided_at=timezone.now(),
            decision_note=note,
        )
        if not decided:
            raise ValidationError(_("this check was decided already"))
        audit_write(
            user=user,
            action="check.held.discard",
            obj=held,
            request=request,
            detail={"sender": held.sender_id},
        )
    held.refresh_from_db()
    return held
