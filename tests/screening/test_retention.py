"""Retention: a closed campaign is archived, then anonymised. Every figure the coverage and
flagged pages show (district, every street, community and grid, and every worker row) is the
same before and after, no answer is left in the visit and person-check tables, the roster is
untouched, the fold still gives the stored progress, and a refused or repeated run changes
nothing."""

import datetime
import io
import re
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import Http404
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.registry.models import Household, Person
from doorstep.screening import retention
from doorstep.screening.coverage import coverage_by_child_area, coverage_by_worker, gap_households
from doorstep.screening.models import (
    Campaign,
    HeldVisit,
    HouseholdProgress,
    PersonCheck,
    SelfReportToken,
    Visit,
)
from doorstep.screening.retention import (
    RetentionRefused,
    anonymisation_pending,
    campaign_anonymise,
    campaign_archive,
)
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import (
    VisitRejected,
    assignment_create,
    campaign_close,
    campaign_enrol_households,
    self_report_submit,
    self_report_token_for,
    visit_record,
    visit_verify,
)
from tests.factories import HouseholdFactory, PersonFactory, UserFactory, area_tree

from .conftest import knock, screened

AREA_CODES = ["D", "S1", "S2", "C1", "C2", "C3", "G1", "G2", "G3", "G4"]
ANSWER_FIELDS = (
    "person_id",  # the link from the answers to a named resident
    "whereabouts",
    "expected_return",
    "temperature",
    "symptoms",
    "travel_from",
    "returned_on",
    "travel_means",
    "contact_with_case",
    "notes",
    "flags",
)
BLANK_ANSWERS = (None, "", None, None, [], "", None, "", False, "", [])


def ago(hours: float) -> datetime.datetime:
    return timezone.now() - datetime.timedelta(hours=hours)


def members(household) -> list[Person]:
    return list(household.persons.order_by("pk"))


def grid_households(campaign, grid) -> list[Household]:
    rows = HouseholdProgress.objects.filter(campaign=campaign, grid=grid).order_by("household_id")
    return [p.household for p in rows.select_related("household")]


@pytest.fixture
def sweep(campaign, households, areas, user_for):
    """Every outcome in every street, community and grid, with every kind of answer:

    G1 (worker w1): fever + visit notes; nobody home (one person away in the district); refused;
        screened with a newcomer and a person out of town in a risk area.
    G2 (worker w2): self-report to verify; self-report verified; screened with symptoms, contact.
    G3 (unassigned, the commander knocks): vacant; moved out; not started.
    G4 (worker w4, other street): escalated after three failed knocks; came back from a risk
        area; screened well after an older paper entry with a fever (folded out of order).
    """
    for key in ("G1", "G2", "G3", "G4"):
        for _n in range(2 if key != "G1" else 3):
            household = HouseholdFactory(grid=areas[key])
            PersonFactory(household=household, relation="户主")
            PersonFactory(household=household, relation="子")
    campaign_enrol_households(campaign=campaign)
    command = user_for(Role.COMMAND, "D")
    w1 = user_for(Role.GRID_WORKER, "G1", full_name="王网格")
    w2 = user_for(Role.GRID_WORKER, "G2", full_name="李网格")
    w4 = user_for(Role.GRID_WORKER, "G4", full_name="赵网格")
    for worker, grid in ((w1, "G1"), (w2, "G2"), (w4, "G4")):
        assignment_create(user=command, campaign=campaign, worker=worker, grid=areas[grid])

    g1 = grid_households(campaign, areas["G1"])
    fever = screened(g1[0], temperature="38.2", notes="发热，已通知社区医生")
    fever.notes = "门口有狗"
    visit_record(user=w1, campaign=campaign, visit=fever)
    not_home = knock(g1[1], "not_home")
    not_home.person_checks = [
        PersonCheckInput(person_id=members(g1[1])[0].pk, presence="in_district", whereabouts="单位")
    ]
    visit_record(user=w1, campaign=campaign, visit=not_home)
    visit_record(user=w1, campaign=campaign, visit=knock(g1[2], "refused"))
    away = screened(
        g1[3],
        presence="out_of_town",
        temperature=None,
        whereabouts="湖北武汉",
        expected_return=timezone.localdate() + datetime.timedelta(days=7),
    )
    away.person_checks.append(
        PersonCheckInput(new_person={"name": "新来的租户", "relation": "租户"}, temperature="36.6")
    )
    visit_record(user=w1, campaign=campaign, visit=away)

    g2 = grid_households(campaign, areas["G2"])
    for household in g2[:2]:
        token = self_report_token_for(campaign=campaign, household_id=household.pk)
        self_report_submit(token=token.token, visit=screened(household, notes="自己填的"))
    to_verify = Visit.objects.get(campaign=campaign, household=g2[1])
    visit_verify(user=w2, campaign=campaign, visit_id=to_verify.pk)
    coughing = screened(g2[2], symptoms=["cough"], contact_with_case=True, notes="咳嗽三天")
    visit_record(user=w2, campaign=campaign, visit=coughing)

    g3 = grid_households(campaign, areas["G3"])
    visit_record(user=command, campaign=campaign, visit=knock(g3[0], "vacant"))
    moved = knock(g3[1], "moved")
    moved.person_checks = [
        PersonCheckInput(person_id=p.pk, presence="moved_out", notes="搬去主城")
        for p in members(g3[1])
    ]
    visit_record(user=command, campaign=campaign, visit=moved)

    g4 = grid_households(campaign, areas["G4"])
    for hours in (3, 2, 1):
        visit_record(user=w4, campaign=campaign, visit=knock(g4[0], "not_home", ago(hours)))
    back = screened(
        g4[1],
        travel_from="湖北",
        returned_on=timezone.localdate() - datetime.timedelta(days=3),
        travel_means="高铁",
    )
    visit_record(user=w4, campaign=campaign, visit=back)
    visit_record(user=w4, campaign=campaign, visit=screened(g4[2], when=ago(1)))
    paper = screened(g4[2], when=ago(2), temperature="38.5")
    paper.source = "evening"
    visit_record(user=w4, campaign=campaign, visit=paper)
    return {"campaign": campaign, "command": command, "w1": w1, "w2": w2, "w4": w4}


