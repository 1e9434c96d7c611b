"""Crash safety: SIGKILL during a roster import and during a stream of visit submissions.

Nothing acknowledged is lost, nothing is half written, and running the work again (a resumed
import, a new import of the same file, resent visits) reaches the same end state as if nothing
had happened. The work runs in real child processes (`manage.py import_roster`, gunicorn) on the
test database; the test process only prepares data, watches, kills and checks.
"""

import csv
import datetime
import hashlib
import http.client
import io
import queue
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from stdnum.cn import ric

from doorstep.accounts.models import Role
from doorstep.accounts.services import api_token_create
from doorstep.core.models import AuditEvent
from doorstep.demo.generator import HEADER, RosterGenerator
from doorstep.demo.services import demo_areas_create
from doorstep.imports.models import ImportJob, ImportRejection, ImportStatus
from doorstep.registry.models import Household, Person, RecordChange
from doorstep.screening.models import PersonCheck, Visit
from doorstep.screening.services import assignment_create
from tests.factories import open_district_campaign

from .crash_helpers import (
    PATIENCE_S,
    PYTHON,
    Children,
    child_env,
    free_port,
    request_json,
    start_server,
    wait_for_a_write_transaction,
    wait_until_serving,
    write_transaction_open,
)
from .factories import HouseholdFactory, PersonFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def children(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    running = Children(logs)
    yield running
    running.kill_all()


# -- the roster import ------------------------------------------------------------------------
PERSONS = 100_000
BATCH = 5_000
SEED = 20_200_124
BAD_EVERY = 2_000  # one row the import must reject after every 2,000 good ones
BLANK_AT = 12_345  # and a blank line (not a row) every 25,000


@dataclass
class Roster:
    """A written roster file and what importing it must give, row by row."""

    path: Path
    persons: dict[int, tuple] = field(default_factory=dict)  # file row → the person it makes
    rejected: set[int] = field(default_factory=set)  # file rows the import must reject
    last_row: int = 0

    def persons_up_to(self, row: int) -> list[tuple]:
        return sorted(p for r, p in self.persons.items() if r <= row)

    def households_up_to(self, row: int) -> set[str]:
        return {p[4] for r, p in self.persons.items() if r <= row}

    def rejected_up_to(self, row: int) -> set[int]:
        return {r for r in self.rejected if r <= row}

    def data_rows_up_to(self, row: int) -> int:
        return sum(1 for r in self.persons if r <= row) + len(self.rejected_up_to(row))

    @property
    def data_rows(self) -> int:
        return len(self.persons) + len(self.rejected)


def person_key(cells: list[str]) -> tuple:
    """(ID number, name, phone, relation, household number, grid code) of a demo roster row."""
    _community, _grid, number, _address, name, id_number, phone, relation, *_ = cells
    # The demo numbers a household `<grid code><4-digit sequence>`.
    return (id_number, name, phone, relation, number, number[:-4])


def bad_row(n: int, cells: list[str], roster: Roster, row: int) -> list[str]:
    """A row the import must reject, of five kinds in turn, none of which may write anything.

    The duplicate ID number sits in another household than its first row, so it is refused
    whether that first row came from this job (a duplicate) or from a killed one (a conflict).
    """
    community, grid, number, address, _name, _id, _phone, _rel, kind, residency = cells
    fresh = (community, grid, f"BAD{n:05d}", f"无效路{n}号")
    rest = ("户主", kind, residency)
    fault = n % 5
    if fault == 4:
        earlier = roster.persons.get(row - 7_001)
        if earlier and earlier[0] and earlier[4] != number:
            return [community, grid, number, address, f"重复{n}", earlier[0], "", "子", *rest[1:]]
        fault = 0
    if fault == 0:  # a wrong check digit
        body = f"50010919800101{n % 1000:03d}"
        right = ric.calc_check_digit(body + "0")
        wrong = next(d for d in "0123456789X" if d != right)
        return [*fresh, f"错号{n}", body + wrong, "", *rest]
    if fault == 1:  # no name
        return [*fresh, "", "", "13800138000", *rest]
    if fault == 2:  # a grid the district does not have
        return [community, "第99网格", *fresh[2:], f"迷路{n}", "", "", *rest]
    return [*fresh, f"短号{n}", "", "1380013800", *rest]  # a phone a digit short


def write_roster(path: Path) -> Roster:
    roster = Roster(path)
    row = 1  # the header
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index, cells in enumerate(RosterGenerator(persons=PERSONS, seed=SEED).rows()):
            row += 1
            writer.writerow(cells)
            roster.persons[row] = person_key(cells)
            if index % BAD_EVERY == BAD_EVERY - 1:
                row += 1
                writer.writerow(bad_row(index // BAD_EVERY, cells, roster, row))
                roster.rejected.add(row)
            if index % 25_000 == BLANK_AT:
                row += 1
                writer.writerow([])
    roster.last_row = row
    return roster


def stored_persons() -> list[tuple]:
    return sorted(
        (id_number or "", name, phone, relation, number, grid)
        for id_number, name, phone, relation, number, grid in Person.objects.values_list(
            "id_number",
            "name",
            "phone",
            "relation",
            "household__household_number",
            "household__grid__code",
        )
    )


def digest(persons: list[tuple]) -> str:
    return hashlib.sha256(repr(sorted(persons)).encode()).hexdigest()


def assert_persons_are(expected: list[tuple]) -> None:
    """The stored persons are exactly `expected` (compared by checksum; a few differences are
    shown when they are not, rather than a diff of 100,000 rows)."""
    stored = stored_persons()
    if digest(stored) != digest(expected):
        missing = Counter(expected) - Counter(stored)
        extra = Counter(stored) - Counter(expected)
        pytest.fail(
            f"{len(stored)} persons stored, {len(expected)} expected; "
            f"{missing.total()} missing, e.g. {list(missing)[:3]}; "
            f"{extra.total()} not expected, e.g. {list(extra)[:3]}"
        )


def kill_during_a_batch(children: Children, name: str, *, after_rows: int, skip=()) -> ImportJob:
    """SIGKILL the import `name` once it has committed `after_rows` rows, at a moment when it
    holds a write transaction open (a batch being written)."""
    process = children.running[name]
    deadline = time.monotonic() + PATIENCE_S
    while True:
        assert process.poll() is None, "the import ended before it was killed:\n" + (
            children.output(name)
        )
        assert time.monotonic() < deadline, "the import never reached the kill point"
        job = ImportJob.objects.exclude(pk__in=skip).first()
        if job is not None and job.rows_done >= after_rows and write_transaction_open():
            children.kill(name)
            job.refresh_from_db()
            return job
        time.sleep(0.02)


def assert_whole_batches(job: ImportJob, roster: Roster) -> int:
    """What a killed job left is exactly its committed batches: its counters, its rejections
    and the roster all stop at the same row, the last of a batch."""
    last = job.last_row_committed
    assert job.status == ImportStatus.RUNNING  # killed, so nobody marked it
    assert 0 < job.rows_done < roster.data_rows and job.rows_done % BATCH == 0
    assert job.rows_done == roster.data_rows_up_to(last)
    persons = roster.persons_up_to(last)
    assert_persons_are(persons)  # nothing from the batch being written when killed
    assert set(Household.objects.values_list("household_number", flat=True)) == (
        roster.households_up_to(last)
    )
    assert set(job.rejections.values_list("row_number", flat=True)) == roster.rejected_up_to(last)
    assert job.rejected_count == len(roster.rejected_up_to(last))
    assert job.created_count + job.unchanged_count == len(persons) and job.updated_count == 0
    return last


def test_a_killed_import_keeps_whole_batches_and_a_rerun_or_resume_ends_as_one_clean_run(
    tmp_path, children
):
    # given the demo district and a 100,000-person roster with 50 rows that must be refused
    district = demo_areas_create(persons=PERSONS)
    roster = write_roster(tmp_path / "roster.csv")
    assert len(roster.persons) == PERSONS and len(roster.rejected) == PERSONS // BAD_EVERY
    env = child_env(tmp_path / "child-var", DOORSTEP_IMPORT_CHUNK_ROWS=str(BATCH))
    command = [PYTHON, "manage.py", "import_roster", str(roster.path), "--area", district.code]

    # when the import is killed while writing its fourth batch or later
    children.start("first", [*command, "--no-progress"], env)
    first = kill_during_a_batch(children, "first", after_rows=3 * BATCH)
    # then the roster holds its committed batches, whole, and nothing else
    first_last = assert_whole_batches(first, roster)
    assert first.created_count == len(roster.persons_up_to(first_last))
    first_last_done = first.rows_done

    # when the file is imported again from scratch by a new job, itself killed further on
    children.start("second", [*command, "--no-progress"], env)
    second = kill_during_a_batch(children, "second", after_rows=12 * BATCH, skip=[first.pk])
    second_last = assert_whole_batches(second, roster)
    assert second_last > first_last
    # the first job's rows count as already there, not as new persons
    assert second.unchanged_count == len(roster.persons_up_to(first_last))

    # and that job is resumed
    status = children.run(
        "resume", [PYTHON, "manage.py", "import_roster", "--resume", str(second.pk)], env
    )
    assert status == 1, children.output("resume")  # 1: finished, with rejected rows to read

    # then the roster is the file's, once: every person, every household, nothing else
    assert_persons_are(roster.persons_up_to(roster.last_row))
    assert set(Household.objects.values_list("household_number", flat=True)) == (
        roster.households_up_to(roster.last_row)
    )
    assert RecordChange.objects.count() == 0  # nothing was "changed" by reading it twice
    # and the resumed job accounts for every row of the file exactly once
    second.refresh_from_db()
    assert second.status == ImportStatus.DONE
    assert second.rows_done == roster.data_rows
    assert set(second.rejections.values_list("row_number", flat=True)) == roster.rejected
    assert (second.created_count, second.unchanged_count, second.updated_count) == (
        PERSONS - len(roster.persons_up_to(first_last)),
        len(roster.persons_up_to(first_last)),
        0,
    )
    assert second.rejected_count == len(roster.rejected)
    # the killed first job still shows what it had committed
    first.refresh_from_db()
    assert (first.rows_done, first.last_row_committed) == (first_last_done, first_last)
    assert ImportRejection.objects.count() == len(roster.rejected_up_to(first_last)) + len(
        roster.rejected
    )


# -- the visit stream -------------------------------------------------------------------------
VISITS = 1_000
KILL_AFTER_ACKS = 300
CLIENTS = 4


@dataclass
class Submission:
    client_uuid: str
    body: dict
    checks: int
    newcomer: str = ""


def plan_submissions(households: list[Household], members: dict[int, list[int]]) -> list:
    """1,000 visits over the households: screenings with every member (some with a fever), a
    few with a newcomer found at the door, nobody-home knocks (some saying where a member is)
    and refusals; mostly in time order, some typed in late (progress folded again)."""
    rnd = random.Random(SEED)
    start = timezone.now() - datetime.timedelta(minutes=VISITS + 10)
    plan = []
    for n in range(VISITS):
        household = rnd.choice(households)
        people = members[household.pk]
        outcome = rnd.choices(["screened", "not_home", "refused"], weights=[5, 4, 1])[0]
        checks, newcomer = [], ""
        if outcome == "screened":
            checks = [
                {"person_id": pk, "temperature": rnd.choice(["36.4", "36.8", "38.3"])}
                for pk in people
            ]
            if n % 10 == 0:
                newcomer = f"新来{n}"
                checks.append(
                    {"new_person": {"name": newcomer, "relation": "租客"}, "temperature": "36.6"}
                )
        elif outcome == "not_home" and n % 3 == 0:
            checks = [{"person_id": people[0], "presence": "out_of_town", "whereabouts": "成都"}]
        # Phones send as they go (newest last); one visit in ten is a paper form typed later.
        visited_at = start + datetime.timedelta(minutes=n)
        if n % 10 == 5:
            visited_at -= datetime.timedelta(minutes=rnd.randrange(30, 600))
        body = {
            "client_uuid": str(uuid.uuid4()),
            "household_id": household.pk,
            "outcome": outcome,
            "visited_at": visited_at.isoformat(),
            "person_checks": checks,
        }
        plan.append(Submission(body["client_uuid"], body, len(checks), newcomer))
    return plan


class VisitClients:
    """Four phones posting visits, each on a fresh connection; every answer is kept, and every
    request that got none (the server died under it) is kept as unanswered."""

    def __init__(self, *, port: int, token: str, path: str):
        self.port, self.token, self.path = port, token, path
        self.answers: dict[str, tuple[int, dict]] = {}
        self.unanswered: set[str] = set()
        self.acknowledged = threading.Semaphore(0)
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def send(self, submissions: list[Submission]) -> None:
        work: queue.Queue = queue.Queue()
        for submission in submissions:
            work.put(submission)
        threads = [
            threading.Thread(target=self._post_until_stopped, args=(work,)) for _ in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        self.threads = threads

    def wait_for_acknowledgements(self, count: int) -> None:
        deadline = time.monotonic() + PATIENCE_S
        for _ in range(count):
            while not self.acknowledged.acquire(timeout=0.5):
                with self.lock:
                    statuses = Counter(status for status, _ in self.answers.values())
                assert any(t.is_alive() for t in self.threads), (
                    f"the stream ended before {count} acknowledgements: {statuses}, "
                    f"{len(self.unanswered)} unanswered"
                )
                assert time.monotonic() < deadline, f"the server stopped answering: {statuses}"

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=PATIENCE_S)
            assert not thread.is_alive()

    def _post_until_stopped(self, work: queue.Queue) -> None:
        while not self.stop.is_set():
            try:
                submission = work.get_nowait()
            except queue.Empty:
                return
            try:
                answer = request_json(
                    self.port, "POST", self.path, token=self.token, body=submission.body
                )
            except (OSError, http.client.HTTPException):  # the server died under the request
                with self.lock:
                    self.unanswered.add(submission.client_uuid)
                continue
            with self.lock:
                self.answers[submission.client_uuid] = answer
            if 200 <= answer[0] < 300:
                self.acknowledged.release()


def test_visits_acknowledged_before_a_server_kill_are_kept_and_resending_does_not_duplicate(
    areas, user_for, tmp_path, children
):
    # given a worker holding 25 households of G1 in an open sweep, with an API token
    households = [HouseholdFactory(grid=areas["G1"]) for _ in range(25)]
    members = {
        h.pk: [PersonFactory(household=h).pk for _ in range(1 + i % 4)]
        for i, h in enumerate(households)
    }
    commander = user_for(Role.COMMAND, "D")
    campaign = open_district_campaign(commander, "全区拉网式摸排")
    worker = user_for(Role.GRID_WORKER, "G1")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment_create(user=admin, campaign=campaign, worker=worker, grid=areas["G1"])
    _token, key = api_token_create(user=worker, name="crash test")
    submissions = plan_submissions(households, members)
    by_uuid = {s.client_uuid: s for s in submissions}
    env = child_env(tmp_path / "child-var")
    port = free_port()
    path = f"/api/campaigns/{campaign.pk}/visits"

    # when four phones post 1,000 visits and the server is SIGKILLed after 300 acknowledgements
    server = start_server(children, "server", port=port, env=env)
    wait_until_serving(server, port=port, token=key)
    first = VisitClients(port=port, token=key, path=path)
    first.send(submissions)
    first.wait_for_acknowledgements(KILL_AFTER_ACKS)
    wait_for_a_write_transaction()  # so the kill most likely cuts a visit half written
    children.kill("server")
    first.stop.set()
    first.join()
    acknowledged = {u: a for u, a in first.answers.items() if 200 <= a[0] < 300}
    assert len(acknowledged) >= KILL_AFTER_ACKS
    # every answer was a new visit; the only failures were the requests the kill cut off
    assert Counter(status for status, _ in first.answers.values()) == {201: len(acknowledged)}
    assert first.unanswered

    # and, the server restarted, every visit without an answer is sent again, the same body
    # under the same UUID, with 50 acknowledged ones resent as a phone that missed the reply
    server = start_server(children, "server-again", port=port, env=env)
    wait_until_serving(server, port=port, token=key)
    resent_acknowledged = list(acknowledged)[:50]
    rest = [s for s in submissions if s.client_uuid not in acknowledged]
    second = VisitClients(port=port, token=key, path=path)
    second.send(rest + [by_uuid[u] for u in resent_acknowledged])
    second.join()
    children.kill("server-again")

    # then every resent visit is answered, and a visit already stored answers with its first id
    assert not second.unanswered and len(second.answers) == len(rest) + 50
    assert all(200 <= status < 300 for status, _ in second.answers.values())
    for client_uuid in resent_acknowledged:
        status, body = second.answers[client_uuid]
        assert (status, body["id"], body["created"]) == (
            200,
            acknowledged[client_uuid][1]["id"],
            False,
        )
    # (cut off by the kill: stored without an answer → 200 now; rolled back → 201 now)
    for client_uuid in first.unanswered:
        status, body = second.answers[client_uuid]
        assert body["created"] == (status == 201)

    # and the database holds each of the 1,000 visits once, acknowledged ones with their id
    stored = dict(Visit.objects.filter(campaign=campaign).values_list("client_uuid", "pk"))
    stored = {str(u): pk for u, pk in stored.items()}
    assert len(stored) == Visit.objects.count() == VISITS
    assert set(stored) == set(by_uuid)
    assert all(stored[u] == answer[1]["id"] for u, answer in acknowledged.items())
    assert all(stored[u] == answer[1]["id"] for u, answer in second.answers.items())
    # every visit whole: all its person checks, its newcomer once, its audit row
    checks = Counter(
        str(u) for u in PersonCheck.objects.values_list("visit__client_uuid", flat=True)
    )
    assert checks == Counter({u: s.checks for u, s in by_uuid.items() if s.checks})
    newcomers = sorted(Person.objects.filter(is_new=True).values_list("name", flat=True))
    assert newcomers == sorted(s.newcomer for s in submissions if s.newcomer)
    audited = AuditEvent.objects.filter(action="visit.record").values_list("object_id", flat=True)
    assert sorted(audited) == sorted(str(pk) for pk in stored.values())
    # and the stored progress is what folding the stored visits gives
    out = io.StringIO()
    call_command("recompute_progress", str(campaign.pk), stdout=out, stderr=out)
    assert "differences=0" in out.getvalue(), out.getvalue()
