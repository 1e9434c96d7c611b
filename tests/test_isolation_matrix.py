"""The isolation matrix: every role × every URL of the resolver × objects in the user's own grid,
the neighbouring grid (same community), another community, another street and another district.

Nothing outside a user's jurisdiction is readable or writable through any endpoint: detail,
list, empty or foreign filters, search (name, household number, full ID number, phone), lists of
ids (visit batches, visit sheets), counts (coverage, home page) and exports (XLSX read back).
Out-of-scope objects answer 404, and a write to one changes nothing.

How it works: `world` builds one district (the `households` of conftest plus more households,
so that every set of grids a role may see has its own household count), a campaign with
assignments, visits, flagged persons, pending self-reports and import jobs in every grid, and a
second district with its own campaign. `ENDPOINTS` says, for every URL name, how to call it
(methods, data, htmx, API token or session) for a target grid. Each role's test walks the
resolver, runs every call against every target, and collects every leak it finds, so a failure
names the role, the endpoint, the target and what was seen. A URL name the table does not know
fails the suite until someone adds it here.
"""

from __future__ import annotations

import datetime
import io
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pytest
import xlsxwriter
from django.db.models import Q
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import ApiToken, Role, User
from doorstep.accounts.tokens import api_token_create
from doorstep.checkpoints import services as checkpoint_services
from doorstep.checkpoints.matching import forget_indexes
from doorstep.checkpoints.models import Arrival, Checkpoint, CheckpointOfficer, Handoff
from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.models import AuditEvent
from doorstep.followup import services as followup
from doorstep.followup.models import (
    Check,
    Facility,
    HeldCheck,
    KeyPerson,
    Monitoring,
    MonitoringChange,
    Placement,
    PossibleDuplicate,
    Referral,
)
from doorstep.imports.models import ImportJob, ImportKind, ImportRejection, ImportStatus
from doorstep.registry.models import Household, IdReconciliation, Person, RecordChange
from doorstep.registry.services import person_create
from doorstep.screening import services as screening
from doorstep.screening.models import (
    Assignment,
    Campaign,
    HeldVisit,
    HouseholdProgress,
    PersonCheck,
    RiskArea,
    SelfReportToken,
    Visit,
)
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.sheets import COLUMNS

from .factories import (
    HouseholdFactory,
    PersonFactory,
    UserFactory,
    area_tree,
    valid_id_number,
)
from .test_access import all_urls, example_url
from .two_factor import api_key_for

GRIDS = ("G1", "G2", "G3", "G4")
TARGETS = (*GRIDS, "XG1")  # XG1: a grid of another district, out of everybody's scope
# Households per grid: every union of grids a role may see has its own total (2, 5, 10, 19),
# so a count that includes one household too many is caught by its number alone.
HOUSEHOLDS_PER_GRID = {"G1": 2, "G2": 3, "G3": 5, "G4": 9, "XG1": 2}
SENSITIVE_AUDIT = Q(action__startswith="person.reveal") | Q(action__startswith="export.")
SENSITIVE_AUDIT |= Q(action__startswith="import.rejections") | Q(action="assignment.template")


@dataclass(frozen=True)
class RoleCase:
    """A kind of user, the grids it sees, and the grids it is tried on: its own grid, the
    neighbouring grid, another street, and whatever else lies just outside its jurisdiction
    (another community for the admins, another district for the command). Users who see
    nothing are tried on the grid they held (if any) and on one far away."""

    name: str
    role: Role
    area: str | None
    sees: frozenset[str]
    targets: tuple[str, ...]
    active: bool = True


NOBODY: frozenset[str] = frozenset()
ROLE_CASES = [
    RoleCase("command", Role.COMMAND, "D", frozenset(GRIDS), ("G1", "G2", "G4", "XG1")),
    RoleCase("street_admin", Role.STREET_ADMIN, "S1", frozenset(GRIDS[:3]), GRIDS),
    RoleCase("community_admin", Role.COMMUNITY_ADMIN, "C1", frozenset(GRIDS[:2]), GRIDS),
    RoleCase("grid_worker", Role.GRID_WORKER, "G1", frozenset({"G1"}), ("G1", "G2", "G4")),
    RoleCase("checkpoint_officer", Role.CHECKPOINT_OFFICER, None, NOBODY, ("G4",)),
    RoleCase("clinic_staff", Role.CLINIC_STAFF, None, NOBODY, ("G4",)),
    RoleCase("institution_reporter", Role.INSTITUTION_REPORTER, None, NOBODY, ("G4",)),
    RoleCase("no_jurisdiction", Role.COMMUNITY_ADMIN, None, NOBODY, ("G1", "G4")),
    RoleCase("inactive", Role.COMMUNITY_ADMIN, "C1", NOBODY, ("G1", "G4"), active=False),
]
MANAGERS = frozenset({"command", "street_admin", "community_admin"})
FIELD_ROLES = MANAGERS | {"grid_worker"}


# -- the world ---------------------------------------------------------------------------------
@dataclass
class World:
    areas: dict
    campaign: Campaign
    campaign_x: Campaign
    households: dict[str, list[Household]] = field(default_factory=dict)
    persons: dict[str, list[Person]] = field(default_factory=dict)
    workers: dict[str, User] = field(default_factory=dict)
    assignments: dict[str, Assignment] = field(default_factory=dict)
    pending_visits: dict[str, Visit] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, ImportJob] = field(default_factory=dict)
    failed_jobs: dict[str, ImportJob] = field(default_factory=dict)  # resumable
    # A person recorded with the number of a record in the other district, waiting for
    # reconciliation; and an API token of each grid's worker (for revoking and resetting).
    reconciliations: dict[str, IdReconciliation] = field(default_factory=dict)
    worker_tokens: dict[str, ApiToken] = field(default_factory=dict)
    # Follow-up (issue 10): each grid's head is a key person of the grid's worker, with a
    # check, a referral to the grid's fever clinic, a placement at the grid's site, a self-check
    # link, a flagged sweep check and a possible duplicate.
    followup: dict[str, dict] = field(default_factory=dict)
    # Checkpoints: per target grid, a risk arrival handed to the grid's community (its handoff)
    # and an unmatched one waiting for the command, both at a checkpoint of the grid's district.
    arrivals: dict[str, Arrival] = field(default_factory=dict)
    unmatched: dict[str, Arrival] = field(default_factory=dict)
    # A visit recorded offline, held for the community (its household moved meanwhile).
    held: dict[str, HeldVisit] = field(default_factory=dict)
    # A follow-up check recorded offline, held for the community (its key person changed hands).
    held_checks: dict[str, HeldCheck] = field(default_factory=dict)

    def campaign_of(self, key: str) -> Campaign:
        return self.campaign_x if key.startswith("X") else self.campaign

    def household(self, key: str) -> Household:
        return self.households[key][0]

    def head(self, key: str) -> Person:
        return self.persons[key][0]

    def markers(self, key: str) -> dict[str, str]:
        """Everything that would show a grid's residents: names, household numbers, ID numbers
        and phones (full and masked), import file names."""
        found = {}
        for h in self.households[key]:
            found[f"household number {h.household_number}"] = h.household_number
        for p in self.persons[key]:
            found[f"name {p.name}"] = p.name
            if not p.id_number_held:  # a held number is another record's (shown where it is)
                found[f"ID number of {p.name}"] = p.id_number
                found[f"masked ID number of {p.name}"] = mask_id_number(p.id_number)
            if p.phone:
                found[f"phone of {p.name}"] = p.phone
                found[f"masked phone of {p.name}"] = mask_phone(p.phone)
        for job in (self.jobs[key], self.failed_jobs[key]):
            found[f"import file {job.original_name}"] = job.original_name
        for arrivals in (self.arrivals, self.unmatched):
            if key in arrivals:
                found[f"arrival {arrivals[key].name}"] = arrivals[key].name
        return found

    def full_numbers(self) -> dict[str, str]:
        found = {}
        for key in TARGETS:
            for p in self.persons[key]:
                if p.id_number:
                    found[f"full ID number of {p.name}"] = p.id_number
                if p.phone:
                    found[f"full phone of {p.name}"] = p.phone
        return found