# -- what is compared --------------------------------------------------------------------------
def row_figures(row) -> tuple:
    by_state = {state: n for state, n in row.by_state.items() if n}
    return (
        row.label,
        row.households,
        by_state,
        row.persons,
        row.persons_seen,
        row.persons_elsewhere,
        row.persons_unknown,
        row.persons_flagged,
    )


def figures(campaign, areas) -> dict:
    """Every coverage figure at every area level: the total and each child, each worker row,
    and the length of the open and flagged household lists."""
    result = {}
    for code in AREA_CODES:
        total, children = coverage_by_child_area(campaign, areas[code])
        result[code] = [row_figures(total), *(row_figures(c) for c in children)]
        result[f"{code} workers"] = [
            row_figures(r) for r in coverage_by_worker(campaign, areas[code])
        ]
        result[f"{code} lists"] = [
            gap_households(campaign, areas[code], state).count() for state in ("open", "flagged")
        ]
    return result


CELL = re.compile(r'data-col="(\w+)" class="num[^"]*">(?:<a href="[^"]*">)?([^<]*)<')


def pages(client, campaign) -> dict:
    """What the pages show at every area level: each coverage table cell, the number of rows of
    the flagged persons list, and the coverage API."""
    result = {}
    for code in AREA_CODES:
        response = client.get(reverse("screening:coverage", args=[campaign.pk]), {"area": code})
        assert response.status_code == 200
        body = response.content.decode()
        cells = []
        for chunk in body.split("<tr")[1:]:
            row = re.search(r'data-row="([^"]+)"', chunk)
            if row:
                cells.extend((row.group(1), col, value) for col, value in CELL.findall(chunk))
        assert cells, code
        result[f"{code} coverage"] = cells
        response = client.get(reverse("screening:flagged", args=[campaign.pk]), {"area": code})
        assert response.status_code == 200
        count = re.search(r'id="row-count" data-count="(\d+)"', response.content.decode())
        result[f"{code} flagged"] = int(count.group(1))
        response = client.get(f"/api/campaigns/{campaign.pk}/coverage", {"area": code})
        assert response.status_code == 200
        result[f"{code} api"] = response.json()
    return result


def progress_rows(campaign) -> list[dict]:
    return list(HouseholdProgress.objects.filter(campaign=campaign).order_by("pk").values())


def roster() -> tuple[list, list]:
    return (
        list(Household.objects.order_by("pk").values()),
        list(Person.objects.order_by("pk").values()),
    )


