"""Writes of the sweep: campaigns, assignments, visits (idempotent), self-reports."""

import datetime
import hashlib
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import AREA_ROLE_LEVELS, ROSTER_MANAGER_ROLES, Role, User
from doorstep.areas.models import Area
from doorstep.core.db import prefix_q, refresh_planner_statistics, sqlite_writer_turn
from doorstep.core.services import audit_write
from doorstep.registry.models import Household, HouseholdStatus, Person, PersonStatus
from doorstep.registry.services import person_data_clean

from .models import (
    Assignment,
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
from .progress import fold_step, progress_refresh, progress_save
from .rules import AnswerError, PersonCheckInput, evaluate_flags, validate_check
from .selectors import access_progress, progress_visible_to
from .tally import tally_add_enrolled, tally_of


class VisitConflict(Exception):
    """The client UUID was used before with a different body (HTTP 409)."""

    def __init__(self, visit: Visit):
        super().__init__(_("this client UUID was already used for a different visit"))
        self.visit = visit


class VisitRejected(Exception):
    """The visit cannot be recorded; `message` says why, `field` where."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


# -- campaigns --------------------------------------------------------------------------------
def _require_manager(user: User) -> None:
    if user.role not in ROSTER_MANAGER_ROLES or user.jurisdiction_area is None:
        raise PermissionDenied


@transaction.atomic
def campaign_create(
    *,
    user: User,
    name: str,
    scope_area: Area,
    deadline: datetime.datetime,
    starts_at: datetime.datetime | None = None,
    kind: str = "sweep",
    max_attempts: int = 3,
    lookback_days: int = 14,
    questions: Sequence[str] | None = None,
    request=None,
) -> Campaign:
    """Create a campaign and enrol every household in its scope (one progress row each)."""
    _require_manager(user)
    if not scope_area.path.startswith(user.jurisdiction_area.path):
        raise PermissionDenied
    starts_at = starts_at or timezone.now()
    if deadline <= starts_at:
        raise ValidationError({"deadline": _("the deadline must be after the start")})
    from .rules import DEFAULT_QUESTIONS

    campaign = Campaign.objects.create(
        name=name,
        kind=kind,
        scope_area=scope_area,
        starts_at=starts_at,
        deadline=deadline,
        max_attempts=max_attempts,
        lookback_days=lookback_days,
        questions=list(questions if questions is not None else DEFAULT_QUESTIONS),
        created_by=user,
    )
    enrolled = campaign_enrol_households(campaign=campaign)
    if enrolled > 10_000:
        refresh_planner_statistics(HouseholdProgress)
    audit_write(
        user=user,
        action="campaign.create",
        obj=campaign,
        request=request,
        detail={"households": enrolled},
    )
    return campaign


def campaign_enrol_households(*, campaign: Campaign) -> int:
    """Add a progress row for every household in scope that has none yet (new roster rows
    included); one INSERT … SELECT, so a district of 333,000 households enrols in seconds."""
    progress = HouseholdProgress._meta.db_table
    household = Household._meta.db_table
    area = Area._meta.db_table
    person = Person._meta.db_table
    path = campaign.scope_area.path
    if connection.vendor == "postgresql":
        escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        in_scope, path_params = "a.path LIKE %s ESCAPE '\\'", [escaped + "%"]
    else:
        in_scope, path_params = (
            "a.path >= %s AND a.path < %s",
            [path, path[:-1] + chr(ord(path[-1]) + 1)],
        )
    params = [campaign.pk, "not_started", PersonStatus.ACTIVE, *path_params, campaign.pk]
    # Table names come from model metadata; every value is a parameter. Members are counted by
    # one GROUP BY (a sequential read) rather than one index probe per household: on a cold
    # cache the probes are random reads, a third of a million of them for a district.
    sql = f"""
        INSERT INTO {progress} (campaign_id, household_id, grid_id, state, closed, attempts,
            failed_attempts, last_outcome, persons_total, persons_seen, persons_elsewhere,
            persons_flagged)
        SELECT %s, h.id, h.grid_id, %s, FALSE, 0, 0, '', COALESCE(pc.n, 0), 0, 0, 0
        FROM {household} h JOIN {area} a ON a.id = h.grid_id
        LEFT JOIN (SELECT household_id, COUNT(*) AS n FROM {person} WHERE status = %s
                   GROUP BY household_id) pc ON pc.household_id = h.id
        WHERE {in_scope}
          AND NOT EXISTS (SELECT 1 FROM {progress} x WHERE x.campaign_id = %s
                          AND x.household_id = h.id)
        RETURNING grid_id, persons_total
    """  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Check the foreign keys row by row as they are inserted rather than queueing a
            # million deferred checks for the commit.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql, params)
        enrolled = cursor.fetchall()
        tally_add_enrolled(campaign_id=campaign.pk, enrolled=enrolled)
    return len(enrolled)


def open_campaigns_enrol_new_households(*, area: Area) -> int:
    """After the roster grew under `area`: enrol its new households in every open campaign
    that covers them, so a campaign's open set always matches the roster."""
    ancestors = [code for code in area.path.strip("/").split("/") if code]
    campaigns = Campaign.objects.filter(closed_at__isnull=True, deadline__gt=timezone.now()).filter(
        Q(scope_area__code__in=ancestors) | prefix_q("scope_area__path", area.path)
    )
    return sum(
        campaign_enrol_households(campaign=c) for c in campaigns.select_related("scope_area")
    )


@transaction.atomic
def campaign_close(*, user: User, campaign: Campaign, request=None) -> Campaign:
    _require_manager(user)
    if not campaign.scope_area.path.startswith(user.jurisdiction_area.path):
        raise PermissionDenied
    if campaign.closed_at is not None:
        return campaign  # closing twice keeps the first closing time (and its audit event)
    campaign.closed_at = timezone.now()
    campaign.save(update_fields=["closed_at"])
    audit_write(user=user, action="campaign.close", obj=campaign, request=request)
    return campaign


@transaction.atomic
def risk_areas_set(*, user: User, names: Sequence[str], request=None) -> list[RiskArea]:
    """Replace the active risk areas (command only): the list moves with the epidemic."""
    if user.role != Role.COMMAND:
        raise PermissionDenied
    wanted = {n.strip() for n in names if n.strip()}
    RiskArea.objects.exclude(name__in=wanted).update(active=False)
    for name in wanted:
        RiskArea.objects.update_or_create(name=name, defaults={"active": True})
    audit_write(
        user=user,
        action="risk_areas.set",
        object_type="screening.riskarea",
        request=request,
        detail={"names": sorted(wanted)},
    )
    return list(RiskArea.objects.filter(active=True))


# -- assignments ------------------------------------------------------------------------------
def _households_of_block(
    campaign: Campaign, grid: Area, building: str = "", household_ids: Sequence[int] | None = None
):
    rows = HouseholdProgress.objects.filter(campaign=campaign, grid=grid)
    if building:
        rows = rows.filter(household__building=building)
    if household_ids is not None:
        rows = rows.filter(household_id__in=list(household_ids))
    return rows


def _check_worker_fits(worker: User, grid: Area) -> None:
    if (
        worker.role not in AREA_ROLE_LEVELS
        or worker.jurisdiction_area is None
        or not grid.path.startswith(worker.jurisdiction_area.path)
        or not worker.is_active
    ):
        raise ValidationError(
            _("%(worker)s does not work in %(grid)s")
            % {"worker": worker, "grid": grid.display_name}
        )


@transaction.atomic
def assignment_create(
    *,
    user: User,
    campaign: Campaign,
    worker: User,
    grid: Area,
    building: str = "",
    household_ids: Sequence[int] | None = None,
    request=None,
) -> Assignment:
    """Give a worker a grid, a building of a grid, or a list of households (包片). Households
    already given to someone else move to this worker; the visits recorded stay as they are."""
    _require_manager(user)
    if not grid.path.startswith(user.jurisdiction_area.path) or not grid.path.startswith(
        campaign.scope_area.path
    ):
        raise Http404
    if campaign.closed_at is not None:
        raise ValidationError(_("the campaign is closed"))
    _check_worker_fits(worker, grid)
    kind = (
        Assignment.Kind.LIST
        if household_ids is not None
        else Assignment.Kind.BUILDING
        if building
        else Assignment.Kind.GRID
    )
    moved = _households_of_block(campaign, grid, building, household_ids).update(assigned_to=worker)
    if kind != Assignment.Kind.LIST:
        # The block now belongs to one worker: narrower assignments inside it are replaced.
        stale = Assignment.objects.filter(campaign=campaign, grid=grid)
        if building:
            stale = stale.filter(building=building).exclude(worker=worker)
        else:
            # The whole grid to one worker: every narrower assignment in it is subsumed,
            # the same worker's building assignments included.
            stale = stale.exclude(worker=worker, building="", kind=Assignment.Kind.GRID)
        stale.delete()
    assignment, _created = Assignment.objects.get_or_create(
        campaign=campaign,
        worker=worker,
        grid=grid,
        building=building,
        kind=kind,
        defaults={"created_by": user},
    )
    audit_write(
        user=user,
        action="assignment.create",
        obj=assignment,
        request=request,
        detail={"households": moved, "worker": worker.pk},
    )
    return assignment


@transaction.atomic
def assignment_claim(
    *, worker: User, campaign: Campaign, grid: Area, building: str = "", request=None
) -> Assignment:
    """A worker takes an unassigned block themselves (认领); a block with any household
    already assigned cannot be claimed."""
    if worker.role != Role.GRID_WORKER:
        raise PermissionDenied
    _check_worker_fits(worker, grid)
    if not grid.path.startswith(campaign.scope_area.path) or not campaign.is_open:
        raise Http404
    block = _households_of_block(campaign, grid, building).select_for_update()
    if not block.exists():
        raise ValidationError(_("there are no households in this block"))
    if block.filter(assigned_to__isnull=False).exists():
        raise ValidationError(_("this block is already assigned"))
    count = block.update(assigned_to=worker)
    assignment = Assignment.objects.create(
        campaign=campaign,
        worker=worker,
        grid=grid,
        building=building,
        claimed=True,
        kind=Assignment.Kind.BUILDING if building else Assignment.Kind.GRID,
        created_by=worker,
    )
    audit_write(
        user=worker,
        action="assignment.claim",
        obj=assignment,
        request=request,
        detail={"households": count},
    )
    return assignment


# -- visits -----------------------------------------------------------------------------------
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
    client_uuid, digest: str, *, user, campaign: Campaign, token: SelfReportToken | None
) -> Visit | None:
    """The visit already stored under this UUID, if the caller may see it. A UUID used for a
    household the caller cannot reach looks like any other refusal (404): a known UUID is no key
    to someone else's visit."""
    visit = Visit.objects.filter(client_uuid=client_uuid).first()
    if visit is None:
        return None
    if visit.campaign_id != campaign.pk:
        raise Http404
    if token is not None:
        if visit.household_id != token.household_id:
            raise Http404
    else:
        access_progress(user, campaign, visit.household_id)
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
    """
    digest = visit.digest()
    # A retry is found by the unique client UUID when its insert fails, which keeps the usual
    # case (a new visit) one query shorter. A retry that the checks would now refuse (the
    # campaign closed since, say) still gets its first answer.
    try:
        prepared = _visit_prepare(user=user, campaign=campaign, visit=visit, token=token)
    except (VisitRejected, Http404):
        existing = _existing_visit(
            visit.client_uuid, digest, user=user, campaign=campaign, token=token
        )
        if existing is not None:
            return existing, False
        raise
    try:
        with sqlite_writer_turn(), transaction.atomic():
            record = _visit_write(prepared, digest=digest, request=request)
        return record, True
    except IntegrityError:
        # The UUID is taken: a retry, or the same visit sent twice at once.
        existing = _existing_visit(
            visit.client_uuid, digest, user=user, campaign=campaign, token=token
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
    for index, check in enumerate(visit.person_checks):
        try:
            validate_check(check, visited_on=visited_on)
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
        person, newcomer = _person_for_check(members, check, index)
        if person is not None:
            if person in seen_persons:
                raise VisitRejected(
                    _("the same person appears twice in one visit"), "person_checks"
                )
            seen_persons.add(person)
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
            person = Person.objects.create(household_id=household_id, is_new=True, **newcomer).pk
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


def _person_for_check(members: dict, check: PersonCheckInput, index: int):
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
        data = person_data_clean(None, data)
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
    status: str  # created | duplicate | conflict | rejected | not_found
    visit_id: int | None = None
    error: str = ""
    field: str = ""


def visit_batch_record(
    *, user: User, campaign: Campaign, visits: Sequence[VisitInput], request=None
) -> list[BatchItemResult]:
    """Record many visits; each stands alone, so 3 bad ones do not cost the other 97."""
    results = []
    for index, item in enumerate(visits):
        try:
            visit, created = visit_record(user=user, campaign=campaign, visit=item, request=request)
            results.append(
                BatchItemResult(
                    index, str(item.client_uuid), "created" if created else "duplicate", visit.pk
                )
            )
        except VisitConflict as conflict:
            results.append(
                BatchItemResult(
                    index, str(item.client_uuid), "conflict", conflict.visit.pk, str(conflict)
                )
            )
        except VisitRejected as rejected:
            results.append(
                BatchItemResult(
                    index, str(item.client_uuid), "rejected", None, rejected.message, rejected.field
                )
            )
        except Http404:
            results.append(
                BatchItemResult(
                    index,
                    str(item.client_uuid),
                    "not_found",
                    None,
                    _("household not found in your assignment"),
                )
            )
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
    return visit


# -- self-report ------------------------------------------------------------------------------
def self_report_token_for(*, campaign: Campaign, household_id: int) -> SelfReportToken:
    token, _created = SelfReportToken.objects.get_or_create(
        campaign=campaign,
        household_id=household_id,
        defaults={"token": secrets.token_urlsafe(16), "expires_at": campaign.deadline},
    )
    return token


def self_report_lookup(token: str) -> SelfReportToken:
    """The token if it is valid now; Http404 for unknown, expired or closed (all look alike)."""
    row = (
        SelfReportToken.objects.select_related("campaign", "household").filter(token=token).first()
    )
    now = timezone.now()
    if (
        row is None
        or row.expires_at < now
        or not row.campaign.is_open
        or not row.campaign.self_report_enabled
    ):
        raise Http404
    return row


def self_report_submit(*, token: str, visit: VisitInput) -> tuple[Visit, bool]:
    """A household answers through the code on its notice slip: the visit is stored as
    "self-reported, to verify" and never closes the household by itself."""
    row = self_report_lookup(token)
    if visit.household_id != row.household_id:
        raise Http404
    visit.source = VisitSource.SELF_REPORT
    members = set(Person.objects.filter(household_id=row.household_id).values_list("pk", flat=True))
    if any(c.person_id is not None and c.person_id not in members for c in visit.person_checks):
        raise Http404
    result = visit_record(user=None, campaign=row.campaign, visit=visit, token=row)
    if result[1]:  # a repeated submission is not another use
        SelfReportToken.objects.filter(pk=row.pk).update(used_count=F("used_count") + 1)
    return result


def progress_scope_for_area(campaign: Campaign, area: Area):
    return HouseholdProgress.objects.filter(campaign=campaign).filter(
        prefix_q("grid__path", area.path)
    )