def _visit_input(household, checks, *, outcome="screened", minutes_ago=5):
    return screening.VisitInput(
        household_id=household.pk,
        outcome=outcome,
        visited_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
        client_uuid=uuid.uuid4(),
        person_checks=checks,
    )


@pytest.fixture
def world(areas, households) -> World:
    commander = UserFactory(role=Role.COMMAND, jurisdiction_area=areas["D"])
    for key in GRIDS:  # every household exists before the campaign enrols them
        while Household.objects.filter(grid=areas[key]).count() < HOUSEHOLDS_PER_GRID[key]:
            n = Household.objects.filter(grid=areas[key]).count()
            extra = HouseholdFactory(grid=areas[key], household_number=f"HN-{key}-{n}")
            PersonFactory(household=extra, name=f"住户{key}-{n}", relation="户主")
    other = {f"X{k}": v for k, v in area_tree("X").items()}
    other_commander = UserFactory(role=Role.COMMAND, jurisdiction_area=other["XD"])
    for n in range(HOUSEHOLDS_PER_GRID["XG1"]):
        number = "HN-XG1" if n == 0 else f"HN-XG1-{n}"
        household = HouseholdFactory(grid=other["XG1"], household_number=number)
        names = ["户主XG1", "配偶XG1"] if n == 0 else [f"住户XG1-{n}"]
        for name in names:
            PersonFactory(household=household, name=name, relation="户主")
    now = timezone.now()
    window = {
        "starts_at": now - datetime.timedelta(days=1),
        "deadline": now + datetime.timedelta(days=2),
    }
    campaign = screening.campaign_create(
        user=commander, name="全区拉网式摸排", scope_area=areas["D"], **window
    )
    campaign_x = screening.campaign_create(
        user=other_commander, name="邻区摸排", scope_area=other["XD"], **window
    )
    result = World(areas={**areas, **other}, campaign=campaign, campaign_x=campaign_x)
    for key in TARGETS:
        grid = result.areas[key]
        homes = list(Household.objects.filter(grid=grid).order_by("pk"))
        admin = other_commander if key.startswith("X") else commander
        result.households[key] = homes
        result.persons[key] = list(Person.objects.filter(household__in=homes).order_by("pk"))
        _populate_existing(result, key, grid, homes, admin)
    for key in TARGETS:  # after every grid's rows exist: the holders live in the other district
        if key.startswith("X"):
            holder = result.head("G4")
        else:  # one each, in a grid of the other district that no role is tried on
            holder = PersonFactory(household=HouseholdFactory(grid=result.areas["XG2"]))
        admin = other_commander if key.startswith("X") else commander
        newcomer = person_create(
            user=admin,
            household_id=result.household(key).pk,
            data={
                "name": f"待核对{key}",
                "id_type": "resident_id",
                "id_number": holder.id_number,
                "residency": "permanent",
                "status": "active",
            },
        )
        result.persons[key].append(newcomer)
        result.reconciliations[key] = IdReconciliation.objects.get(person=newcomer)
    for key in TARGETS:
        _populate_followup(result, key, other_commander if key.startswith("X") else commander)
    _populate_checkpoints(result)
    return result


def _populate_followup(world: World, key: str, admin) -> None:
    grid, head, worker = world.areas[key], world.head(key), world.workers[key]
    today = timezone.localdate()
    key_person = followup.key_person_add(
        user=worker,
        person=head,
        reasons=[followup.ReasonInput(kind="risk_area_arrival", exposure_date=today)],
        source=followup.SourceInput(kind="manual"),
    )
    followup.check_record(
        user=worker,
        key_person=key_person,
        data=followup.CheckInput(
            client_uuid=uuid.uuid4(), measured_at=timezone.now(), temperature="36.5"
        ),
    )
    clinic = Facility.objects.create(
        name=f"发热门诊{key}", kind="fever_clinic", area=grid, capacity=5
    )
    site = Facility.objects.create(
        name=f"隔离点{key}", kind="isolation_site", area=grid, capacity=5
    )
    referral = followup.referral_open(
        user=worker,
        key_person=key_person,
        temperature=None,
        symptoms=["cough"],
        source=followup.SourceInput(kind="manual"),
        facility=clinic,
    )
    followup.placement_create(user=admin, key_person=key_person, facility=site)
    monitoring = key_person.monitorings.get()
    token = followup.self_check_token_for(monitoring=monitoring)
    twin = Person.objects.create(name=head.name, is_new=True)
    other = followup.key_person_add(
        user=admin,
        person=twin,
        reasons=[followup.ReasonInput(kind="fever_symptoms", exposure_date=today)],
        source=followup.SourceInput(kind="manual"),
        community=grid.parent,
    )
    world.held_checks[key] = HeldCheck.objects.create(
        key_person=key_person,
        sender=worker,
        client_uuid=uuid.uuid4(),
        body_hash="0" * 64,
        measured_at=timezone.now() - datetime.timedelta(minutes=30),
        form=[["temperature", "36.7"], ["outcome", "measured"]],
        reason="reassigned",
    )
    world.followup[key] = {
        "key_person": key_person,
        "other": other,
        "referral": referral,
        "clinic": clinic,
        "site": site,
        "token": token.token,
        "duplicate": PossibleDuplicate.objects.get(key_person=other),
        "flagged": PersonCheck.objects.filter(person=head, flagged=True).first(),
    }


def _populate_checkpoints(world: World) -> None:
    RiskArea.objects.get_or_create(name="湖北")
    forget_indexes()
    for n, key in enumerate(TARGETS):
        grid = world.areas[key]
        district = grid.parent.parent.parent
        checkpoint = Checkpoint.objects.create(
            district=district, code=f"K-{key}", name=f"卡口{key}", kind="highway_exit"
        )
        officer = UserFactory(role=Role.CHECKPOINT_OFFICER, full_name=f"卡口员{key}")
        CheckpointOfficer.objects.create(user=officer, checkpoint=checkpoint)
        occupants = tuple(
            checkpoint_services.OccupantInput(
                client_uuid=uuid.uuid4(),
                name=name,
                # issued in Wuhan (420106): masked, a roster resident's number (500109…) can
                # never look like it, whatever serial the factories have reached
                id_number=valid_id_number(
                    birth=datetime.date(1988, 8, 8), region="420106", n=2 * n + i
                ),
                phone=f"1391234{n:02d}{i:02d}",
                origin="湖北武汉",
                destination=destination,
            )
            for i, (name, destination) in enumerate(
                ((f"到达{key}", grid.parent.name), (f"不明{key}", "无从查找之处"))
            )
        )
        result = checkpoint_services.passage_record(
            user=officer,
            checkpoint=checkpoint,
            passage=checkpoint_services.PassageInput(
                client_uuid=uuid.uuid4(),
                kind="car",
                arrived_at=timezone.now() - datetime.timedelta(minutes=30),
                occupants=occupants,
            ),
        )
        handed, unmatched = (Arrival.objects.get(pk=o.arrival_id) for o in result.occupants)
        assert handed.handoff is not None and handed.handoff.community == grid.parent
        assert unmatched.route == "unmatched"
        world.arrivals[key], world.unmatched[key] = handed, unmatched