def kept_rows(campaign) -> tuple[list, list]:
    """What the fold and the figures read, which must survive anonymisation."""
    visits = Visit.objects.filter(campaign=campaign).order_by("pk")
    checks = PersonCheck.objects.filter(visit__campaign=campaign).order_by("pk")
    return (
        list(
            visits.values_list(
                "pk",
                "household_id",
                "worker_id",
                "outcome",
                "source",
                "visited_at",
                "entered_at",
                "client_uuid",
                "verified_by_id",
                "verified_at",
            )
        ),
        list(checks.values_list("pk", "visit_id", "presence", "flagged")),
    )


def answers(campaign) -> list[tuple]:
    return list(
        PersonCheck.objects.filter(visit__campaign=campaign)
        .order_by("pk")
        .values_list(*ANSWER_FIELDS)
    )


def answers_left(campaign) -> list[tuple]:
    return [row for row in answers(campaign) if row != BLANK_ANSWERS]


def visit_texts(campaign) -> list[tuple]:
    return list(
        Visit.objects.filter(campaign=campaign).order_by("pk").values_list("notes", "body_hash")
    )


def everything(campaign) -> tuple:
    """The whole state of the campaign's tables, for "nothing changed"."""
    return (
        list(Campaign.objects.filter(pk=campaign.pk).values()),
        progress_rows(campaign),
        list(Visit.objects.filter(campaign=campaign).order_by("pk").values()),
        list(PersonCheck.objects.filter(visit__campaign=campaign).order_by("pk").values()),
        list(SelfReportToken.objects.filter(campaign=campaign).order_by("pk").values()),
        roster(),
        # A refused write is audited (and counted against the caller's budget): nothing else.
        list(
            AuditEvent.objects.exclude(action="write.refused")
            .order_by("pk")
            .values_list("pk", "action")
        ),
    )


def close_and_archive(sweep) -> Campaign:
    campaign = campaign_close(user=sweep["command"], campaign=sweep["campaign"])
    return campaign_archive(user=sweep["command"], campaign=campaign)


def recompute_output(campaign) -> str:
    out = io.StringIO()
    call_command("recompute_progress", str(campaign.pk), stdout=out, stderr=io.StringIO())
    return out.getvalue()


# -- the figures -------------------------------------------------------------------------------
def test_anonymising_keeps_every_figure_at_every_area_level(sweep, areas, client_for):
    # given a sweep with every outcome and every kind of answer, and what it shows now
    campaign = sweep["campaign"]
    client = client_for(Role.COMMAND, "D")
    before = figures(campaign, areas)
    before_pages = pages(client, campaign)
    before_progress, before_roster = progress_rows(campaign), roster()
    before_kept = kept_rows(campaign)
    # (the sweep really holds every kind of answer, flagged people and self-report codes)
    filled = answers(campaign)
    for index, name in enumerate(ANSWER_FIELDS):
        assert any(row[index] not in ("", None, [], False) for row in filled), name
    assert any(notes for notes, _hash in visit_texts(campaign))
    assert all(body_hash for _notes, body_hash in visit_texts(campaign))
    assert before["D"][0][7] >= 3 and before_pages["D flagged"] == before["D"][0][7]
    assert SelfReportToken.objects.filter(campaign=campaign).count() == 2
    pending = anonymisation_pending(user=None, campaign=close_and_archive(sweep))

    # when it is closed, archived and anonymised
    counts = campaign_anonymise(user=sweep["command"], campaign=campaign, batch_size=3)

    # then every figure of every area level, worker row and list is the same, in the tables
    # and on the pages
    assert figures(campaign, areas) == before
    assert pages(client, campaign) == before_pages
    assert progress_rows(campaign) == before_progress
    # and no answer is left: every check is blank, every visit's notes and body hash are gone
    assert answers(campaign) == [BLANK_ANSWERS] * len(filled)
    assert set(visit_texts(campaign)) == {("", "")}
    assert SelfReportToken.objects.filter(campaign=campaign).count() == 0
    # and what the fold reads, and the roster, are untouched
    assert kept_rows(campaign) == before_kept
    assert roster() == before_roster
    # and folding the anonymised visits again gives the stored progress
    assert "differences=0" in recompute_output(campaign)
    # and the counts are what the dry run announced, audited as counts only
    assert counts == pending
    assert counts.visits == Visit.objects.filter(campaign=campaign).count()
    assert counts.person_checks == sum(1 for row in filled if row != BLANK_ANSWERS) > 0
    assert counts.self_report_codes == 2
    event = AuditEvent.objects.get(action="campaign.anonymise")
    assert event.user == sweep["command"] and event.object_id == str(campaign.pk)
    assert event.detail == {
        "visits": counts.visits,
        "person_checks": counts.person_checks,
        "self_report_codes": 2,
        "held_visits": 0,
    }
    campaign.refresh_from_db()
    assert campaign.anonymised_at is not None and campaign.archived_at <= campaign.anonymised_at


