"""Visits: one knock on one door, idempotent by client UUID; batches; verification."""

import datetime
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.core.db import sqlite_writer_turn
from doorstep.core.ratelimit import refusals_left, write_refused
from doorstep.core.services import audit_write
from doorstep.core.visit_consumers import visits_batch, visits_saved
from doorstep.registry.models import Household, HouseholdStatus, Person, PersonStatus
from doorstep.registry.services import person_data_clean, person_found_at_door

from ..models import (
    Campaign,
    HouseholdProgress,
    PersonCheck,
    Presence,
    RiskArea,
    SelfReportToken,
    Visit,
    VisitOutcome,
    VisitSource,
)
from ..progress import fold_step, progress_refresh, progress_save
from ..rules import AnswerError, PersonCheckInput, evaluate_flags, validate_check
from ..selectors import access_progress, progress_visible_to
from ..tally import tally_of
from .errors import VisitConflict, VisitRejected, VisitTaken


def visit_body_hash(payload: dict) -> str:
    """A stable digest of what a client sent, for telling a retry from a different visit."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class VisitInput:
    household_id: int
    outcome: str
    visited_at: datetime.datetime
    client_uuid: uuid.UUID
    person_checks: list[PersonCheckInput]
    source: str = VisitSource.FIELD
    notes: str = ""

    def digest(self) -> str:
        body = asdict(self)
        body["client_uuid"] = str(self.client_uuid)
        return visit_body_hash(body)


def _existing_visit(
    client_uuid,
    digest: str,
    *,
    user,
    campaign: Campaign,
    token: SelfReportToken | None,
    household_reachable: bool,
) -> Visit | None:
    """The visit already stored under this UUID, if the caller may see it.

    A UUID of a visit the caller cannot reach (another worker's household, another campaign) is
    no key to that visit. When the caller's own household is within reach, the answer is the
    truth, VisitTaken ("already recorded by another worker"), not "not in your assignment";
    otherwise it looks like any other refusal (404).
    """
    visit = Visit.objects.filter(client_uuid=client_uuid).first()
    if visit is None:
        return None
    if visit.campaign_id != campaign.pk:
        reachable = False
    elif token is not None:
        reachable = visit.household_id == token.household_id
    else:
        reachable = (
            progress_visible_to(user, campaign).filter(household_id=visit.household_id).exists()
        )
    if not reachable:
        if household_reachable:
            raise VisitTaken
        raise Http404
    if visit.body_hash != digest:
        raise VisitConflict(visit)
    return visit


def _risk_area_names() -> list[str]:
    return list(RiskArea.objects.filter(active=True).values_list("name", flat=True))


def visit_record(
    *,
    user: User | None,
    campaign: Campaign,
    visit: VisitInput,
    request=None,
    token: SelfReportToken | None = None,
) -> tuple[Visit, bool]:
    """Record one knock on one door and move the household's progress on, atomically.

    Idempotent by `client_uuid`: the same UUID and body return the first visit (created=False);
    the same UUID with another body raises VisitConflict. Raises Http404 when the household is
    outside the user's assignment or jurisdiction, VisitRejected for bad answers or a closed
    campaign; in every refusal nothing is written.

    Reading and checking happen before the write transaction, which then holds only the
    inserts and the progress update: on SQLite the write lock is held for as short as it can be.

    The visit (new or replayed) is then told to the domains that act on it
    (`core.visit_consumers`: follow-up opens a fever's key person and referral), on commit and
    outside the visit's own transaction, so nothing they do can cost the visit.
    """
    try:
        record, created = _visit_record(
            user=user, campaign=campaign, visit=visit, request=request, token=token
        )
    except (VisitRejected, VisitConflict, VisitTaken, Http404) as refusal:
        # Every refused write is audited and counts against the caller's budget of refusals.
        write_refused(request, reason=_refusal_reason(refusal))
        raise
    if token is None:
        # A resident's self-report counts (and is acted on) once a worker verifies it.
        visits_saved([record.pk])
    return record, created


def _refusal_reason(refusal: Exception) -> str:
    if isinstance(refusal, VisitRejected):
        return f"rejected {refusal.field}"
    return {VisitConflict: "conflict", VisitTaken: "taken"}.get(type(refusal), "not_found")


def _visit_record(*, user, campaign, visit: VisitInput, request, token) -> tuple[Visit, bool]:
    digest = visit.digest()
    # A retry is found by the unique client UUID when its insert fails, which keeps the usual
    # case (a new visit) one query shorter. A retry that the checks would now refuse (the
    # campaign closed since, say) still gets its first answer.
    try:
        prepared = _visit_prepare(user=user, campaign=campaign, visit=visit, token=token)
    except (VisitRejected, Http404) as refusal:
        existing = _existing_visit(
            visit.client_uuid,
            digest,
            user=user,
            campaign=campaign,
            token=token,
            household_reachable=isinstance(refusal, VisitRejected),
        )
        if existing is not None:
            return existing, False
        raise
    try:
        with sqlite_writer_turn(), transaction.atomic():
            record = _visit_write(prepared, digest=digest, request=request)
        return record, True
    except IntegrityError:
        # The UUID is taken: a retry, the same visit sent twice at once, or another worker's.
        existing = _existing_visit(
            visit.client_uuid,
            digest,
            user=user,
            campaign=campaign,
            token=token,
            household_reachable=True,
        )
        if existing is None:
            raise
        return existing, False


@dataclass
class _PreparedVisit:
    user: User | None
    token: SelfReportToken | None
    campaign: Campaign
    visit: VisitInput
    progress_id: int
    household_id: int
    members: dict  # person id → status
    checks: list  # (PersonCheckInput, person or None for a newcomer, cleaned newcomer data, flags)


def _visit_prepare(*, user, campaign, visit: VisitInput, token) -> _PreparedVisit:
    """Everything that only reads: access, validation, the risk rules. Raises before any write."""
    if token is None:
        rows = progress_visible_to(user, campaign)
        household_id = visit.household_id
    else:
        rows = HouseholdProgress.objects.filter(campaign=campaign)
        household_id = token.household_id
    try:
        progress_id = rows.filter(household_id=household_id).values_list("pk", flat=True).first()
    except (ValueError, TypeError):
        progress_id = None
    if progress_id is None:
        raise Http404  # outside the assignment or jurisdiction: looks exactly like absent
    now = timezone.now()
    if visit.outcome not in VisitOutcome.values:
        raise VisitRejected(_("unknown outcome “%(v)s”") % {"v": visit.outcome}, "outcome")
    if visit.visited_at > now + datetime.timedelta(minutes=10):
        raise VisitRejected(_("the visit time is in the future"), "visited_at")
    if not campaign.is_open_at(visit.visited_at) or (
        campaign.closed_at is not None and now >= campaign.closed_at
    ):
        raise VisitRejected(_("the campaign is closed for this time"), "visited_at")
    visited_on = timezone.localdate(visit.visited_at)
    # A worker at the door (or typing the paper at night) measures every present person or
    # says why not; a resident's self-report may lack a thermometer.
    require_temperature = (
        "temperature" in (campaign.questions or []) and visit.source != VisitSource.SELF_REPORT
    )
    for index, check in enumerate(visit.person_checks):
        try:
            validate_check(check, visited_on=visited_on, require_temperature=require_temperature)
        except AnswerError as error:
            raise VisitRejected(
                _("person %(n)d: %(msg)s") % {"n": index + 1, "msg": error.message},
                f"person_checks[{index}].{error.field}",
            ) from None
    if visit.outcome != VisitOutcome.SCREENED and any(
        c.presence == Presence.PRESENT for c in visit.person_checks
    ):
        raise VisitRejected(
            _("persons are marked present but the outcome is not “screened”"), "outcome"
        )
    members = dict(Person.objects.filter(household_id=household_id).values_list("pk", "status"))
    risk_areas = _risk_area_names()
    checks, seen_persons = [], set()
    for index, check in enumerate(visit.person_checks):
        person, newcomer = _person_for_check(members, check, index, user=user)
        key = (
            person
            if person is not None
            else (newcomer.get("id_number_held") or newcomer.get("id_number"))
        )
        if key is not None:
            if key in seen_persons:
                raise VisitRejected(
                    _("the same person appears twice in one visit"), "person_checks"
                )
            seen_persons.add(key)
        flags = evaluate_flags(
            check,
            fever_threshold=campaign.fever_threshold,
            risk_areas=risk_areas,
            lookback_days=campaign.lookback_days,
            visited_on=visited_on,
        )
        checks.append((check, person, newcomer, flags))
    return _PreparedVisit(user, token, campaign, visit, progress_id, household_id, members, checks)


def _visit_write(prepared: _PreparedVisit, *, digest: str, request) -> Visit:
    """The writes of one visit, inside the caller's transaction."""
    campaign, visit, household_id = prepared.campaign, prepared.visit, prepared.household_id
    by_field = prepared.token is None
    progress = HouseholdProgress.objects.select_for_update().get(pk=prepared.progress_id)
    record = Visit.objects.create(
        campaign=campaign,
        household_id=household_id,
        worker=prepared.user if by_field else None,
        outcome=visit.outcome,
        source=visit.source,
        visited_at=visit.visited_at,
        entered_at=timezone.now(),
        client_uuid=visit.client_uuid,
        body_hash=digest,
        notes=visit.notes[:500],
    )
    rows, moved_out, newcomers = [], [], 0
    counts = {"seen": 0, "elsewhere": 0, "flagged": 0}
    for check, person, newcomer, flags in prepared.checks:
        if person is None:
            # Found at the door, not on the roster: added and flagged "new" to be confirmed.
            person = person_found_at_door(
                user=prepared.user,
                household_id=household_id,
                data=newcomer,
                source=visit.source,
                request=request,
            )
            newcomers += 1
        if check.presence == Presence.MOVED_OUT and by_field:
            moved_out.append(person)
        counts["seen"] += check.presence == Presence.PRESENT
        counts["elsewhere"] += check.presence in (Presence.IN_DISTRICT, Presence.OUT_OF_TOWN)
        counts["flagged"] += bool(flags)
        rows.append(
            PersonCheck(
                visit=record,
                person_id=person,
                presence=check.presence,
                whereabouts=check.whereabouts[:100],
                expected_return=check.expected_return,
                temperature=check.temperature,
                temperature_not_measured=check.temperature_not_measured,
                temperature_recheck=check.temperature_recheck,
                symptoms=check.symptoms,
                travel_from=check.travel_from[:50],
                returned_on=check.returned_on,
                travel_means=check.travel_means[:50],
                contact_with_case=check.contact_with_case,
                notes=check.notes[:300],
                flags=flags,
                flagged=bool(flags),
            )
        )
    PersonCheck.objects.bulk_create(rows)
    if moved_out:
        # People who moved are marked, never deleted: their history stays.
        Person.objects.filter(pk__in=moved_out).update(status=PersonStatus.MOVED_OUT)
    if visit.outcome == VisitOutcome.MOVED and by_field:
        Household.objects.filter(pk=household_id).update(status=HouseholdStatus.GONE)
    elif visit.outcome == VisitOutcome.VACANT and by_field:
        Household.objects.filter(pk=household_id).update(status=HouseholdStatus.VACANT)
    active = sum(1 for status in prepared.members.values() if status == PersonStatus.ACTIVE)
    active += newcomers - len(moved_out)
    in_order = (
        not record.counts
        or progress.last_visit_at is None
        or (record.visited_at >= progress.last_visit_at)
    )
    if in_order:
        # The usual case: the newest knock moves progress one step, no visit is read again.
        before = tally_of(progress)
        fold_step(progress, campaign, record, counts)
        progress.persons_total = active
        progress_save(progress, before=before)
    else:
        # A paper form typed in the evening for a morning visit: fold all visits again.
        progress = progress_refresh(
            campaign=campaign,
            household_id=household_id,
            progress=progress,
            persons_total=active,
        )
    record.progress_state = progress.state
    if by_field:
        audit_write(
            user=prepared.user,
            action="visit.record",
            obj=record,
            request=request,
            detail={"outcome": visit.outcome, "source": visit.source},
        )
    return record


def _person_for_check(members: dict, check: PersonCheckInput, index: int, *, user=None):
    """(the roster member's id, None) or (None, the newcomer's cleaned fields)."""
    if check.person_id is not None:
        if check.person_id not in members:
            raise VisitRejected(
                _("person %(n)d is not a member of this household") % {"n": index + 1},
                f"person_checks[{index}].person_id",
            )
        return check.person_id, None
    if not check.new_person or not (check.new_person.get("name") or "").strip():
        raise VisitRejected(
            _("person %(n)d has neither a roster entry nor a name") % {"n": index + 1},
            f"person_checks[{index}]",
        )
    data = {
        k: v
        for k, v in check.new_person.items()
        if k in ("name", "id_type", "id_number", "phone", "relation", "sex", "birth_date")
    }
    data.setdefault("id_type", "resident_id" if data.get("id_number") else "none")
    try:
        # The usual answers about a duplicate in the worker's own jurisdiction; a number that a
        # record elsewhere carries is accepted like any other and held for reconciliation.
        data = person_data_clean(None, data, user=user)
    except ValidationError as error:
        message = "; ".join(error.messages)
        raise VisitRejected(
            _("person %(n)d: %(msg)s") % {"n": index + 1, "msg": message},
            f"person_checks[{index}].new_person",
        ) from None
    return None, {k: v for k, v in data.items() if v not in (None, "") or k == "id_number"}


@dataclass
class BatchItemResult:
    index: int
    client_uuid: str
    status: str  # created | duplicate | conflict | taken | rejected | not_found | throttled
    visit_id: int | None = None
    error: str = ""
    field: str = ""


def visit_batch_record(
    *, user: User, campaign: Campaign, visits: Sequence[VisitInput], request=None
) -> list[BatchItemResult]:
    """Record many visits; each stands alone, so 3 bad ones do not cost the other 97. Once the
    caller's budget of refused writes is spent, the rest are not tried ("throttled": send them
    again later), so a batch is no faster a probe than single requests."""
    with visits_batch():  # the consumers hear of the batch's visits in one call
        return _visit_batch_record(user=user, campaign=campaign, visits=visits, request=request)


def _visit_batch_record(
    *, user: User, campaign: Campaign, visits: Sequence[VisitInput], request
) -> list[BatchItemResult]:
    results = []
    for index, item in enumerate(visits):
        uuid_text = str(item.client_uuid)
        if not refusals_left(request):
            message = _("too many refused writes: wait, then send this visit again")
            results.append(BatchItemResult(index, uuid_text, "throttled", None, message))
            continue
        try:
            visit, created = visit_record(user=user, campaign=campaign, visit=item, request=request)
            status = "created" if created else "duplicate"
            results.append(BatchItemResult(index, uuid_text, status, visit.pk))
        except VisitConflict as conflict:
            results.append(
                BatchItemResult(index, uuid_text, "conflict", conflict.visit.pk, str(conflict))
            )
        except VisitTaken as taken:
            results.append(BatchItemResult(index, uuid_text, "taken", None, str(taken)))
        except VisitRejected as rejected:
            results.append(
                BatchItemResult(
                    index, uuid_text, "rejected", None, rejected.message, rejected.field
                )
            )
        except Http404:
            message = _("household not found in your assignment")
            results.append(BatchItemResult(index, uuid_text, "not_found", None, message))
    return results


@transaction.atomic
def visit_verify(*, user: User, campaign: Campaign, visit_id: int, request=None) -> Visit:
    """A worker confirms a self-report; only then does it count and close the household."""
    visit = (
        Visit.objects.select_for_update()
        .filter(pk=visit_id, campaign=campaign, source=VisitSource.SELF_REPORT)
        .first()
    )
    if visit is None:
        raise Http404
    access_progress(user, campaign, visit.household_id)
    if not campaign.is_open:
        # A closed campaign's figures are final (and may be archived and anonymised).
        raise VisitRejected(_("the campaign is closed"), "campaign")
    if visit.verified_at is None:
        visit.verified_by, visit.verified_at = user, timezone.now()
        visit.save(update_fields=["verified_by", "verified_at"])
        progress_refresh(campaign=campaign, household_id=visit.household_id)
        audit_write(user=user, action="visit.verify", obj=visit, request=request)
        visits_saved([visit.pk])  # on commit: the verifier stands for the resident
    return visit