def _populate_existing(world: World, key: str, grid, homes, admin) -> None:
    campaign = world.campaign_of(key)
    worker = UserFactory(role=Role.GRID_WORKER, jurisdiction_area=grid, full_name=f"网格员{key}")
    world.workers[key] = worker
    world.worker_tokens[key] = api_token_create(user=worker, name=f"手机{key}")[0]
    world.assignments[key] = screening.assignment_create(
        user=admin, campaign=campaign, worker=worker, grid=grid
    )
    head, spouse = homes[0].persons.order_by("pk")
    screening.visit_record(
        user=worker,
        campaign=campaign,
        visit=_visit_input(
            homes[0],
            [
                PersonCheckInput(person_id=head.pk, temperature="38.6"),  # flagged: fever
                PersonCheckInput(person_id=spouse.pk, temperature="36.5"),
            ],
        ),
    )
    token = screening.self_report_token_for(campaign=campaign, household_id=homes[1].pk)
    member = homes[1].persons.get()
    visit, _created = screening.self_report_submit(
        token=token.token,
        visit=_visit_input(
            homes[1],
            [PersonCheckInput(person_id=member.pk, presence="present", temperature="36.6")],
            minutes_ago=10,
        ),
    )
    world.pending_visits[key], world.tokens[key] = visit, token.token
    world.held[key] = HeldVisit.objects.create(
        campaign=campaign,
        household=homes[0],
        worker=worker,
        client_uuid=uuid.uuid4(),
        body_hash="0" * 64,
        visited_at=timezone.now() - datetime.timedelta(hours=1),
        outcome="not_home",
        form=[["outcome", "not_home"]],
        reason="reassigned",
    )
    job = ImportJob.objects.create(
        kind=ImportKind.ROSTER,
        created_by=admin,
        area=grid,
        original_name=f"名单-{key}.csv",
        stored_path="/nonexistent/roster.csv",
        file_sha256="0" * 64,
        header=["户号", "姓名", "身份证号", "联系电话"],
        status=ImportStatus.DONE,
        rows_total=1,
        rows_done=1,
        rejected_count=1,
    )
    ImportRejection.objects.create(
        job=job,
        row_number=2,
        values=[homes[0].household_number, head.name, head.id_number, head.phone],
        reason="duplicate",
    )
    world.jobs[key] = job
    world.failed_jobs[key] = ImportJob.objects.create(
        kind=ImportKind.ROSTER,
        created_by=admin,
        area=grid,
        original_name=f"中断名单-{key}.csv",
        stored_path="/nonexistent/roster-2.csv",
        file_sha256="1" * 64,
        header=["户号", "姓名"],
        status=ImportStatus.FAILED,
        rows_total=10,
        rows_done=4,
        last_row_committed=5,
        error_message="internal error",
    )


# -- how to call each URL ----------------------------------------------------------------------
@dataclass
class Call:
    """One request. `out` is what an out-of-scope target must answer: "404" (exactly, the
    object looks absent) or "hidden" (any answer, e.g. an ignored filter or a refused form row,
    as long as nothing leaks and nothing changes). `write`: compare the target's rows before and
    after. `shows`: for an in-scope target and a role in `readers`, the answer is a 200 that
    shows this text (the call really reaches the object, so its 404 elsewhere means something).
    """

    method: str
    url: str
    data: dict | None = None
    json: object = None
    htmx: bool = False
    api: bool = False
    write: bool = False
    out: str | None = "404"
    statuses: frozenset[int] | None = None
    shows: str = ""
    readers: frozenset[str] = frozenset(FIELD_ROLES)
    sent: tuple[str, ...] = ()
    public_token: bool = False


def get(url, data=None, **kw) -> Call:
    return Call("get", url, data=data, **kw)


def search(url, text: str, **kw) -> Call:
    """A roster search: by POST, answered (htmx) with the rows; writes only the session."""
    return Call("post", url, data={"q": text}, htmx=True, out="hidden", **kw)


def post(url, data=None, **kw) -> Call:
    return Call("post", url, data=data, **{"write": True, **kw})


def url(name: str, *args, **query) -> str:
    path = reverse(name, args=args)
    return path + (
        "?" + "&".join(f"{k}={quote_plus(str(v))}" for k, v in query.items()) if query else ""
    )


