"""Visits move household progress; bad input is refused with nothing written."""

import datetime
import threading
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.http import Http404
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.registry.models import Person, PersonStatus
from doorstep.screening.models import HouseholdProgress, PersonCheck, Visit
from doorstep.screening.progress import next_revisit
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import (
    VisitConflict,
    VisitRejected,
    assignment_claim,
    assignment_create,
    campaign_close,
    self_report_submit,
    self_report_token_for,
    visit_batch_record,
    visit_record,
    visit_verify,
)
from tests.factories import open_district_campaign

from .conftest import knock, screened


def progress_of(campaign, household):
    return HouseholdProgress.objects.get(campaign=campaign, household=household)


def test_campaign_enrols_every_household_in_scope(campaign, households):
    assert HouseholdProgress.objects.filter(campaign=campaign).count() == 4
    assert progress_of(campaign, households["G1"]).persons_total == 2


def test_a_screening_visit_closes_the_household(campaign, worker, households):
    visit, created = visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    assert created and visit.checks.count() == 2
    progress = progress_of(campaign, households["G1"])
    assert (progress.state, progress.closed, progress.persons_seen) == ("screened", True, 2)


def test_the_same_visit_twice_is_one_visit(campaign, worker, households):
    item = screened(households["G1"])
    first, created = visit_record(user=worker, campaign=campaign, visit=item)
    again, created_again = visit_record(user=worker, campaign=campaign, visit=item)
    assert (first.pk, created, created_again) == (again.pk, True, False)
    assert Visit.objects.count() == 1 and PersonCheck.objects.count() == 2


def test_same_uuid_with_a_different_body_is_a_conflict(campaign, worker, households):
    item = screened(households["G1"])
    visit_record(user=worker, campaign=campaign, visit=item)
    item.notes = "changed"
    with pytest.raises(VisitConflict):
        visit_record(user=worker, campaign=campaign, visit=item)
    assert Visit.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_copies_leave_one_visit_and_one_answer(households, user_for, areas):
    from doorstep.screening.models import RiskArea

    RiskArea.objects.create(name="湖北")
    commander = user_for(Role.COMMAND, "D")
    campaign = open_district_campaign(commander, "c")
    worker = user_for(Role.GRID_WORKER, "G1")
    assignment_create(user=commander, campaign=campaign, worker=worker, grid=areas["G1"])
    item = screened(households["G1"])
    ids, errors = [], []

    def submit():
        try:
            visit, _created = visit_record(user=worker, campaign=campaign, visit=item)
            ids.append(visit.pk)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(ids)) == 1 and len(ids) == 50
    assert Visit.objects.count() == 1 and PersonCheck.objects.count() == 2


def test_a_household_outside_the_assignment_is_404_and_nothing_written(
    campaign, worker, households
):
    for key in ("G2", "G3", "G4"):
        with pytest.raises(Http404):
            visit_record(user=worker, campaign=campaign, visit=screened(households[key]))
    assert Visit.objects.count() == 0 and PersonCheck.objects.count() == 0


def test_nobody_home_queues_a_revisit_at_another_time_of_day(campaign, worker, households):
    morning = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    if morning > timezone.now():
        morning -= datetime.timedelta(days=1)
    visit_record(user=worker, campaign=campaign, visit=knock(households["G1"], when=morning))
    progress = progress_of(campaign, households["G1"])
    assert progress.state == "revisit" and not progress.closed
    assert timezone.localtime(progress.revisit_due_at).hour == 14


def test_next_revisit_changes_the_slot():
    evening = timezone.make_aware(datetime.datetime(2026, 2, 3, 19, 30))
    assert next_revisit(evening) == timezone.make_aware(datetime.datetime(2026, 2, 4, 9, 0))
    afternoon = timezone.make_aware(datetime.datetime(2026, 2, 3, 15, 0))
    assert next_revisit(afternoon) == timezone.make_aware(datetime.datetime(2026, 2, 3, 18, 0))


