"""The follow-up lists and the check submission read a fixed number of times whatever the
number of rows (no read per row), and a check is written in a fixed number of statements.
These are assertions on query counts, never on time (bench/followup.py measures the time)."""

import datetime
import json
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.followup import field_reads, schedule, selectors
from doorstep.followup.models import Check, CheckChange, CheckSubmission, Monitoring
from doorstep.followup.services import check_record

from ..factories import PersonFactory
from ..two_factor import api_key_for
from .conftest import add_key_person, check_input

# session, user; one statement: the key persons with their active monitoring and its last two
# days' checks (the new key persons among them), and the overdue referrals
TODAY_PAGE_MAX_QUERIES = 3


def _more_key_persons(worker, household, count: int) -> list:
    """Key persons of the worker in every state the page shows: due, missed yesterday, ending
    today (exposed 14 days ago), checked, not reached."""
    made = []
    for n in range(count):
        person = PersonFactory(household=household, name=f"多{n}")
        days_ago = (0, 1, 2, 14)[n % 4]
        made.append(
            add_key_person(
                worker,
                person,
                days_ago=days_ago,
                start_date=timezone.localdate() - datetime.timedelta(days=min(days_ago, 2)),
            )
        )
    for key_person in made[::3]:
        check_record(user=worker, key_person=key_person, data=check_input())
    unreachable = check_input(temperature=None, outcome="unreachable")
    check_record(user=worker, key_person=made[1], data=unreachable)
    return made


def _today_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("followup:today"))
    assert page.status_code == 200
    return len(queries), page.content.decode()


def test_the_today_page_reads_the_same_few_times_for_one_row_or_many(
    key_person, fworker, households, client, django_assert_max_num_queries
):
    client.force_login(fworker)
    client.get(reverse("followup:today"))  # the session's first read aside
    one, _page = _today_queries(client)
    made = _more_key_persons(fworker, households["G1"], 12)
    many, page = _today_queries(client)
    assert many == one
    with django_assert_max_num_queries(TODAY_PAGE_MAX_QUERIES):
        client.get(reverse("followup:today"))
    # and it shows them all, each with its link
    for key_person in made:
        assert key_person.person.name in page
    assert reverse("followup:check", args=[made[2].pk]) in page
    assert reverse("followup:key_person", args=[made[3].pk]) in page


def _due_read(admin, now):
    with CaptureQueriesContext(connection) as queries:
        rows = field_reads.due_now_rows(admin, now)
        shown = [(m.key_person_id, m.name, m.end_date) for m in rows]
    return len(queries), rows, shown


def test_the_due_list_reads_twice_with_the_names_a_list_shows(
    key_person, fworker, admin, households
):
    now = timezone.now()
    few, _rows, _shown = _due_read(admin, now)
    _more_key_persons(fworker, households["G1"], 12)
    many, rows, shown = _due_read(admin, now)
    # the jurisdiction's areas, then the rows with their names: no read per row
    assert many == few <= 2
    assert len(shown) >= 5
    # the same rows as the active monitorings owing the current slot, told one by one
    slot = schedule.slot_of(now)
    owing = [
        m.pk
        for m in selectors.active_monitorings(admin)
        if m.end_date >= slot.day
        and m.started_at < slot.ends_at
        and not Check.objects.filter(monitoring=m, slot_date=slot.day, slot=slot.index).exists()
    ]
    assert [m.pk for m in rows] == owing
    # and the models' queryset (for counts) holds them, in the same order, with the same columns
    assert shown == [
        (m.key_person_id, m.key_person.person.name, m.end_date)
        for m in selectors.due_now(admin, now)
    ]
    assert [m.pk for m in field_reads.due_now_rows(admin, now, limit=3)] == owing[:3]


def test_the_due_api_reads_the_same_few_times_for_many_rows(key_person, fworker, households):
    client = _bearer(fworker)
    client.get("/api/followup/checks/due")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/followup/checks/due").status_code == 200
    _more_key_persons(fworker, households["G1"], 10)
    with CaptureQueriesContext(connection) as many:
        answer = client.get("/api/followup/checks/due")
    assert answer.status_code == 200 and len(answer.json()) > 5
    assert len(many) == len(few)