def _sheet(rows: list[list[str]]) -> io.BytesIO:
    """A visit sheet (the columns of the template) with these rows."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, COLUMNS)
    for r, row in enumerate(rows, start=1):
        sheet.write_row(r, 0, row)
    book.close()
    buffer.seek(0)
    buffer.name = "sheet.xlsx"
    return buffer


def _visit_json(household_id: int, person_ids=()) -> dict:
    return {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household_id,
        "outcome": "screened" if person_ids else "not_home",
        "visited_at": (timezone.now() - datetime.timedelta(minutes=3)).isoformat(),
        # the head keeps the fever of the world's visit: the flagged lists stay as they were
        "person_checks": [
            {"person_id": pk, "temperature": "38.6" if i == 0 else "36.4"}
            for i, pk in enumerate(person_ids)
        ],
    }


HIDDEN_WRITE = {"out": "hidden"}


def registry_calls(w: World, t: str) -> dict[str, list[Call]]:
    h, p = w.household(t), w.head(t)
    community = w.areas[t].parent
    person_form = {
        "name": p.name,  # the name stays: later reads of this grid look for it
        "relation": "本人",
        "id_type": "resident_id",
        "id_number": mask_id_number(p.id_number),
        "phone": mask_phone(p.phone),
        "residency": "permanent",
        "status": "active",
    }
    roster = reverse("registry:household_list")
    link = reverse("registry:household_detail", args=[h.pk])
    case = w.reconciliations[t]
    case_url = reverse("registry:reconciliation", args=[case.pk])
    return {
        "registry:household_list": [
            # searches go by POST (no number in a URL); the row is recognised by its link
            search(roster, p.name, shows=link),
            search(roster, h.household_number, shows=link),
            search(roster, p.id_number, shows=link),
            search(roster, p.phone, shows=link),
            get(roster, {"area": community.code}, out="hidden", shows=link),
        ],
        "registry:household_detail": [
            get(reverse("registry:household_detail", args=[h.pk]), shows=h.household_number)
        ],
        "registry:household_edit": [
            get(
                reverse("registry:household_edit", args=[h.pk]),
                shows=p.household.road,
                readers=MANAGERS,
            ),
            post(
                reverse("registry:household_edit", args=[h.pk]),
                {"road": "改名路", "kind": "registered", "status": "occupied"},
            ),
        ],
        "registry:person_create": [
            get(reverse("registry:person_create", args=[h.pk])),
            post(
                reverse("registry:person_create", args=[h.pk]),
                {"name": "新人", "id_type": "none", "residency": "permanent", "status": "active"},
            ),
        ],
        "registry:person_edit": [
            get(reverse("registry:person_edit", args=[p.pk]), shows=p.name, readers=MANAGERS),
            post(reverse("registry:person_edit", args=[p.pk]), person_form),
        ],
        "registry:person_reveal": [
            post(reverse("registry:person_reveal", args=[p.pk, "id_number"]), htmx=True),
            post(reverse("registry:person_reveal", args=[p.pk, "phone"]), htmx=True),
        ],
        "registry:reconciliation": [
            get(case_url, shows=case.person.name, readers=MANAGERS),
            post(case_url, {"decision": "corrected", "id_number": ""}),
            post(case_url, {"decision": "moved"}),
        ],
    }


def import_calls(w: World, t: str) -> dict[str, list[Call]]:
    job = w.jobs[t]
    grid = w.areas[t]
    upload = io.BytesIO("户号,姓名,身份证号\nHN-NEW,新住户,\n".encode())
    upload.name = f"新名单-{t}.csv"
    return {
        "imports:list": [
            get(reverse("imports:list"), out="hidden", shows=job.original_name, readers=MANAGERS)
        ],
        "imports:roster_upload": [
            post(
                reverse("imports:roster_upload"),
                {"area": grid.code, "file": upload},
                **HIDDEN_WRITE,
            )
        ],
        "imports:job": [
            get(reverse("imports:job", args=[job.pk]), shows=job.original_name, readers=MANAGERS)
        ],
        "imports:job_start": [
            post(reverse("imports:job_start", args=[job.pk]), {"column_0": "name"})
        ],
        "imports:job_progress": [get(reverse("imports:job_progress", args=[job.pk]), htmx=True)],
        "imports:job_resume": [post(reverse("imports:job_resume", args=[w.failed_jobs[t].pk]))],
        "imports:job_rejections": [
            get(reverse("imports:job_rejections", args=[job.pk]), {"purpose": "核对"}, write=True),
            post(reverse("imports:job_rejections", args=[job.pk]), {"purpose": "核对"}),
        ],
    }


def screening_calls(w: World, t: str) -> dict[str, list[Call]]:
    c = w.campaign_of(t).pk
    h, head = w.household(t), w.head(t)
    grid, community = w.areas[t], w.areas[t].parent
    a = w.assignments[t].pk
    worker = w.workers[t]
    own_assignment = w.assignments["G1"].pk
    members = [m.pk for m in h.persons.order_by("pk")]
    time_text = timezone.localtime(timezone.now() - datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%d %H:%M"
    )
    sheet_row = [h.household_number, "", "", "", "无人在家", time_text, "", "", "", "", ""]
    field_visit = {"outcome": "not_home", "client_uuid": str(uuid.uuid4())}
    return {
        "screening:campaign_create": [
            post(
                reverse("screening:campaign_create"),
                {
                    "name": f"越权摸排{t}",
                    "kind": "sweep",
                    "scope_area": community.code,
                    "starts_at": "2020-02-01T08:00",
                    "deadline": "2020-02-05T08:00",
                    "max_attempts": 3,
                    "lookback_days": 14,
                },
                out="hidden",
            )
        ],
        "screening:self_report": [
            get(reverse("screening:self_report", args=[w.tokens[t]]), out=None, public_token=True)
        ],
        "screening:campaign_detail": [
            get(url("screening:campaign_detail", c, area=community.code)),
        ],
        "screening:coverage": [get(url("screening:coverage", c, area=grid.code))],
        "screening:coverage_export": [
            post(url("screening:coverage_export", c, area=grid.code), {"purpose": "核对"}),
        ],
        "screening:coverage_list": [
            get(url("screening:coverage_list", c, area=grid.code), shows=head.name),
            get(url("screening:coverage_list", c, area=community.code, worker=worker.pk)),
        ],
        "screening:coverage_list_export": [
            post(
                url("screening:coverage_list_export", c, area=grid.code),
                {"purpose": "核对"},
                shows=h.household_number,
            )
        ],
        "screening:coverage_persons": [
            get(
                url("screening:coverage_persons", c, area=grid.code, which="persons"),
                shows=head.name,
            )
        ],
        "screening:flagged": [get(url("screening:flagged", c, area=grid.code), shows=head.name)],
        "screening:flagged_export": [
            post(
                url("screening:flagged_export", c, area=grid.code),
                {"purpose": "核对"},
                shows=head.name,
            )
        ],
        "screening:paper_forms": [
            get(reverse("screening:paper_forms", args=[c, a])),
            # a purpose in a link prints nothing (a cross-site link must not write the audit)
            get(url("screening:paper_forms", c, a, purpose="核对"), write=True),
            post(
                reverse("screening:paper_forms", args=[c, a]), {"purpose": "核对"}, shows=head.name
            ),
        ],
        "screening:notice_slips": [
            post(reverse("screening:notice_slips", args=[c, a]), {"purpose": "核对"})
        ],
        "screening:assign": [
            get(url("screening:assign", c, area=grid.code), out="hidden"),
            post(
                reverse("screening:assign", args=[c]),
                {"grid": grid.code, "worker": worker.pk, "building": ""},
                out="hidden",
                statuses=frozenset({403, 404}),
            ),
        ],
        "screening:assign_claim": [
            post(
                reverse("screening:assign_claim", args=[c]),
                {"grid": grid.code, "building": "1"},
                out="hidden",
                statuses=frozenset({403, 404}),
            )
        ],
        "screening:field_list": [get(reverse("screening:field_list", args=[c]), out="hidden")],
        "screening:visit": [
            get(reverse("screening:visit", args=[c, h.pk]), shows=head.name),
            post(reverse("screening:visit", args=[c, h.pk]), field_visit),
        ],
        "screening:visit_verify": [
            post(
                reverse(
                    "screening:visit_verify",
                    args=[c, w.pending_visits[t].household_id, w.pending_visits[t].pk],
                )
            )
        ],
        "screening:entry": [
            get(url("screening:entry", c, number=h.household_number), out="hidden"),
            post(
                reverse("screening:entry", args=[c]),
                {
                    "household_id": h.pk,
                    "outcome": "not_home",
                    "visited_at": "09:30",
                    "client_uuid": str(uuid.uuid4()),
                },
            ),
        ],
        "screening:entry_household": [
            get(
                url("screening:entry_household", c, number=h.household_number),
                htmx=True,
                out="hidden",
            )
        ],
        "screening:assignment_template": [
            get(reverse("screening:assignment_template", args=[c, a])),
            post(
                reverse("screening:assignment_template", args=[c, a]),
                {"purpose": "核对"},
                shows=h.household_number,
            ),
        ],
        "screening:assignment_upload": [
            post(
                reverse("screening:assignment_upload", args=[c, a]), {"file": _sheet([sheet_row])}
            ),
            # the worker's own sheet naming this household: a list of ids is not a way in
            post(
                reverse("screening:assignment_upload", args=[w.campaign.pk, own_assignment]),
                {"file": _sheet([sheet_row])},
                out="hidden",
                sent=tuple(sheet_row),
            ),
        ],
        "screening:assignment_upload_report": [
            get(reverse("screening:assignment_upload_report", args=[c, a]))
        ],
        "api:worker_households": [
            get(reverse("api:worker_households", args=[c]), api=True, out="hidden")
        ],
        "api:household_members": [
            get(reverse("api:household_members", args=[c, h.pk]), api=True, shows=head.name)
        ],
        "api:submit_visit": [
            Call(
                "post",
                reverse("api:submit_visit", args=[c]),
                json=_visit_json(h.pk, members),
                api=True,
                write=True,
            )
        ],
        "api:submit_visit_batch": [
            Call(
                "post",
                reverse("api:submit_visit_batch", args=[w.campaign.pk]),
                json={"visits": [_visit_json(w.household("G1").pk), _visit_json(h.pk, members)]},
                api=True,
                write=True,
                out="hidden",
            )
        ],
        "api:campaign_coverage": [get(url("api:campaign_coverage", c, area=grid.code), api=True)],
        # issue 14, offline: the outbox (a household of another grid is not held: not found),
        # the holding list and its decisions
        "api:submit_visit_outbox": [
            Call(
                "post",
                reverse("api:submit_visit_outbox", args=[w.campaign.pk]),
                json={
                    "records": [
                        {
                            "client_uuid": str(uuid.uuid4()),
                            "household_id": h.pk,
                            "visited_at": timezone.now().isoformat(),
                            "form": [["outcome", "not_home"]],
                        }
                    ]
                },
                api=True,
                write=True,
                out="hidden",
            )
        ],
        "screening:held_visits": [
            get(
                url("screening:held_visits", c, state="all"),
                out="hidden",
                shows=h.household_number,
                readers=MANAGERS,
            )
        ],
        "screening:held_visit_decide": [
            post(
                reverse("screening:held_visit_decide", args=[c, w.held[t].pk]),
                {"decision": "reject", "note": "核对"},
            ),
            post(
                reverse("screening:held_visit_decide", args=[c, w.held[t].pk]),
                {"decision": "reassign", "worker": w.workers[t].pk},
            ),
        ],
    }


def account_calls(w: World, t: str) -> dict[str, list[Call]]:
    grid = w.areas[t]
    sheet = io.BytesIO(
        f"用户名,姓名,角色,区域代码,手机号\nnew-{t},新网格员,网格员,{grid.code},\n".encode()
    )
    sheet.name = "accounts.csv"
    worker = w.workers[t]
    user_url = reverse("accounts:user_detail", args=[worker.pk])
    token = w.worker_tokens[t]
    return {
        "accounts:users_import": [
            post(
                reverse("accounts:users_import"), {"file": sheet}, out="hidden", sent=(f"new-{t}",)
            )
        ],
        # the worker of the grid: managed by the admins above it, nobody else
        "accounts:user_detail": [
            get(user_url, shows=worker.username, readers=MANAGERS),
            post(user_url, {"action": "revoke", "token": token.pk}),
            post(user_url, {"action": "deactivate"}),
            post(user_url, {"action": "password"}),
        ],
        # someone else's token is nobody's to revoke or renew from their own tokens page
        "accounts:tokens": [
            post(reverse("accounts:tokens"), {"token": token.pk, "action": "revoke"}),
            post(reverse("accounts:tokens"), {"token": token.pk, "action": "renew"}),
        ],
    }


def checkpoint_calls(w: World, t: str) -> dict[str, list[Call]]:
    arrival, unmatched = w.arrivals[t], w.unmatched[t]
    handoff = arrival.handoff
    community = w.areas[t].parent
    checkpoint = arrival.checkpoint_id
    occupant = {
        "client_uuid": str(uuid.uuid4()),
        "name": "越权到达",
        "origin": "湖北",
        "destination": community.name,
    }
    vehicle = {
        "client_uuid": str(uuid.uuid4()),
        "kind": "car",
        "arrived_at": (timezone.now() - datetime.timedelta(minutes=3)).isoformat(),
        "occupants": [occupant],
    }
    form = {
        "client_uuid": str(uuid.uuid4()),
        "kind": "car",
        "o-client_uuid": str(uuid.uuid4()),
        "o-name": "越权到达",
        "o-destination": community.name,
    }
    handoff_api = {
        name: reverse(f"api:handoff_{name}", args=[handoff.pk])
        for name in ("accept", "not_found", "reroute")
    }
    return {
        "checkpoints:entry": [
            get(reverse("checkpoints:entry", args=[checkpoint])),
            post(reverse("checkpoints:entry", args=[checkpoint]), form),
        ],
        "checkpoints:arrivals": [
            get(
                url("checkpoints:arrivals", community=community.pk, f="handed_off"),
                out="hidden",
                shows=arrival.name,
                readers=MANAGERS,
            )
        ],
        "checkpoints:arrival": [
            get(
                reverse("checkpoints:arrival", args=[arrival.pk]),
                shows=arrival.name,
                readers=MANAGERS,
            ),
            get(reverse("checkpoints:arrival", args=[unmatched.pk])),
        ],
        "checkpoints:inbox": [
            get(
                url("checkpoints:inbox", f="all"),
                out="hidden",
                shows=arrival.name,
                readers=MANAGERS,
            )
        ],
        "checkpoints:handoff": [
            get(
                reverse("checkpoints:handoff", args=[handoff.pk]),
                shows=arrival.name,
                readers=MANAGERS,
            ),
            post(
                reverse("checkpoints:handoff", args=[handoff.pk]),
                {"action": "not_found", "reason": "never_arrived"},
            ),
            post(
                reverse("checkpoints:handoff", args=[handoff.pk]),
                {"action": "reroute", "community": community.code},
            ),
        ],
        "checkpoints:unmatched": [
            post(
                reverse("checkpoints:unmatched"),
                {"arrival": unmatched.pk, "community": community.code},
            )
        ],
        "api:arrival_submit": [
            Call(
                "post",
                reverse("api:arrival_submit", args=[checkpoint]),
                json=vehicle,
                api=True,
                write=True,
            )
        ],
        "api:arrival_batch_submit": [
            Call(
                "post",
                reverse("api:arrival_batch_submit", args=[checkpoint]),
                json={"passages": [vehicle]},
                api=True,
                write=True,
            )
        ],
        "api:handoff_list": [
            get(url("api:handoff_list", status=""), api=True, out="hidden", readers=MANAGERS)
        ],
        "api:handoff_accept": [Call("post", handoff_api["accept"], json={}, api=True, write=True)],
        "api:handoff_not_found": [
            Call(
                "post",
                handoff_api["not_found"],
                json={"reason": "other", "note": "越权"},
                api=True,
                write=True,
            )
        ],
        "api:handoff_reroute": [
            Call(
                "post",
                handoff_api["reroute"],
                json={"community_code": community.code},
                api=True,
                write=True,
            )
        ],
    }


def command_calls(w: World, t: str) -> dict[str, list[Call]]:
    """The command center (issue 12): briefs, their lists and exports of the target's grid, and a
    bulletin of the target's district (command staff only)."""
    from doorstep.command.models import Bulletin

    grid = w.areas[t]
    district = w.areas["XD" if t.startswith("X") else "D"]
    author = User.objects.filter(role=Role.COMMAND, jurisdiction_area=district).first()
    bulletin, _created = Bulletin.objects.get_or_create(
        district=district,
        day=timezone.localdate(),
        version=1,
        defaults={"title": f"通报{district.code}", "body": "正文", "author": author},
    )
    section = f"sweep.{w.campaign_of(t).pk}"
    return {
        "command:brief": [
            get(url("command:brief", area=grid.code), shows=grid.name, readers=MANAGERS)
        ],
        "command:brief_list": [
            get(
                url("command:brief_list", area=grid.code, section=section, list="all"),
                shows=w.household(t).household_number,
                readers=MANAGERS,
            )
        ],
        "command:brief_export": [
            post(url("command:brief_export", area=grid.code), {"purpose": "分析研判"})
        ],
        "command:brief_print": [
            get(url("command:brief_print", area=grid.code), shows=grid.name, readers=MANAGERS)
        ],
        "command:daily": [get(url("command:daily", area=grid.code))],
        "command:bulletin": [
            get(
                reverse("command:bulletin", args=[bulletin.pk]),
                shows=bulletin.title,
                readers=frozenset({"command"}),
            ),
            post(reverse("command:bulletin", args=[bulletin.pk]), {"action": "approve"}),
        ],
    }