def test_three_failed_attempts_escalate(campaign, worker, households):
    base = timezone.now() - datetime.timedelta(hours=10)
    for attempt in range(3):
        visit_record(
            user=worker,
            campaign=campaign,
            visit=knock(
                households["G1"],
                "not_home" if attempt != 1 else "refused",
                when=base + datetime.timedelta(hours=attempt * 3),
            ),
        )
    progress = progress_of(campaign, households["G1"])
    assert (progress.state, progress.closed, progress.attempts) == ("escalated", True, 3)


@pytest.mark.parametrize("typed, suggestion", [("3.65", "36.5"), ("365", "36.5"), ("3650", "36.5")])
def test_a_decimal_point_slip_in_a_temperature_is_refused_with_a_suggestion(
    campaign, worker, households, typed, suggestion
):
    with pytest.raises(VisitRejected) as error:
        visit_record(
            user=worker, campaign=campaign, visit=screened(households["G1"], temperature=typed)
        )
    assert suggestion in error.value.message and "temperature" in error.value.field
    assert Visit.objects.count() == 0


def test_fever_travel_and_contact_flag_the_person(campaign, worker, households):
    visit, _ = visit_record(
        user=worker,
        campaign=campaign,
        visit=screened(
            households["G1"],
            temperature="38.2",
            travel_from="湖北省武汉市",
            returned_on=timezone.localdate() - datetime.timedelta(days=5),
            contact_with_case=True,
            symptoms=["cough"],
        ),
    )
    check = visit.checks.order_by("person_id").first()
    assert set(check.flags) == {"fever", "risk_area", "contact", "symptoms"}
    assert progress_of(campaign, households["G1"]).persons_flagged == 1


def test_travel_beyond_the_look_back_window_is_not_flagged(campaign, worker, households):
    visit, _ = visit_record(
        user=worker,
        campaign=campaign,
        visit=screened(
            households["G1"],
            travel_from="湖北",
            returned_on=timezone.localdate() - datetime.timedelta(days=30),
        ),
    )
    assert not visit.checks.filter(flagged=True).exists()


def test_a_visit_after_the_campaign_closed_is_refused(campaign, worker, households, user_for):
    campaign_close(user=user_for(Role.COMMAND, "D"), campaign=campaign)
    with pytest.raises(VisitRejected):
        visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    assert Visit.objects.count() == 0


def test_people_found_at_the_door_are_added_and_movers_are_marked(campaign, worker, households):
    household = households["G1"]
    leaver = household.persons.order_by("pk").last()
    item = screened(household)
    item.person_checks[-1].presence = "moved_out"
    item.person_checks[-1].temperature = None
    item.person_checks.append(
        PersonCheckInput(new_person={"name": "新来的", "relation": "租客"}, temperature="36.4")
    )
    visit_record(user=worker, campaign=campaign, visit=item)
    newcomer = Person.objects.get(name="新来的")
    assert newcomer.is_new and newcomer.household == household
    leaver.refresh_from_db()
    assert leaver.status == PersonStatus.MOVED_OUT  # marked, not deleted


def test_a_batch_keeps_the_good_visits_and_returns_reasons(campaign, worker, households, areas):
    from doorstep.registry.models import Household

    extra = [
        Household.objects.create(grid=areas["G1"], household_number=f"B{i}") for i in range(100)
    ]
    from doorstep.screening.services import campaign_enrol_households

    campaign_enrol_households(campaign=campaign)
    HouseholdProgress.objects.filter(campaign=campaign, grid=areas["G1"]).update(assigned_to=worker)
    items = [knock(h, "vacant") for h in extra[:97]]
    items.append(screened(households["G1"], temperature="365"))
    items.append(knock(households["G4"]))
    items.append(knock(extra[97], "teleported"))
    results = visit_batch_record(user=worker, campaign=campaign, visits=items)
    assert [r.status for r in results].count("created") == 97
    assert [r.status for r in results[97:]] == ["rejected", "not_found", "rejected"]
    assert all(r.error for r in results[97:])
    assert Visit.objects.count() == 97


