"""Screening API: a worker's campaigns, assignment and household list; visits, single and
batched, idempotent by client UUID; coverage by area."""

import datetime
import uuid
from decimal import Decimal
from typing import Annotated, Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import AfterValidator, BaseModel, field_validator

from doorstep.areas.models import Area
from doorstep.areas.selectors import areas_visible_to
from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.routers import stale_ok_reads
from doorstep.registry import selectors as roster
from doorstep.registry.services import record_read

from . import coverage, outbox, selectors, services
from .rules import PersonCheckInput

router = Router(tags=["screening"])

# Ids as the database stores them (64-bit): a larger number is refused here with a 422 instead
# of overflowing in the database driver (SQLite raises OverflowError on such a parameter).
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]


def _refuse_nul(value):
    # PostgreSQL text cannot hold a NUL character (the database driver raises), and Django's
    # form fields refuse it too.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(_("NUL characters are not allowed"))
    return value


NulFreeStr = Annotated[str, AfterValidator(_refuse_nul)]


class CampaignOut(Schema):
    id: int
    name: str
    kind: str
    scope_code: str = Field(alias="scope_area.code")
    scope_name: str = Field(alias="scope_area.name")
    starts_at: datetime.datetime
    deadline: datetime.datetime
    closed_at: datetime.datetime | None
    max_attempts: int
    questions: list[str]


class MemberOut(Schema):
    id: int
    name: str
    relation: str
    id_number_masked: str
    phone_masked: str
    status: str
    is_new: bool


class HouseholdRowOut(Schema):
    household_id: int
    household_number: str
    address: str
    building: str
    unit: str
    floor: int | None
    room: str
    state: str
    closed: bool
    attempts: int
    revisit_due_at: datetime.datetime | None
    persons_total: int


class BodyIn(BaseModel):
    """A part of a request body. Plain pydantic, not ninja's Schema: Schema reads any value by
    its attributes, so `[null]` or `5` would pass as a check with every field at its default."""

    @field_validator("*")
    @classmethod
    def _no_nul_in_text(cls, value):
        return _refuse_nul(value)


class NewPersonIn(BodyIn):
    name: str = Field(max_length=50)
    relation: str = Field("", max_length=20)
    id_number: str = Field("", max_length=32)
    phone: str = Field("", max_length=20)


class PersonCheckIn(BodyIn):
    person_id: RowId | None = None
    new_person: NewPersonIn | None = None
    presence: str = "present"
    whereabouts: str = Field("", max_length=100)
    expected_return: datetime.date | None = None
    # Taken as sent: 365 or 3.65 is refused with the likely value named, never corrected.
    temperature: Decimal | str | None = None
    # A present person without a temperature: why it was not measured (required then).
    temperature_not_measured: str = Field("", max_length=100)
    temperature_recheck: Decimal | str | None = None
    symptoms: list[str] = Field(default_factory=list, max_length=10)
    travel_from: str = Field("", max_length=50)
    returned_on: datetime.date | None = None
    travel_means: str = Field("", max_length=50)
    contact_with_case: bool = False
    notes: str = Field("", max_length=300)


class VisitIn(BodyIn):
    client_uuid: uuid.UUID
    household_id: RowId
    outcome: str
    visited_at: datetime.datetime
    source: str = "field"
    notes: str = Field("", max_length=500)
    person_checks: list[PersonCheckIn] = Field(default_factory=list, max_length=30)

    def to_input(self) -> services.VisitInput:
        checks = []
        for c in self.person_checks:
            data = c.model_dump()
            new_person = data.pop("new_person")
            for name in ("temperature", "temperature_recheck"):
                if isinstance(data[name], Decimal):
                    data[name] = str(data[name])
            checks.append(PersonCheckInput(new_person=new_person, **data))
        source = self.source if self.source in ("field", "phone", "evening") else "field"
        return services.VisitInput(
            household_id=self.household_id,
            outcome=self.outcome,
            visited_at=self.visited_at,
            client_uuid=self.client_uuid,
            person_checks=checks,
            source=source,
            notes=self.notes,
        )


class VisitOut(Schema):
    id: int
    client_uuid: uuid.UUID
    household_id: int
    outcome: str
    created: bool
    state: str


class ErrorOut(Schema):
    detail: str
    field: str = ""


class ValidationIssueOut(Schema):
    type: str
    loc: list[str | int]
    msg: str


class ValidationErrorOut(Schema):
    """The answer (422) of the validation layer to a request that does not fit this schema."""

    detail: list[ValidationIssueOut]