def _get_if_routed(name: str) -> list[Call]:
    try:
        return [get(reverse(name))]
    except NoReverseMatch:  # a step of two-factor login that is not routed (yet)
        return []


def once_calls(w: World) -> dict[str, list[Call]]:
    """Calls that name no object: lists, empty filters, forms, API roots."""
    c = w.campaign.pk
    roster = reverse("registry:household_list")
    return {
        "home": [get("/")],
        "healthz": [get("/healthz")],
        "screening:service_worker": [get(reverse("screening:service_worker"))],
        "followup:service_worker": [get(reverse("followup:service_worker"))],
        "set_language": [
            post(reverse("set_language"), {"language": "zh-hans", "next": "/"}, write=False)
        ],
        "accounts:login": [get(reverse("accounts:login"))],
        "accounts:logout": [get(reverse("accounts:logout"))],  # POST would end the session
        "accounts:password_change": [get(reverse("accounts:password_change"))],
        "accounts:password_change_done": [get(reverse("accounts:password_change_done"))],
        "accounts:two_factor_verify": _get_if_routed("accounts:two_factor_verify"),
        "accounts:two_factor_enrol": _get_if_routed("accounts:two_factor_enrol"),
        "accounts:users_import": [get(reverse("accounts:users_import"))],
        "accounts:tokens": [get(reverse("accounts:tokens"))],
        "accounts:users": [get(reverse("accounts:users"))],
        "registry:household_list": [
            get(roster),
            get(roster, {"q": "", "area": "", "grid": ""}),
            get(roster, {"page": "2", "s": "made-up"}),
            search(roster, "户主"),
            search(roster, ""),
        ],
        "registry:reconciliations": [get(reverse("registry:reconciliations"))],
        "imports:list": [get(reverse("imports:list"))],
        "imports:roster_upload": [get(reverse("imports:roster_upload"))],
        "screening:campaign_list": [get(reverse("screening:campaign_list"))],
        "screening:campaign_create": [get(reverse("screening:campaign_create"))],
        "screening:risk_areas": [get(reverse("screening:risk_areas"))],
        "screening:campaign_detail": [get(reverse("screening:campaign_detail", args=[c]))],
        "screening:coverage": [get(url("screening:coverage", c, area=""))],
        "screening:coverage_list": [
            get(url("screening:coverage_list", c, state="", worker="none"))
        ],
        "screening:coverage_persons": [get(url("screening:coverage_persons", c, which="x"))],
        "screening:flagged": [get(url("screening:flagged", c))],
        "screening:field_list": [get(url("screening:field_list", c, f="all"))],
        "screening:entry": [get(url("screening:entry", c, number=""))],
        "api:openapi-json": [get(reverse("api:openapi-json"), api=True)],
        "api:openapi-view": [get(reverse("api:openapi-view"))],
        "api:me": [get(reverse("api:me"), api=True)],
        "api:api-root": [get(reverse("api:api-root"), api=True)],
        "api:campaign_list": [get(reverse("api:campaign_list"), api=True)],
        "api:worker_households": [get(url("api:worker_households", c, only=""), api=True)],
        "api:campaign_coverage": [get(url("api:campaign_coverage", c, area=""), api=True)],
        "checkpoints:home": [get(reverse("checkpoints:home"))],
        "checkpoints:arrivals": [get(url("checkpoints:arrivals", f="all"))],
        "checkpoints:inbox": [get(url("checkpoints:inbox", f="overdue"))],
        "checkpoints:unmatched": [get(reverse("checkpoints:unmatched"), out="hidden")],
        "checkpoints:handed_out_export": [
            get(reverse("checkpoints:handed_out_export")),
            post(reverse("checkpoints:handed_out_export"), {"purpose": "移交邻区"}, write=False),
        ],
        "api:handoff_list": [get(url("api:handoff_list", status="pending"), api=True)],
        "command:brief": [
            get(reverse("command:brief")),
            get(url("command:brief", date="1999-01-01")),
        ],
        "command:brief_list": [get(url("command:brief_list", section="sweep.0", list="all"))],
        "command:brief_export": [get(reverse("command:brief_export"))],
        "command:brief_print": [get(reverse("command:brief_print"))],
        "command:daily": [get(reverse("command:daily"))],
        "command:bulletins": [get(reverse("command:bulletins"))],
        "command:exchange_dhis2": [get(reverse("command:exchange_dhis2"))],
        "command:exchange_adx": [get(reverse("command:exchange_adx"))],
        "command:exchange_fhir_beds": [get(reverse("command:exchange_fhir_beds"))],
        "bulletin_public_list": [get(reverse("bulletin_public_list"))],
        "bulletin_public": [get(reverse("bulletin_public", args=[999999]))],
        "bulletin_feed_json": [get(reverse("bulletin_feed_json"))],
        "bulletin_feed_atom": [get(reverse("bulletin_feed_atom"))],
        "followup:today": [get(reverse("followup:today"))],
        "followup:paper": [
            get(reverse("followup:paper")),
            get(url("followup:paper", day="2020-02-01")),
        ],
        "followup:check_sheet": [get(reverse("followup:check_sheet"))],
        "followup:key_persons": [get(reverse("followup:key_persons"))],
        "followup:key_persons_export": [get(reverse("followup:key_persons_export"))],
        "followup:key_person_create": [get(reverse("followup:key_person_create"))],
        "followup:from_flags": [get(reverse("followup:from_flags"))],
        "followup:duplicates": [get(reverse("followup:duplicates"))],
        "followup:settings": [get(reverse("followup:settings"))],
        "followup:referrals": [get(reverse("followup:referrals"))],
        "followup:facilities": [get(reverse("followup:facilities"))],
        "followup:counts": [get(reverse("followup:counts"))],
        "followup:count_list": [get(url("followup:count_list", figure="lost"))],
        "followup:count_export": [get(reverse("followup:count_export"))],
        "api:check_due_list": [get(reverse("api:check_due_list"), api=True)],
        "api:referral_list": [get(reverse("api:referral_list"), api=True)],
    }