def _bearer(user):
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user, 'test')}")


def _submit(client, key_person, body):
    return client.post(
        f"/api/followup/key-persons/{key_person.pk}/checks",
        json.dumps(body),
        content_type="application/json",
    )


def _body(**kw):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "measured_at": (timezone.now() - datetime.timedelta(minutes=1)).isoformat(),
        "temperature": "36.6",
    }
    body.update(kw)
    return body


def submit_max_queries() -> int:
    """The token; the key person with its monitorings, locked; BEGIN and COMMIT (savepoints in
    a test); the check, its submission and the tally: one statement on PostgreSQL, three
    elsewhere."""
    return 5 if connection.vendor == "postgresql" else 7


def test_a_check_is_written_in_a_fixed_number_of_statements(
    key_person, fworker, django_assert_max_num_queries
):
    client = _bearer(fworker)
    client.get("/api/followup/checks/due")  # the token's first use (it notes when) aside
    with django_assert_max_num_queries(submit_max_queries()):
        first = _submit(client, key_person, _body())
    assert first.status_code == 201, first.content
    # the check, its submission and the tally, all written
    check = Check.objects.get(pk=first.json()["id"])
    assert (str(check.temperature), check.symptoms, check.entered_by) == ("36.6", [], fworker)
    submission = CheckSubmission.objects.get(check_row=check)
    assert len(submission.body_hash) == 64 and submission.created_at is not None
    monitoring = Monitoring.objects.get(pk=check.monitoring_id)
    assert monitoring.checked_on == check.slot_date
    assert monitoring.checked_mask & (1 << check.slot)
    assert monitoring.last_check_at == check.measured_at
    # a second check for the same slot still replaces the first, with history
    second = _submit(client, key_person, _body(temperature="36.8"))
    assert second.status_code == 200 and second.json()["status"] == "replaced"
    assert Check.objects.count() == 1 and CheckChange.objects.count() == 1


def test_a_wrong_tally_never_makes_a_second_check_for_a_slot(key_person, fworker):
    """The write trusts the monitoring's tally to say the slot is free; when the tally is wrong
    (it says no check today while there is one) the one-check-per-slot rule stops the insert
    and the write runs again reading the checks: the check is replaced, with history."""
    client = _bearer(fworker)
    first = _submit(client, key_person, _body())
    assert first.status_code == 201
    Monitoring.objects.filter(key_person=key_person).update(
        checked_on=None, checked_mask=0, last_check_at=None
    )
    again = _submit(client, key_person, _body(temperature="37.0"))
    assert again.status_code == 200, again.content
    assert again.json()["status"] == "replaced"
    check = Check.objects.get()
    assert str(check.temperature) == "37.0"
    assert CheckChange.objects.filter(check_row=check).count() == 1
    assert CheckSubmission.objects.count() == 2
    # and the tally is whole again
    monitoring = Monitoring.objects.get(key_person=key_person)
    assert monitoring.checked_on == check.slot_date
    assert monitoring.checked_mask & (1 << check.slot)


@pytest.mark.parametrize("tally", ["right", "wrong"])
def test_a_retried_submission_answers_duplicate_whatever_the_tally(key_person, fworker, tally):
    client = _bearer(fworker)
    body = _body()
    assert _submit(client, key_person, body).status_code == 201
    if tally == "wrong":
        Monitoring.objects.filter(key_person=key_person).update(checked_on=None, checked_mask=0)
    again = _submit(client, key_person, body)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert Check.objects.count() == 1 and CheckSubmission.objects.count() == 1
    assert not CheckChange.objects.exists()


def test_a_check_for_another_workers_key_person_is_404_and_writes_nothing(key_person, user_for):
    other = user_for(Role.GRID_WORKER, "G1")
    answer = _submit(_bearer(other), key_person, _body())
    assert answer.status_code == 404
    assert not Check.objects.exists() and not CheckSubmission.objects.exists()
    # a damaged body for it answers 404 too, before any rule about the check
    damaged = _submit(_bearer(other), key_person, _body(outcome="bogus"))
    assert damaged.status_code == 404
    assert not Check.objects.exists()