# Besides its own answers every operation with a campaign id may say "not found" (404, which is
# also what out of scope looks like) or refuse a request that does not fit the schema (422).
NOT_FOUND_OR_INVALID: dict[int, Any] = {404: ErrorOut, 422: ValidationErrorOut}


class BatchIn(BodyIn):
    visits: list[VisitIn] = Field(max_length=500)


class BatchItemOut(Schema):
    index: int
    client_uuid: str
    status: str
    visit_id: int | None
    error: str
    field: str


class CoverageRowOut(Schema):
    code: str | None
    name: str
    households: int
    closed: int
    by_state: dict[str, int]
    household_coverage: float
    persons: int
    persons_seen: int
    persons_elsewhere: int
    persons_unknown: int
    persons_flagged: int


class CoverageOut(Schema):
    campaign_id: int
    area: CoverageRowOut
    children: list[CoverageRowOut]


@router.get("/", response=list[CampaignOut], operation_id="campaign_list")
def campaign_list(request):
    return list(selectors.campaigns_visible_to(request.user).order_by("-starts_at")[:100])


@router.get(
    "/{campaign_id}/households",
    response={200: list[HouseholdRowOut], **NOT_FOUND_OR_INVALID},
    operation_id="household_list",
)
@paginate(LimitOffsetPagination)
def worker_households(request, campaign_id: RowId, only: str = ""):
    """The caller's household list in walking order (a worker: their assignment)."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    rows = selectors.worker_household_list(request.user, campaign, only=only)
    return RowsOfPage(rows, _household_row)


PAST_ANY_LIST = 2**62  # fits a 64-bit integer with room for offset + limit


class RowsOfPage:
    """A queryset as the paginator sees it: counted in SQL and sliced before any row is built,
    so a page of a district-wide list reads one page of rows, not the district."""

    def __init__(self, queryset, build):
        self.queryset, self.build = queryset, build

    def all(self):
        return self

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, page: slice) -> list:
        start, stop = page.start or 0, page.stop
        if start >= PAST_ANY_LIST:
            return []  # an offset past any list reads nothing (and no database takes it)
        stop = PAST_ANY_LIST if stop is None else min(stop, PAST_ANY_LIST)
        return [self.build(row) for row in self.queryset[start:stop]]


def _household_row(progress) -> dict:
    h = progress.household
    return {
        "household_id": h.pk,
        "household_number": h.household_number,
        "address": h.address_display,
        "building": h.building,
        "unit": h.unit,
        "floor": h.floor,
        "room": h.room,
        "state": progress.state,
        "closed": progress.closed,
        "attempts": progress.attempts,
        "revisit_due_at": progress.revisit_due_at,
        "persons_total": progress.persons_total,
    }


@router.get(
    "/{campaign_id}/households/{household_id}/members",
    response={200: list[MemberOut], **NOT_FOUND_OR_INVALID},
    operation_id="member_list",
)
def household_members(request, campaign_id: RowId, household_id: RowId):
    campaign = selectors.access_campaign(request.user, campaign_id)
    progress = selectors.access_progress(request.user, campaign, household_id)
    record_read(user=request.user, obj=progress.household, via="api", request=request)
    return [
        {
            "id": p.pk,
            "name": p.name,
            "relation": p.relation,
            "id_number_masked": mask_id_number(p.shown_id_number),
            "phone_masked": mask_phone(p.phone),
            "status": p.status,
            "is_new": p.is_new,
        }
        for p in roster.household_members(request.user, progress.household).order_by("pk")
    ]


@router.post(
    "/{campaign_id}/visits",
    response={
        200: VisitOut,
        201: VisitOut,
        404: ErrorOut,
        409: ErrorOut,
        # A visit the rules refuse names the field; a body that does not fit lists the issues.
        422: ErrorOut | ValidationErrorOut,
    },
    operation_id="visit_submit",
)
def submit_visit(request, campaign_id: RowId, body: VisitIn):
    """Record one visit. Same client_uuid and body again → 200 with the first visit; same
    client_uuid with another body, or another worker's visit → 409; a household outside your
    assignment → 404. Refused writes count against a budget (429 when spent)."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    try:
        visit, created = services.visit_record(
            user=request.user, campaign=campaign, visit=body.to_input(), request=request
        )
    except (services.VisitConflict, services.VisitTaken) as conflict:
        return Status(409, {"detail": str(conflict)})
    except services.VisitRejected as rejected:
        return Status(422, {"detail": rejected.message, "field": rejected.field})
    state = (
        getattr(visit, "progress_state", None)
        or visit.household.progress.get(campaign=campaign).state
    )
    return Status(
        201 if created else 200,
        {
            "id": visit.pk,
            "client_uuid": visit.client_uuid,
            "household_id": visit.household_id,
            "outcome": visit.outcome,
            "created": created,
            "state": state,
        },
    )