def followup_calls(w: World, t: str) -> dict[str, list[Call]]:
    f = w.followup[t]
    kp, head, grid = f["key_person"], w.head(t), w.areas[t]
    followers = FIELD_ROLES
    check = {
        "client_uuid": str(uuid.uuid4()),
        "measured_at": (timezone.now() - datetime.timedelta(minutes=1)).isoformat(),
        "temperature": "36.6",
    }
    own_kp = w.followup["G1"]["key_person"].pk
    area_q = {"area": grid.code}
    return {
        "followup:key_person": [
            get(reverse("followup:key_person", args=[kp.pk]), shows=head.name, readers=followers)
        ],
        "followup:check": [
            get(reverse("followup:check", args=[kp.pk]), shows=head.name, readers=followers),
            post(
                reverse("followup:check", args=[kp.pk]),
                {"client_uuid": str(uuid.uuid4()), "temperature": "36.7", "outcome": "measured"},
            ),
        ],
        "followup:key_person_action": [
            post(
                reverse("followup:key_person_action", args=[kp.pk]),
                {"action": "extend", "days": "2", "reason": "越权"},
            )
        ],
        "followup:release_slip": [
            post(reverse("followup:release_slip", args=[kp.pk]), {"purpose": "核对"})
        ],
        "followup:self_check_card": [
            post(reverse("followup:self_check_card", args=[kp.pk]), {"purpose": "核对"})
        ],
        "followup:referral_action": [
            post(
                reverse("followup:referral_action", args=[f["referral"].pk]),
                {"action": "outcome", "outcome": "excluded"},
            )
        ],
        "followup:facility": [
            get(
                reverse("followup:facility", args=[f["site"].pk]),
                shows=head.name,
                readers=followers,
            )
        ],
        "followup:self_check": [
            get(reverse("followup:self_check", args=[f["token"]]), out=None, public_token=True)
        ],
        "followup:key_persons": [
            get(url("followup:key_persons", **area_q), shows=head.name, readers=followers)
        ],
        "followup:key_persons_export": [
            post(url("followup:key_persons_export", **area_q), {"purpose": "核对"}, shows=head.name)
        ],
        "followup:counts": [get(url("followup:counts", **area_q))],
        "followup:count_list": [
            get(
                url("followup:count_list", figure="under", **area_q),
                shows=head.name,
                readers=MANAGERS,
            )
        ],
        "followup:count_export": [
            post(url("followup:count_export", figure="under", **area_q), {"purpose": "核对"})
        ],
        "followup:from_flags": [
            get(url("followup:from_flags", **area_q), out="hidden"),
            post(reverse("followup:from_flags"), {"check": f["flagged"].pk if f["flagged"] else 0}),
        ],
        "followup:duplicates": [
            post(reverse("followup:duplicates"), {"case": f["duplicate"].pk, "decision": "apart"})
        ],
        # issue 14, point 7: checks recorded offline for a key person who changed hands
        "followup:held_checks": [
            get(
                url("followup:held_checks", state="all"),
                out="hidden",
                shows=head.name,
                readers=MANAGERS,
            )
        ],
        "followup:held_check_decide": [
            post(
                reverse("followup:held_check_decide", args=[w.held_checks[t].pk]),
                {"decision": "accept"},
            ),
            post(
                reverse("followup:held_check_decide", args=[w.held_checks[t].pk]),
                {"decision": "discard", "note": "核对"},
            ),
        ],
        "api:check_submit": [
            Call(
                "post",
                reverse("api:check_submit", args=[kp.pk]),
                json=check,
                api=True,
                write=True,
            )
        ],
        "api:check_batch_submit": [
            Call(
                "post",
                reverse("api:check_batch_submit"),
                json={
                    "checks": [
                        {
                            "key_person_id": own_kp,
                            "check": {**check, "client_uuid": str(uuid.uuid4())},
                        },
                        {
                            "key_person_id": kp.pk,
                            "check": {**check, "client_uuid": str(uuid.uuid4())},
                        },
                    ]
                },
                api=True,
                write=True,
                out="hidden",
            )
        ],
        # issue 14, offline: checks kept on the phone, as the check page's form was filled in
        "api:check_outbox_submit": [
            Call(
                "post",
                reverse("api:check_outbox_submit"),
                json={
                    "records": [
                        {
                            "client_uuid": str(uuid.uuid4()),
                            "key_person_id": pk,
                            "measured_at": check["measured_at"],
                            "form": [["temperature", "36.6"], ["outcome", "measured"]],
                        }
                        for pk in (own_kp, kp.pk)
                    ]
                },
                api=True,
                write=True,
                out="hidden",
            )
        ],
        "api:key_person_create": [
            Call(
                "post",
                reverse("api:key_person_create"),
                json={
                    "community": grid.parent.code,
                    "name": head.name,
                    "id_number": head.id_number,
                    "reasons": [
                        {"kind": "other", "exposure_date": str(timezone.localdate()), "detail": "x"}
                    ],
                },
                api=True,
                write=True,
                sent=(head.id_number,),
            )
        ],
        "api:referral_arrival": [
            Call(
                "post",
                reverse("api:referral_arrival", args=[f["referral"].pk]),
                json={},
                api=True,
                write=True,
            )
        ],
        "api:referral_outcome": [
            Call(
                "post",
                reverse("api:referral_outcome", args=[f["referral"].pk]),
                json={"outcome": "excluded"},
                api=True,
                write=True,
            )
        ],
    }


