"""Visits recorded offline (issue 14), the writes of the outbox and the holding list (a module
of its own beside services/, because it reads the visit form with forms.py, which imports the
services): the phone's outbox sends each record as the visit form
was filled in, with the client UUID the phone gave it. A record is read by the same form code
as the page (`forms.member_cards`, `forms.checks_from_cards`) and recorded by the same service
as every visit (`visit_record`), so it is idempotent by its UUID and answered like a batch item.

A record that cannot simply be recorded as sent is never dropped:
- its household was assigned to someone else meanwhile (still in the worker's jurisdiction):
  held ("held") for the community admin;
- someone else screened the household after the record was made: held too, and answered
  "conflict" with field "held" (the worker sees that someone else was there). Every answer
  of a held record carries field "held"; a refused "conflict" (the UUID reused for another
  body) carries field "client_uuid" and nothing of it is kept;
- the campaign closed before the record arrived: "rejected" with the reason (the phone keeps
  it until the worker dismisses it).
The community admin accepts a held record (it becomes the original worker's visit), reassigns
it to another worker of the household's grid (it becomes that worker's visit: the worker who
now answers for the household; the record keeps who made it at the door), or rejects it with a
reason; a replay of a held record answers with what became of it.
"""

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.http import Http404, QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import Role, User
from doorstep.accounts.selectors import grid_workers
from doorstep.core.db import prefix_q, sqlite_writer_turn
from doorstep.core.ratelimit import refusals_left, write_refused
from doorstep.core.services import audit_write
from doorstep.core.visit_consumers import visits_batch
from doorstep.registry.models import PersonStatus
from doorstep.registry.selectors import household_members, members_by_household

from . import forms
from .models import (
    Campaign,
    HeldReason,
    HeldState,
    HeldVisit,
    HouseholdProgress,
    Visit,
    VisitOutcome,
    VisitSource,
)
from .selectors import access_progress, progress_visible_to
from .services import (
    BatchItemResult,
    VisitConflict,
    VisitInput,
    VisitRejected,
    VisitTaken,
    visit_body_hash,
    visit_record,
)


@dataclass
class OutboxRecord:
    """One visit as the phone kept it: the form's fields (name, value) in the page's order."""

    client_uuid: uuid.UUID
    household_id: int
    visited_at: datetime.datetime
    form: Sequence[tuple[str, str]]

    def digest(self) -> str:
        return visit_body_hash(
            {
                "household_id": self.household_id,
                "visited_at": self.visited_at.isoformat(),
                "form": [[name, value] for name, value in self.form],
            }
        )

    def data(self) -> QueryDict:
        data = QueryDict(mutable=True)
        for name, value in self.form:
            data.appendlist(name, value)
        return data


def _campaign_closed_for(campaign: Campaign, at: datetime.datetime) -> bool:
    return not campaign.is_open_at(at) or (
        campaign.closed_at is not None and timezone.now() >= campaign.closed_at
    )


def _visit_input(*, campaign: Campaign, members: list, record: OutboxRecord) -> VisitInput:
    """The form as the page would read it, for the household's active members (as the
    recording user sees them). Raises VisitRejected with the form's own messages."""
    data = record.data()
    cards = forms.member_cards(members, data)
    outcome = data.get("outcome", "")
    checks, _sources = forms.checks_from_cards(
        cards, outcome, fever_threshold=campaign.fever_threshold
    )
    problems = [
        f"{card.person.name if card.person else card.name}: {message}"
        for card in cards
        for message in card.errors.values()
    ]
    if problems:
        raise VisitRejected("; ".join(problems), "form")
    return forms.visit_input(
        household_id=record.household_id,
        outcome=outcome,
        visited_at=record.visited_at,
        client_uuid=record.client_uuid,
        checks=checks,
        source=VisitSource.FIELD,
        notes=data.get("notes", "").strip()[:500],
    )


def _held_answer(index: int, held: HeldVisit) -> BatchItemResult:
    uuid_text = str(held.client_uuid)
    if held.state == HeldState.ACCEPTED:
        message = _("accepted by the community")
        visit = held.visit if held.visit_id is not None else None
        if visit is not None and visit.worker is not None and visit.worker_id != held.worker_id:
            message = _("accepted by the community as the visit of %(name)s") % {
                "name": visit.worker.display_name
            }
        return BatchItemResult(index, uuid_text, "duplicate", held.visit_id, message)
    if held.state == HeldState.REJECTED:
        message = _("rejected by the community: %(why)s") % {"why": held.decision_note}
        return BatchItemResult(index, uuid_text, "rejected", None, message, "held")
    if held.reason == HeldReason.SCREENED_BY_OTHER:
        message = _(
            "someone else screened this household meanwhile: your record is kept for the "
            "community admin to decide"
        )
        return BatchItemResult(index, uuid_text, "conflict", None, message, "held")
    message = _(
        "the household was assigned to someone else meanwhile: your record is kept for the "
        "community admin to decide"
    )
    return BatchItemResult(index, uuid_text, "held", None, message, "held")