def test_pages_of_an_anonymised_campaign_still_render(sweep, areas, client_for):
    # given an anonymised campaign
    campaign = close_and_archive(sweep)
    campaign_anonymise(user=None, campaign=campaign)
    household = grid_households(campaign, areas["G1"])[0]
    worker = Client()
    worker.force_login(sweep["w1"])
    commander = client_for(Role.COMMAND, "D")
    # when the lists, the flagged persons, the exports and a household's visits are opened
    urls = [
        (commander, reverse("screening:campaign_detail", args=[campaign.pk]), {}),
        (commander, reverse("screening:coverage_list", args=[campaign.pk]), {"area": "D"}),
        (commander, reverse("screening:flagged", args=[campaign.pk]), {"area": "G1"}),
        (worker, reverse("screening:coverage", args=[campaign.pk]), {}),
        (worker, reverse("screening:field_list", args=[campaign.pk]), {}),
        (worker, reverse("screening:visit", args=[campaign.pk, household.pk]), {}),
    ]
    for client, url, query in urls:
        # then each renders
        assert client.get(url, query).status_code == 200, url
    export = commander.post(
        reverse("screening:flagged_export", args=[campaign.pk]) + "?area=D",
        {"purpose": "复盘"},
    )
    assert export.status_code == 200
    b"".join(export.streaming_content)
    # and the flagged list still has as many rows as the flagged figure, without the answers
    flagged = client_for(Role.COMMAND, "D").get(
        reverse("screening:flagged", args=[campaign.pk]), {"area": "D"}
    )
    body = flagged.content.decode()
    total, _children = coverage_by_child_area(campaign, areas["D"])
    assert f'data-count="{total.persons_flagged}"' in body
    assert "38.2" not in body and "湖北" not in body


# -- refusals ----------------------------------------------------------------------------------
def test_an_open_or_unarchived_campaign_is_refused_with_nothing_changed(sweep):
    # given an open campaign
    campaign, command = sweep["campaign"], sweep["command"]
    before = everything(campaign)
    # when it is archived or anonymised, then both are refused and nothing changed
    with pytest.raises(RetentionRefused):
        campaign_archive(user=command, campaign=campaign)
    with pytest.raises(RetentionRefused):
        campaign_anonymise(user=command, campaign=campaign)
    with pytest.raises(RetentionRefused):
        campaign_anonymise(user=None, campaign=campaign)
    assert everything(campaign) == before
    # given it is closed but not archived, anonymising is still refused
    campaign = campaign_close(user=command, campaign=campaign)
    before = everything(campaign)
    with pytest.raises(RetentionRefused):
        campaign_anonymise(user=None, campaign=campaign)
    with pytest.raises(RetentionRefused):
        anonymisation_pending(user=None, campaign=campaign)
    assert everything(campaign) == before
    assert not AuditEvent.objects.filter(action__startswith="campaign.a").exists()


def test_only_the_command_over_the_whole_campaign_may_archive_or_anonymise(sweep, user_for):
    # given a closed campaign over the district
    campaign = campaign_close(user=sweep["command"], campaign=sweep["campaign"])
    elsewhere = area_tree(prefix="X")["D"]
    before = everything(campaign)
    refusals = [
        (user_for(Role.COMMUNITY_ADMIN, "C1"), PermissionDenied),
        (user_for(Role.STREET_ADMIN, "S1"), PermissionDenied),
        (sweep["w1"], PermissionDenied),
        (UserFactory(role=Role.COMMAND, jurisdiction_area=elsewhere), Http404),
        (user_for(Role.COMMAND, None), Http404),
        (user_for(Role.COMMAND, "D", is_active=False), Http404),
    ]
    for user, refusal in refusals:
        # when anyone else archives it, then they are refused
        with pytest.raises(refusal):
            campaign_archive(user=user, campaign=campaign)
    # and once the command archived it, they may not anonymise it either
    campaign = campaign_archive(user=sweep["command"], campaign=campaign)
    archived = everything(campaign)
    assert archived != before  # the archive stamp and its audit event
    for user, refusal in refusals:
        with pytest.raises(refusal):
            campaign_anonymise(user=user, campaign=campaign)
    assert everything(campaign) == archived