@router.post(
    "/{campaign_id}/visits/batch",
    response={200: list[BatchItemOut], **NOT_FOUND_OR_INVALID},
    operation_id="visit_batch_submit",
)
def submit_visit_batch(request, campaign_id: RowId, body: BatchIn):
    """Record up to 500 visits; each item gets its own status: created, duplicate, conflict
    (this UUID, other answers), taken (this UUID, another worker's visit), rejected (with the
    reason), not_found, or throttled (too many refused writes: send it again later). Valid items
    are kept whatever the others do."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    results = services.visit_batch_record(
        user=request.user,
        campaign=campaign,
        visits=[v.to_input() for v in body.visits],
        request=request,
    )
    return [r.__dict__ for r in results]


FormName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_refuse_nul)]
FormValue = Annotated[str, Field(max_length=2000), AfterValidator(_refuse_nul)]


class OutboxRecordIn(BodyIn):
    """A visit the phone kept while offline: the visit form's fields as the page posts them."""

    client_uuid: uuid.UUID
    household_id: RowId
    visited_at: datetime.datetime
    form: list[tuple[FormName, FormValue]] = Field(max_length=400)

    @field_validator("visited_at")
    @classmethod
    def _aware(cls, value: datetime.datetime) -> datetime.datetime:
        # A time without a zone is the phone's local time, which is the district's.
        return value if value.tzinfo else timezone.make_aware(value)

    def to_record(self) -> outbox.OutboxRecord:
        return outbox.OutboxRecord(
            client_uuid=self.client_uuid,
            household_id=self.household_id,
            visited_at=self.visited_at,
            form=[(name, value) for name, value in self.form],
        )


class OutboxIn(BodyIn):
    records: list[OutboxRecordIn] = Field(max_length=200)


@router.post(
    "/{campaign_id}/visits/outbox",
    response={200: list[BatchItemOut], **NOT_FOUND_OR_INVALID},
    operation_id="visit_outbox_submit",
)
def submit_visit_outbox(request, campaign_id: RowId, body: OutboxIn):
    """The field pages' offline outbox: up to 200 visits as their forms were filled in, each
    answered like a batch item (created, duplicate, conflict, taken, rejected, not_found,
    throttled), plus "held": the household was assigned to someone else meanwhile, and the
    record waits for the community admin's decision (never dropped). A record whose household
    someone else screened after it was made is held too, and answered "conflict" with field
    "held"; a "conflict" with field "client_uuid" is a refusal (the UUID names another body)."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    results = outbox.outbox_batch_record(
        user=request.user,
        campaign=campaign,
        records=[r.to_record() for r in body.records],
        request=request,
    )
    return [r.__dict__ for r in results]


@router.get(
    "/{campaign_id}/coverage",
    response={200: CoverageOut, **NOT_FOUND_OR_INVALID},
    operation_id="coverage_read",
)
@stale_ok_reads  # a dashboard's figures: the read replica when there is one
def campaign_coverage(request, campaign_id: RowId, area: NulFreeStr = ""):
    """Coverage of an area (default: your jurisdiction) and of each area below it."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    if area:
        target = get_object_or_404(areas_visible_to(request.user), code=area)
    else:
        target = request.user.jurisdiction_area
        if target is None or not target.path.startswith(campaign.scope_area.path):
            target = campaign.scope_area
    target = selectors.area_in_scope(request.user, campaign, target.pk)
    total, children = coverage.coverage_by_child_area(campaign, target)
    return {
        "campaign_id": campaign.pk,
        "area": _coverage_row(total),
        "children": [_coverage_row(c) for c in children],
    }


def _coverage_row(row: coverage.CoverageRow) -> dict:
    area = row.key if isinstance(row.key, Area) else None
    return {
        "code": area.code if area else None,
        "name": row.label,
        "households": row.households,
        "closed": row.closed,
        "by_state": dict(row.by_state),
        "household_coverage": round(row.household_coverage, 4),
        "persons": row.persons,
        "persons_seen": row.persons_seen,
        "persons_elsewhere": row.persons_elsewhere,
        "persons_unknown": row.persons_unknown,
        "persons_flagged": row.persons_flagged,
    }