TARGET_TABLES: list[Callable[[World, str], dict[str, list[Call]]]] = [
    registry_calls,
    import_calls,
    screening_calls,
    account_calls,
    checkpoint_calls,
    command_calls,
    followup_calls,
]


# -- running the matrix ------------------------------------------------------------------------
def body_text(response) -> str:
    """What a person would read: HTML or text as is, JSON with its Chinese unescaped, the cells
    of a workbook."""
    data = b"".join(response.streaming_content) if response.streaming else response.content
    if data[:2] == b"PK":
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        cells = []
        for name in book.sheet_names:
            for row in book.get_sheet_by_name(name).to_python():
                cells.extend(
                    str(int(v) if isinstance(v, float) and v.is_integer() else v) for v in row
                )
        return "\n".join(cells)
    text = data.decode("utf-8", "replace")
    if "json" in response.get("Content-Type", ""):
        try:
            return json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text


def without_echoes(text: str, call: Call) -> str:
    """The answer minus what the request itself carried (a search box keeps its query, the
    language switch carries the page's URL): an echo shows the caller nothing new."""
    sent = [v for v in (call.data or {}).values() if isinstance(v, str | int)]
    sent += [v for _k, v in parse_qsl(urlsplit(call.url).query)]
    sent += list(call.sent)
    for value in sorted({str(v) for v in sent if len(str(v)) >= 4}, key=len, reverse=True):
        for form in (value, quote(value), quote_plus(value)):
            text = text.replace(form, "")
    return text


def target_rows(world: World, key: str) -> dict[str, list]:
    """Every row that belongs to a target grid, for comparing before and after a write."""
    grid = world.areas[key]
    homes = [h.pk for h in world.households[key]]
    refs = Q(object_type="registry.household", object_id__in=[str(pk) for pk in homes])
    refs |= Q(object_type="registry.person", object_id__in=[str(p.pk) for p in world.persons[key]])
    jobs = [str(world.jobs[key].pk), str(world.failed_jobs[key].pk)]
    refs |= Q(object_type="imports.importjob", object_id__in=jobs)
    tables = {
        "households": Household.objects.filter(pk__in=homes),
        "persons": Person.objects.filter(Q(household__in=homes) | Q(household__grid=grid)),
        "history": RecordChange.objects.filter(household__in=homes),
        "visits": Visit.objects.filter(household__in=homes),
        "checks": PersonCheck.objects.filter(visit__household__in=homes),
        "progress": HouseholdProgress.objects.filter(household__in=homes),
        "assignments": Assignment.objects.filter(grid=grid),
        "tokens": SelfReportToken.objects.filter(household__in=homes),
        "held visits": HeldVisit.objects.filter(household__in=homes),
        "import jobs": ImportJob.objects.filter(area=grid),
        "campaigns": Campaign.objects.filter(scope_area__in=[grid, grid.parent]),
        "users": User.objects.filter(jurisdiction_area=grid).exclude(pk=world.workers[key].pk),
        "the grid's worker": User.objects.filter(pk=world.workers[key].pk),
        "api tokens": ApiToken.objects.filter(user=world.workers[key]),
        "reconciliations": IdReconciliation.objects.filter(person__household__in=homes),
        "arrivals": Arrival.objects.filter(
            pk__in=[a.pk for a in (world.arrivals[key], world.unmatched[key])]
        ),
        "handoffs": Handoff.objects.filter(pk=world.arrivals[key].handoff_id),
        "checkpoint passages": Arrival.objects.filter(checkpoint=world.arrivals[key].checkpoint),
        "audit": AuditEvent.objects.filter(refs | SENSITIVE_AUDIT),
        "key persons": KeyPerson.objects.filter(community=grid.parent, person__household__in=homes),
        "monitorings": Monitoring.objects.filter(key_person__person__household__in=homes),
        "monitoring history": MonitoringChange.objects.filter(
            monitoring__key_person__person__household__in=homes
        ),
        "follow-up checks": Check.objects.filter(
            monitoring__key_person__person__household__in=homes
        ),
        "referrals": Referral.objects.filter(key_person__person__household__in=homes),
        "placements": Placement.objects.filter(facility__area=grid),
        "duplicates": PossibleDuplicate.objects.filter(other__person__household__in=homes),
        "held checks": HeldCheck.objects.filter(key_person__person__household__in=homes),
    }
    return {name: list(rows.order_by("pk").values()) for name, rows in tables.items()}


def refused_statuses(case: RoleCase, call: Call) -> set[int] | None:
    """What an out-of-scope target may answer; None: anything below 500."""
    if not case.active:
        return {302, 401, 404}  # logged out by deactivation: the login page, or "who are you"
    if call.out == "404":
        return {404}
    return set(call.statuses) if call.statuses else None