# -- repeat and resume -------------------------------------------------------------------------
def test_a_second_run_changes_nothing(sweep):
    # given an anonymised campaign
    campaign = close_and_archive(sweep)
    first = campaign_anonymise(user=None, campaign=campaign)
    assert first.total > 0
    after_first = everything(campaign)
    # when it is anonymised again, and archived again
    again = campaign_anonymise(user=sweep["command"], campaign=campaign)
    campaign_archive(user=sweep["command"], campaign=campaign)
    # then nothing was left to do and nothing changed, not even the audit trail
    assert again == retention.AnonymisedCounts()
    assert everything(campaign) == after_first


def test_an_interrupted_run_is_finished_by_the_next(sweep, areas, monkeypatch):
    # given an archived campaign and its figures
    campaign = close_and_archive(sweep)
    before = figures(campaign, areas)
    pending = anonymisation_pending(user=None, campaign=campaign)
    # when a run in batches of one visit stops in its third batch
    real_in_values_q, calls = retention.in_values_q, []

    def failing_in_values_q(field, values):
        calls.append(field)
        if len(calls) == 5:  # two calls a batch: the third batch's first update
            raise ConnectionError("killed")
        return real_in_values_q(field, values)

    monkeypatch.setattr(retention, "in_values_q", failing_in_values_q)
    with pytest.raises(ConnectionError):
        campaign_anonymise(user=None, campaign=campaign, batch_size=1)
    monkeypatch.undo()
    # then the two committed batches are anonymised, the rest is not, and nothing is marked
    first_two = list(Visit.objects.filter(campaign=campaign).order_by("pk")[:2])
    assert all(visit.body_hash == "" for visit in first_two)
    assert anonymisation_pending(user=None, campaign=campaign).visits == pending.visits - 2
    campaign.refresh_from_db()
    assert campaign.anonymised_at is None
    assert not AuditEvent.objects.filter(action="campaign.anonymise").exists()
    # when it is run again, then it finishes the job with the same figures
    rest = campaign_anonymise(user=None, campaign=campaign, batch_size=4)
    assert rest.visits == pending.visits - 2
    assert anonymisation_pending(user=None, campaign=campaign) == retention.AnonymisedCounts()
    assert answers_left(campaign) == []
    assert figures(campaign, areas) == before
    assert "differences=0" in recompute_output(campaign)
    campaign.refresh_from_db()
    assert campaign.anonymised_at is not None
    assert AuditEvent.objects.filter(action="campaign.anonymise").count() == 1


# -- writes after anonymisation ----------------------------------------------------------------
def test_visits_and_self_reports_are_refused_after_anonymisation(sweep, areas):
    # given an anonymised campaign and the self-report code a household kept
    campaign = sweep["campaign"]
    household = grid_households(campaign, areas["G1"])[1]
    code = SelfReportToken.objects.get(
        campaign=campaign, household=grid_households(campaign, areas["G2"])[0]
    ).token
    campaign = close_and_archive(sweep)
    campaign_anonymise(user=None, campaign=campaign)
    before = everything(campaign)
    # when a worker records a visit, through the service and the API, and the household
    # answers through its code
    with pytest.raises(VisitRejected):
        visit_record(user=sweep["w1"], campaign=campaign, visit=screened(household))
    worker = Client()
    worker.force_login(sweep["w1"])
    body = {
        "household_id": household.pk,
        "outcome": "not_home",
        "visited_at": timezone.now().isoformat(),
        "client_uuid": str(uuid.uuid4()),
        "person_checks": [],
    }
    response = worker.post(
        f"/api/campaigns/{campaign.pk}/visits", body, content_type="application/json"
    )
    page = Client().get(reverse("screening:self_report", args=[code]))
    # then each is refused and nothing changed
    assert response.status_code == 422
    assert page.status_code == 404
    assert everything(campaign) == before
    assert AuditEvent.objects.filter(action="write.refused", user=sweep["w1"]).count() == 1