def _hold(
    *, user: User, campaign: Campaign, record: OutboxRecord, reason: str, request
) -> HeldVisit:
    outcome = record.data().get("outcome", "")
    try:
        with sqlite_writer_turn(), transaction.atomic():
            held = HeldVisit.objects.create(
                campaign=campaign,
                household_id=record.household_id,
                worker=user,
                client_uuid=record.client_uuid,
                body_hash=record.digest(),
                visited_at=record.visited_at,
                outcome=outcome if outcome in VisitOutcome.values else VisitOutcome.SCREENED,
                form=[[name, value] for name, value in record.form],
                reason=reason,
            )
            audit_write(
                user=user, action="visit.held", obj=held, request=request, detail={"reason": reason}
            )
    except IntegrityError:  # the same record sent twice at once: the first one holds it
        held = HeldVisit.objects.get(client_uuid=record.client_uuid)
    return held


def _reassigned_in_jurisdiction(user: User, campaign: Campaign, household_id: int) -> bool:
    """The household is in this campaign and in the worker's own jurisdiction, but no longer
    in their assignment (answered only about households the worker's grid holds)."""
    if user.role != Role.GRID_WORKER or user.jurisdiction_area is None or not user.is_active:
        return False
    return (
        HouseholdProgress.objects.filter(campaign=campaign, household_id=household_id)
        .filter(prefix_q("grid__path", user.jurisdiction_area.path))
        .exists()
    )


@dataclass
class _Known:
    """What a batch's records need to know, read once for the batch instead of per record."""

    held: dict[uuid.UUID, HeldVisit]
    # uuid → (visit, campaign, worker, visited_at)
    visits: dict[uuid.UUID, tuple[int, int, int | None, datetime.datetime]]
    progress: dict[int, HouseholdProgress]  # the caller's own rows, by household
    members: dict[int, list]
    # The latest screening of each household by someone else, as it reached the server.
    others_latest: dict[int, datetime.datetime]


def _known(user: User, campaign: Campaign, records: Sequence[OutboxRecord]) -> _Known:
    uuids = [r.client_uuid for r in records]
    household_ids = {r.household_id for r in records}
    progress = {
        row.household_id: row
        for row in progress_visible_to(user, campaign)
        .select_related("household")
        .filter(household_id__in=household_ids)
    }
    others = (
        Visit.objects.filter(
            campaign=campaign, household_id__in=list(progress), outcome=VisitOutcome.SCREENED
        )
        .exclude(worker=user)
        .exclude(source=VisitSource.SELF_REPORT, verified_at__isnull=True)
        .values("household_id")
        .annotate(latest=Max("entered_at"))
    )
    return _Known(
        held={
            h.client_uuid: h
            for h in HeldVisit.objects.filter(client_uuid__in=uuids).select_related("visit__worker")
        },
        visits={
            u: (pk, c, w, at)
            for u, pk, c, w, at in Visit.objects.filter(client_uuid__in=uuids).values_list(
                "client_uuid", "pk", "campaign_id", "worker_id", "visited_at"
            )
        },
        progress=progress,
        members=members_by_household(user, list(progress)),
        others_latest={row["household_id"]: row["latest"] for row in others},
    )


def outbox_record(
    *, user: User, campaign: Campaign, record: OutboxRecord, index: int = 0, request=None
) -> BatchItemResult:
    """Record one outbox record; the answer says what became of it (see the module)."""
    return _outbox_record(
        user=user,
        campaign=campaign,
        record=record,
        index=index,
        request=request,
        known=_known(user, campaign, [record]),
    )