def test_self_report_counts_only_after_verification(campaign, worker, households):
    household = households["G1"]
    token = self_report_token_for(campaign=campaign, household_id=household.pk)
    item = screened(household)
    self_report_submit(token=token.token, visit=item)
    progress = progress_of(campaign, household)
    assert (progress.state, progress.closed) == ("self_reported", False)
    visit = Visit.objects.get()
    visit_verify(user=worker, campaign=campaign, visit_id=visit.pk)
    progress.refresh_from_db()
    assert (progress.state, progress.closed) == ("screened", True)


def test_self_report_link_for_another_household_or_expired(campaign, households):
    token = self_report_token_for(campaign=campaign, household_id=households["G1"].pk)
    with pytest.raises(Http404):
        self_report_submit(token=token.token, visit=screened(households["G2"]))
    token.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    token.save()
    with pytest.raises(Http404):
        self_report_submit(token=token.token, visit=screened(households["G1"]))
    assert Visit.objects.count() == 0


def test_reassignment_keeps_recorded_work(campaign, worker, households, user_for, areas):
    visit_record(user=worker, campaign=campaign, visit=knock(households["G1"]))
    other = user_for(Role.GRID_WORKER, "G1")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment_create(user=admin, campaign=campaign, worker=other, grid=areas["G1"])
    progress = progress_of(campaign, households["G1"])
    assert progress.assigned_to == other and progress.attempts == 1
    assert Visit.objects.get().worker == worker
    with pytest.raises(Http404):
        visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))


def test_claiming_an_unassigned_grid(campaign, user_for, areas, households):
    worker = user_for(Role.GRID_WORKER, "G2")
    assignment = assignment_claim(worker=worker, campaign=campaign, grid=areas["G2"])
    assert assignment.claimed
    assert progress_of(campaign, households["G2"]).assigned_to == worker
    second = user_for(Role.GRID_WORKER, "G2")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        assignment_claim(worker=second, campaign=campaign, grid=areas["G2"])


def test_recompute_finds_no_difference_then_catches_a_tampered_row(
    campaign, worker, households, capsys
):
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    call_command("recompute_progress", str(campaign.pk))
    assert "differences=0" in capsys.readouterr().out
    HouseholdProgress.objects.filter(campaign=campaign, household=households["G1"]).update(
        state="not_started", closed=False
    )
    with pytest.raises(SystemExit):
        call_command("recompute_progress", str(campaign.pk))
    call_command("recompute_progress", str(campaign.pk), "--fix")
    assert progress_of(campaign, households["G1"]).state == "screened"


def test_unknown_fields_and_future_times_are_refused(campaign, worker, households):
    item = screened(households["G1"], when=timezone.now() + datetime.timedelta(hours=2))
    with pytest.raises(VisitRejected):
        visit_record(user=worker, campaign=campaign, visit=item)
    item = screened(households["G1"], symptoms=["headache-ish"])
    with pytest.raises(VisitRejected):
        visit_record(user=worker, campaign=campaign, visit=item)
    item = screened(households["G1"])
    item.client_uuid = uuid.uuid4()
    item.person_checks[0].person_id = households["G2"].persons.first().pk
    with pytest.raises(VisitRejected):
        visit_record(user=worker, campaign=campaign, visit=item)
    assert Visit.objects.count() == 0


def test_a_known_uuid_is_no_key_to_another_households_visit(
    campaign, worker, households, user_for, areas
):
    item = screened(households["G1"])
    visit_record(user=worker, campaign=campaign, visit=item)
    stranger = user_for(Role.GRID_WORKER, "G4")
    admin = user_for(Role.COMMAND, "D")
    assignment_create(user=admin, campaign=campaign, worker=stranger, grid=areas["G4"])
    with pytest.raises(Http404):
        visit_record(user=stranger, campaign=campaign, visit=item)
    item.notes = "other body"
    with pytest.raises(Http404):  # not a 409 that would confirm the UUID exists
        visit_record(user=stranger, campaign=campaign, visit=item)


def test_a_worker_moved_to_another_grid_loses_the_old_households(
    campaign, worker, households, areas
):
    from doorstep.screening.selectors import progress_visible_to

    assert progress_visible_to(worker, campaign).count() == 1
    worker.jurisdiction_area = areas["G2"]
    worker.save()
    assert progress_visible_to(worker, campaign).count() == 0
    with pytest.raises(Http404):
        visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))