def test_verifying_a_self_report_is_refused_after_anonymisation(sweep, areas):
    # given an anonymised campaign with a self-report nobody verified
    campaign = sweep["campaign"]
    household = grid_households(campaign, areas["G2"])[0]
    visit = Visit.objects.get(campaign=campaign, household=household)
    campaign = close_and_archive(sweep)
    campaign_anonymise(user=None, campaign=campaign)
    before = progress_rows(campaign)
    # when its worker verifies it on the household's page
    worker = Client()
    worker.force_login(sweep["w2"])
    worker.post(reverse("screening:visit_verify", args=[campaign.pk, household.pk, visit.pk]))
    # then the figures did not move
    assert progress_rows(campaign) == before


# -- the command -------------------------------------------------------------------------------
def run(*args) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("anonymise_campaign", *map(str, args), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def refusal(*args) -> CommandError:
    with pytest.raises(CommandError) as error, translation.override("en"):
        call_command("anonymise_campaign", *map(str, args), stdout=io.StringIO())
    return error.value


def test_the_command_refuses_what_it_cannot_anonymise(sweep):
    # given an open campaign
    campaign, command = sweep["campaign"], sweep["command"].username
    before = everything(campaign)
    # when the command is pointed at it, then each refusal has its exit status and nothing changed
    error = refusal(campaign.pk)
    assert error.returncode == 1 and "still open" in str(error)
    assert refusal(campaign.pk, "--archive", "--user", command).returncode == 1
    assert refusal(campaign.pk + 1000).returncode == 2
    assert refusal(campaign.pk, "--user", "nobody").returncode == 2
    assert refusal(campaign.pk, "--archive").returncode == 2
    campaign_close(user=sweep["command"], campaign=campaign)
    closed = everything(campaign)
    error = refusal(campaign.pk, "--dry-run")
    assert error.returncode == 1 and "not archived" in str(error)
    error = refusal(campaign.pk, "--archive", "--user", sweep["w1"].username)
    assert error.returncode == 1 and "may not" in str(error)
    assert everything(campaign) == closed != before


def test_the_command_archives_then_anonymises_and_a_rerun_does_nothing(sweep, areas):
    # given a closed campaign
    campaign = campaign_close(user=sweep["command"], campaign=sweep["campaign"])
    command = sweep["command"].username
    before, closed = figures(campaign, areas), everything(campaign)
    # when the dry run is asked for, then it says what it would do and changes nothing
    checks = len(answers_left(campaign))
    visits = Visit.objects.filter(campaign=campaign).count()
    dry = run(campaign.pk, "--archive", "--user", command, "--dry-run")
    assert "would archive" in dry
    assert f"would anonymise: {visits} visits, {checks} person checks, 2 self-report codes" in dry
    assert everything(campaign) == closed
    # when it is run, then it archives, anonymises, and says so
    done = run(campaign.pk, "--archive", "--user", command, "--batch-size", 5)
    assert "archived campaign" in done
    assert f"anonymised: {visits} visits, {checks} person checks, 2 self-report codes" in done
    assert answers_left(campaign) == []
    assert figures(campaign, areas) == before
    assert AuditEvent.objects.get(action="campaign.anonymise").user == sweep["command"]
    # when it is run again, then nothing was left and nothing changed
    after = everything(campaign)
    assert "anonymised: 0 visits, 0 person checks, 0 self-report codes" in run(campaign.pk)
    assert everything(campaign) == after


def test_the_forms_of_visits_held_for_a_decision_are_blanked_too(sweep):
    # given a visit recorded offline and held, with its answers, in the campaign
    campaign = sweep["campaign"]
    visit = Visit.objects.filter(campaign=campaign, worker__isnull=False).first()
    held = HeldVisit.objects.create(
        campaign=campaign,
        household_id=visit.household_id,
        worker=visit.worker,
        client_uuid=uuid.uuid4(),
        body_hash="0" * 64,
        visited_at=visit.visited_at,
        outcome="screened",
        form=[["n0-name", "门口新人"], ["n0-temperature", "38.2"], ["outcome", "screened"]],
        reason="screened_by_other",
    )
    campaign = close_and_archive(sweep)
    # when the campaign is anonymised
    pending = anonymisation_pending(user=None, campaign=campaign)
    counts = campaign_anonymise(user=None, campaign=campaign)
    # then the held form is gone with the other answers, counted and audited
    assert pending.held_visits == counts.held_visits == 1
    held.refresh_from_db()
    assert held.form == []
    assert campaign_anonymise(user=None, campaign=campaign).held_visits == 0