def _outbox_record(
    *, user: User, campaign: Campaign, record: OutboxRecord, index: int, request, known: _Known
) -> BatchItemResult:
    uuid_text = str(record.client_uuid)
    held = known.held.get(record.client_uuid)
    if held is not None:
        if held.worker_id != user.pk or held.campaign_id != campaign.pk:
            write_refused(request, reason="taken")
            return BatchItemResult(index, uuid_text, "taken", None, str(VisitTaken()))
        if held.body_hash != record.digest():
            write_refused(request, reason="conflict")
            message = _("this client UUID was already used for a different visit")
            # Refused (field "client_uuid"), unlike a held record's "conflict" (field "held").
            return BatchItemResult(index, uuid_text, "conflict", None, message, "client_uuid")
        return _held_answer(index, held)
    progress = known.progress.get(record.household_id)
    stored = known.visits.get(record.client_uuid)
    if progress is None:
        if stored is not None and stored[1:3] == (campaign.pk, user.pk):
            # recorded before the household was moved: its first answer
            return BatchItemResult(index, uuid_text, "duplicate", stored[0])
        if _campaign_closed_for(campaign, record.visited_at):
            write_refused(request, reason="rejected visited_at")
            message = _("the campaign is closed for this time")
            return BatchItemResult(index, uuid_text, "rejected", None, message, "visited_at")
        if _reassigned_in_jurisdiction(user, campaign, record.household_id):
            held = _hold(
                user=user,
                campaign=campaign,
                record=record,
                reason=HeldReason.REASSIGNED,
                request=request,
            )
            return _held_answer(index, held)
        write_refused(request, reason="not_found")
        message = _("household not found in your assignment")
        return BatchItemResult(index, uuid_text, "not_found", None, message)
    latest_other = known.others_latest.get(record.household_id)
    if (
        stored is None
        and latest_other is not None
        and latest_other > record.visited_at
        and not _campaign_closed_for(campaign, record.visited_at)
    ):
        # Someone else's screening reached the server after this record was made on the
        # phone (the worker could not have known): the community decides.
        held = _hold(
            user=user,
            campaign=campaign,
            record=record,
            reason=HeldReason.SCREENED_BY_OTHER,
            request=request,
        )
        return _held_answer(index, held)
    if stored is not None and stored[1:3] == (campaign.pk, user.pk) and stored[3] is not None:
        # The visit form's own post reached the server but its answer was lost, so the phone
        # kept it (with the form's UUID and the phone's time): the server's first time is the
        # visit's, as when the page itself retries, so the same form is the same visit.
        record = OutboxRecord(
            client_uuid=record.client_uuid,
            household_id=record.household_id,
            visited_at=stored[3],
            form=record.form,
        )
    try:
        item = _visit_input(
            campaign=campaign, members=known.members.get(record.household_id, []), record=record
        )
        visit, created = visit_record(user=user, campaign=campaign, visit=item, request=request)
    except VisitConflict as conflict:
        return BatchItemResult(
            index, uuid_text, "conflict", conflict.visit.pk, str(conflict), "client_uuid"
        )
    except VisitTaken as taken:
        return BatchItemResult(index, uuid_text, "taken", None, str(taken))
    except VisitRejected as rejected:
        if rejected.field == "form":  # the form's own check, before the service was asked
            write_refused(request, reason="rejected form")
        return BatchItemResult(index, uuid_text, "rejected", None, rejected.message, rejected.field)
    except Http404:
        message = _("household not found in your assignment")
        return BatchItemResult(index, uuid_text, "not_found", None, message)
    return BatchItemResult(index, uuid_text, "created" if created else "duplicate", visit.pk)


def outbox_batch_record(
    *, user: User, campaign: Campaign, records: Sequence[OutboxRecord], request=None
) -> list[BatchItemResult]:
    """Each record stands alone; once the budget of refused writes is spent the rest wait
    ("throttled": the phone keeps them and sends them again later)."""
    known = _known(user, campaign, records)
    results = []
    with visits_batch():  # the visit consumers hear of the batch's visits in one call
        for index, record in enumerate(records):
            if not refusals_left(request):
                message = _("too many refused writes: wait, then send this visit again")
                results.append(
                    BatchItemResult(index, str(record.client_uuid), "throttled", None, message)
                )
                continue
            results.append(
                _outbox_record(
                    user=user,
                    campaign=campaign,
                    record=record,
                    index=index,
                    request=request,
                    known=known,
                )
            )
    return results


def held_visit_workers(*, held: HeldVisit):
    """The workers a held record can be given to: the active grid workers of the household's
    grid other than the one who made it (the grid holds the household, so it is in their
    reach)."""
    return grid_workers(held.household.grid_id).exclude(pk=held.worker_id)


def held_visit_reassign(*, user: User, held: HeldVisit, worker_id, request=None) -> Visit:
    """Give a held record to another worker of the household's grid: it is recorded as that
    worker's visit (at the time of the visit), in one transaction with the decision, audited
    with both workers. Giving it again to the same worker answers with the same visit; a record
    decided otherwise already is refused (VisitRejected, field "state")."""
    access_progress(user, held.campaign, held.household_id)
    try:
        worker = held_visit_workers(held=held).get(pk=int(worker_id))
    except (User.DoesNotExist, ValueError, TypeError):
        raise ValidationError(_("choose a worker of the household's grid")) from None
    return held_visit_accept(user=user, held=held, request=request, to_worker=worker)