def test_moved_out_persons_leave_the_denominator(campaign, worker, households):
    household = households["G1"]
    item = screened(household)
    item.person_checks[-1].presence = "moved_out"
    item.person_checks[-1].temperature = None
    visit_record(user=worker, campaign=campaign, visit=item)
    progress = progress_of(campaign, household)
    assert (progress.persons_total, progress.persons_seen, progress.persons_elsewhere) == (1, 1, 0)
    call_command("recompute_progress", str(campaign.pk))  # no difference: exits 0


def test_a_later_screening_updates_the_person_figures(campaign, worker, households):
    household = households["G1"]
    earlier = timezone.now() - datetime.timedelta(hours=3)
    visit_record(user=worker, campaign=campaign, visit=screened(household, when=earlier))
    assert progress_of(campaign, household).persons_flagged == 0
    visit_record(user=worker, campaign=campaign, visit=screened(household, temperature="38.4"))
    assert progress_of(campaign, household).persons_flagged == 1


def test_households_imported_later_join_the_open_campaign(campaign, areas, tmp_path):
    from doorstep.imports.services import (
        roster_import_create,
        roster_import_run,
        roster_import_start,
    )
    from tests.factories import unique_id_number
    from tests.sheets import write_csv

    path = write_csv(
        tmp_path / "late.csv", [["LATE1", "迟到", unique_id_number(), "", "户主", "天生路9号101"]]
    )
    with open(path, "rb") as stream:
        job = roster_import_create(
            user=None, area=areas["G2"], stream=stream, original_name="late.csv"
        )
    roster_import_start(user=None, job=job, enqueue=False)
    roster_import_run(job_id=job.pk)
    progress = HouseholdProgress.objects.get(campaign=campaign, household__household_number="LATE1")
    assert (progress.state, progress.persons_total, progress.grid) == (
        "not_started",
        1,
        areas["G2"],
    )


def test_progress_kept_by_the_services_equals_a_fold_from_scratch(
    campaign, worker, households, capsys
):
    """Visits in random order (evening entries of earlier knocks, self-reports, verifications):
    the progress the services keep step by step must equal recompute_progress's fold."""
    import random

    from doorstep.screening.services import self_report_token_for

    rnd = random.Random(20200203)
    household = households["G1"]
    token = self_report_token_for(campaign=campaign, household_id=household.pk)
    base = timezone.now() - datetime.timedelta(hours=30)
    for _round in range(40):
        when = base + datetime.timedelta(minutes=rnd.randrange(0, 1700))
        kind = rnd.choice(["not_home", "refused", "screened", "vacant", "self", "verify"])
        if kind == "self":
            self_report_submit(token=token.token, visit=screened(household, when=when))
        elif kind == "verify":
            pending = Visit.objects.filter(source="self_report", verified_at__isnull=True).first()
            if pending:
                visit_verify(user=worker, campaign=campaign, visit_id=pending.pk)
        elif kind == "screened":
            visit_record(
                user=worker,
                campaign=campaign,
                visit=screened(household, when=when, temperature=rnd.choice(["36.5", "38.5"])),
            )
        else:
            visit_record(user=worker, campaign=campaign, visit=knock(household, kind, when=when))
        call_command("recompute_progress", str(campaign.pk))  # exits 1 on any difference
    assert "differences=0" in capsys.readouterr().out


def test_a_retry_after_the_campaign_closed_still_gets_its_first_answer(
    campaign, worker, households, user_for
):
    item = screened(households["G1"])
    first, _ = visit_record(user=worker, campaign=campaign, visit=item)
    campaign_close(user=user_for(Role.COMMAND, "D"), campaign=campaign)
    again, created = visit_record(user=worker, campaign=campaign, visit=item)
    assert (again.pk, created) == (first.pk, False)
    assert Visit.objects.count() == 1


def test_only_a_manager_of_the_scope_can_close_a_campaign(campaign, worker, user_for):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        campaign_close(user=worker, campaign=campaign)
    with pytest.raises(PermissionDenied):
        campaign_close(user=user_for(Role.STREET_ADMIN, "S1"), campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.closed_at is None