@dataclass
class Matrix:
    case: RoleCase
    world: World
    session: Client
    bearer: Client
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    # The rows of a target as the last write to it left them: the next write's "before".
    snapshots: dict[str, dict] = field(default_factory=dict)
    _forbidden: dict = field(default_factory=dict)

    def fail(self, name: str, target: str | None, call: Call, how: str, problem: str) -> None:
        where = f"target {target}" if target else "no target"
        data = {k: v for k, v in (call.data or {}).items() if isinstance(v, str | int)}
        request = f"{call.method.upper()} {call.url} {data or ''} ({how})"
        self.failures.append(f"[{self.case.name}] {name} ({where}) {request}: {problem}")

    def forbidden(self, call: Call, name: str) -> dict[str, str]:
        key = (call.public_token, name == "registry:person_reveal")
        if key not in self._forbidden:
            self._forbidden[key] = self._markers_not_to_show(call, name)
        return self._forbidden[key]

    def _markers_not_to_show(self, call: Call, name: str) -> dict[str, str]:
        hidden = [g for g in TARGETS if g not in self.case.sees or call.public_token]
        found = {
            f"{label} ({g})": marker
            for g in hidden
            for label, marker in self.world.markers(g).items()
        }
        if name != "registry:person_reveal":
            found.update(self.world.full_numbers())
        return found

    def send(self, call: Call, client: Client):
        extra = {"HTTP_HX_REQUEST": "true"} if call.htmx else {}
        self.requests += 1
        if call.json is not None:
            body = json.dumps(call.json)
            return client.post(call.url, body, content_type="application/json", **extra)
        for value in (call.data or {}).values():
            if hasattr(value, "seek"):
                value.seek(0)
        return getattr(client, call.method)(call.url, call.data or {}, **extra)

    def run(self, name: str, target: str | None, call: Call) -> None:
        ways = (
            [("bearer token", self.bearer), ("session", self.session)]
            if call.api
            else [("session", self.session)]
        )
        out_of_scope = target is not None and target not in self.case.sees
        for how, client in ways:
            before = None
            if out_of_scope and call.write:
                before = self.snapshots.pop(target, None) or target_rows(self.world, target)
            elif call.write:
                self.snapshots.clear()  # a write in scope may move rows the snapshots hold
            response = self.send(call, client)
            status = response.status_code
            text = without_echoes(body_text(response), call)
            problems = []
            leaks = sorted(
                label for label, marker in self.forbidden(call, name).items() if marker in text
            )
            if leaks:
                problems.append(f"{status}, shows {', '.join(leaks[:6])}")
            if status >= 500:
                problems.append(f"server error {status}")
            if out_of_scope and call.out is not None:
                allowed = refused_statuses(self.case, call)
                if allowed is not None and status not in allowed:
                    problems.append(f"answered {status}, expected {sorted(allowed)}")
                location = response.get("Location", "") if status == 302 else "/accounts/login/"
                if not self.case.active and "/accounts/login/" not in location:
                    problems.append(f"redirected to {location}, not to the login page")
            if before is not None:
                after = self.snapshots[target] = target_rows(self.world, target)
                changed = [table for table in before if before[table] != after[table]]
                if changed:
                    problems.append(f"changed {', '.join(changed)} of {target}")
            reader = target is not None and not out_of_scope and self.case.name in call.readers
            if reader and call.shows and (status != 200 or call.shows not in text):
                problems.append(f"in scope but {status} without {call.shows!r}")
            for problem in problems:
                self.fail(name, target, call, how, problem)

    def check_admin(self, name: str, converters: dict) -> None:
        """The Django admin is for staff: everyone here is sent to its login page."""
        try:
            path = example_url(name, converters)
        except NoReverseMatch:
            return  # the admin's regex catch-alls: its named routes stand for them
        self.requests += 1
        response = self.session.get(path)
        allowed = {200, 302} if name == "admin:login" else {302, 404, 405}
        ok = response.status_code in allowed and "/admin/" in response.get("Location", "/admin/")
        if not ok:
            self.failures.append(f"[{self.case.name}] {name} GET {path}: {response.status_code}")


def url_names() -> dict[str, dict]:
    return {name: converters for name, _view, converters in all_urls()}


def tables_for(world: World) -> tuple[dict[str, dict[str, list[Call]]], dict[str, list[Call]]]:
    """({url name: {target: calls}}, {url name: calls without a target})."""
    per_target: dict[str, dict[str, list[Call]]] = {}
    for key in TARGETS:
        for table in TARGET_TABLES:
            for name, calls in table(world, key).items():
                per_target.setdefault(name, {})[key] = calls
    return per_target, once_calls(world)


def _clients(case: RoleCase, world: World, client_for) -> tuple[Client, Client]:
    if case.role == Role.GRID_WORKER:
        session = Client()  # the worker who holds the whole of G1 in the campaign
        session.force_login(world.workers["G1"])
        user = world.workers["G1"]
    else:
        session = client_for(case.role, case.area, is_active=case.active)
        user = session.user
    key = api_key_for(user, "matrix")
    return session, Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def _context_value(response, key):
    return (
        response.context[key] if response.context is not None and key in response.context else None
    )


def check_counts(matrix: Matrix) -> None:
    """Every count a role reads equals what its grids hold: not one household more."""
    case, world, session = matrix.case, matrix.world, matrix.session
    households = sum(HOUSEHOLDS_PER_GRID[g] for g in case.sees)
    persons = sum(len(world.persons[g]) for g in case.sees)
    c = world.campaign.pk
    problems = []
    home = session.get("/")
    if case.active:
        seen = (_context_value(home, "household_count"), _context_value(home, "person_count"))
        if seen != (households, persons):
            problems.append(f"home page counts {seen}, expected {(households, persons)}")
    listed = session.get(reverse("screening:campaign_list"))
    campaigns = {x.pk: x for x in (_context_value(listed, "campaigns") or [])}
    if world.campaign_x.pk in campaigns:
        problems.append("the other district's campaign is listed")
    if case.sees:
        total = campaigns[c].figures["total"] if c in campaigns else None
        if total != households:
            problems.append(f"campaign list counts {total} households, expected {households}")
        coverage = session.get(reverse("screening:campaign_detail", args=[c]))
        counted = (
            coverage.context["total"]["row"].households if coverage.status_code == 200 else None
        )
        if counted != households:
            problems.append(f"coverage page counts {counted}, expected {households}")
        rows = session.get(reverse("screening:coverage_list", args=[c]))
        counted = rows.context["page"].paginator.count if rows.status_code == 200 else None
        if counted != households:
            problems.append(f"coverage list has {counted} rows, expected {households}")
        api = matrix.bearer.get(reverse("api:campaign_coverage", args=[c])).json()
        if api.get("area", {}).get("households") != households:
            problems.append(f"API coverage counts {api}, expected {households}")
        api = matrix.bearer.get(reverse("api:worker_households", args=[c])).json()
        if api.get("count") != households:
            problems.append(
                f"API household list has {api.get('count')} rows, expected {households}"
            )
    else:
        for path in (
            reverse("screening:campaign_detail", args=[c]),
            reverse("screening:coverage_list", args=[c]),
        ):
            status = session.get(path).status_code
            if status not in ({404} if case.active else {302}):
                problems.append(f"{path} answered {status} to a user who sees nothing")
        status = matrix.bearer.get(reverse("api:campaign_coverage", args=[c])).status_code
        if status not in (401, 404):
            problems.append(f"API coverage answered {status} to a user who sees nothing")
    matrix.failures += [f"[{case.name}] counts: {p}" for p in problems]


def test_the_matrix_knows_every_url(world):
    per_target, once = tables_for(world)
    known = set(per_target) | set(once)
    unknown = sorted(n for n in url_names() if not n.startswith("admin:") and n not in known)
    assert unknown == [], (
        f"add these URL names to tests/test_isolation_matrix.py (how to call them for a target "
        f"grid, or without one): {unknown}"
    )


@pytest.mark.parametrize("case", ROLE_CASES, ids=[c.name for c in ROLE_CASES])
def test_nothing_out_of_scope_is_readable_or_writable(case, world, client_for):
    session, bearer = _clients(case, world, client_for)
    matrix = Matrix(case=case, world=world, session=session, bearer=bearer)
    check_counts(matrix)
    per_target, once = tables_for(world)
    names = sorted(url_names().items())
    for name, converters in names:
        # The admin guards every route with one wrapper: the command (the widest non-staff
        # account) tries them all, everyone else its front door.
        if name.startswith("admin:") and (case.name == "command" or name == "admin:index"):
            matrix.check_admin(name, converters)
        for call in once.get(name, []):
            matrix.run(name, None, call)
    for target in case.targets:  # in-scope grids first, then the others
        # Beyond the own grid, in-scope grids are only read (does the call reach them at all?);
        # every call, writes included, goes to the own grid and to each out-of-scope one.
        # Reads come before writes, so that they find the target as the world made it.
        reads_only = target in case.sees and target != "G1"
        calls = [
            (name, call)
            for name, _converters in names
            for call in per_target.get(name, {}).get(target, [])
            if call.shows or not reads_only
        ]
        for name, call in sorted(calls, key=lambda item: item[1].write):
            matrix.run(name, target, call)
    assert matrix.requests > 80
    assert matrix.failures == [], "\n".join(matrix.failures)