def held_visit_accept(
    *, user: User, held: HeldVisit, request=None, to_worker: User | None = None
) -> Visit:
    """Record a held visit as the original worker's (or, reassigned, as `to_worker`'s). The
    deciding user must reach the household (the access layer: Http404 otherwise); a campaign
    closed since refuses it (VisitRejected, nothing written), as does a UUID another visit
    holds (VisitConflict, VisitTaken). Accepting again (a double submit, a second admin)
    answers with the visit of the first accept. The visit, its move to the worker and the
    decision are one transaction: nobody ever sees the visit as the admin's, and a refusal
    leaves the record held."""
    campaign = held.campaign
    owner_id = to_worker.pk if to_worker is not None else held.worker_id
    progress = access_progress(user, campaign, held.household_id)
    held.refresh_from_db()  # the caller's copy may be older than another admin's decision
    if held.state == HeldState.ACCEPTED and held.visit is not None:
        return _decided_visit(held.visit, to_worker)
    if held.state == HeldState.REJECTED:
        raise VisitRejected(_("this record was rejected already"), "state")
    record = OutboxRecord(
        client_uuid=held.client_uuid,
        household_id=held.household_id,
        visited_at=held.visited_at,
        form=[(name, value) for name, value in held.form],
    )
    members = list(household_members(user, progress.household).filter(status=PersonStatus.ACTIVE))
    item = _visit_input(campaign=campaign, members=members, record=record)
    refusal: Exception | None = None
    visit: Visit | None = None
    with sqlite_writer_turn(), transaction.atomic():
        current = HeldVisit.objects.select_for_update().get(pk=held.pk)
        if current.state == HeldState.ACCEPTED and current.visit is not None:
            try:
                visit = _decided_visit(current.visit, to_worker)
            except VisitRejected as refused:
                refusal = refused
        elif current.state == HeldState.REJECTED:
            refusal = VisitRejected(_("this record was rejected already"), "state")
        else:
            try:
                # The visit service counts and audits its own refusals; they are caught here
                # so that the refusal's audit is kept (nothing else was written).
                visit, _created = visit_record(
                    user=user, campaign=campaign, visit=item, request=request
                )
            except (VisitConflict, VisitTaken, VisitRejected, Http404) as refused:
                refusal = refused
            else:
                # The visit is the worker's (made at the door, or given to the worker who now
                # answers for the household); the admin only let it in.
                Visit.objects.filter(pk=visit.pk, worker=user).update(worker_id=owner_id)
                HeldVisit.objects.filter(pk=held.pk, state=HeldState.HELD).update(
                    state=HeldState.ACCEPTED,
                    decided_by=user,
                    decided_at=timezone.now(),
                    visit=visit,
                )
                if to_worker is None:
                    audit_write(user=user, action="visit.held.accept", obj=held, request=request)
                else:
                    audit_write(
                        user=user,
                        action="visit.held.reassign",
                        obj=held,
                        request=request,
                        detail={"worker": held.worker_id, "to": to_worker.pk, "visit": visit.pk},
                    )
    if refusal is not None:
        raise refusal
    assert visit is not None
    held.refresh_from_db()
    visit.refresh_from_db()
    return visit


def _decided_visit(visit: Visit, to_worker: User | None) -> Visit:
    """A record accepted already: the same decision again answers with its visit; giving it to
    another worker than the one it went to is refused (decided already)."""
    if to_worker is not None and visit.worker_id != to_worker.pk:
        raise VisitRejected(_("this record was decided already"), "state")
    return visit


def held_visit_reject(*, user: User, held: HeldVisit, note: str, request=None) -> HeldVisit:
    """Reject a held visit with a reason the worker's phone is told when it asks again."""
    note = note.strip()[:200]
    if not note:
        raise ValidationError(_("say why the record is rejected"))
    access_progress(user, held.campaign, held.household_id)
    with sqlite_writer_turn(), transaction.atomic():
        decided = HeldVisit.objects.filter(pk=held.pk, state=HeldState.HELD).update(
            state=HeldState.REJECTED,
            decided_by=user,
            decided_at=timezone.now(),
            decision_note=note,
        )
        if not decided:
            raise ValidationError(_("this record was decided already"))
        audit_write(user=user, action="visit.held.reject", obj=held, request=request, detail={})
    held.refresh_from_db()
    return held
