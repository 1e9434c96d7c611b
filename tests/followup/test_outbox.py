"""The follow-up pages' offline outbox (issue 14, point 7): POST /api/followup/checks/outbox
reads each record with the check page's own form code; idempotent by client UUID with the
check API's 409 rule; each record answered on its own."""

import datetime
import uuid

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.followup.models import Check, CheckChange, CheckSubmission, Referral
from doorstep.followup.services import check_record, monitoring_release

from .conftest import check_input, moments_ago
from .test_api import bearer, post

URL = "/api/followup/checks/outbox"


def record(key_person, *, temperature="36.6", outcome="measured", slot="", when=None, **kw):
    form = [["slot", slot], ["temperature", temperature], ["method", "visit"]]
    form.append(["outcome", outcome])
    body = {
        "client_uuid": str(uuid.uuid4()),
        "key_person_id": key_person.pk,
        "measured_at": (when or moments_ago(3)).isoformat(),
        "form": form,
    }
    body.update(kw)
    return body


def send(user, *records):
    response = post(bearer(user), URL, {"records": list(records)})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_check_recorded_offline_lands_once_and_a_replay_is_a_duplicate(key_person, fworker):
    # given a check the phone kept while offline
    kept = record(key_person, temperature="36.8")
    # when it is sent, and sent again (the answer was lost)
    first = send(fworker, kept)
    again = send(fworker, kept)
    # then it was recorded once, at the phone's time, and the replay got the first answer
    assert [a["status"] for a in first] == ["created"]
    assert [a["status"] for a in again] == ["duplicate"]
    assert again[0]["check_id"] == first[0]["check_id"]
    check = Check.objects.get()
    assert str(check.temperature) == "36.8"
    assert check.measured_at == datetime.datetime.fromisoformat(kept["measured_at"])
    assert check.entered_by == fworker and check.method == "visit"
    assert CheckSubmission.objects.count() == 1


def test_the_same_uuid_with_another_form_is_a_conflict_and_writes_nothing(key_person, fworker):
    kept = record(key_person)
    send(fworker, kept)
    changed = {**kept, "form": [["temperature", "37.9"], ["outcome", "measured"]]}
    answer = send(fworker, changed)
    assert answer[0]["status"] == "conflict" and answer[0]["field"] == "client_uuid"
    assert Check.objects.count() == 1 and str(Check.objects.get().temperature) == "36.6"
    assert not CheckChange.objects.exists() and not Referral.objects.exists()


def test_a_second_check_of_the_slot_replaces_the_first_with_its_history(key_person, fworker):
    answers = send(fworker, record(key_person), record(key_person, temperature="36.9"))
    assert [a["status"] for a in answers] == ["created", "replaced"]
    assert Check.objects.count() == 1 and str(Check.objects.get().temperature) == "36.9"
    assert CheckChange.objects.get().previous["temperature"] == "36.6"


def test_another_workers_key_person_is_not_found_and_nothing_is_written(key_person, user_for):
    # given a worker of another grid who learned the key person's id
    stranger = user_for(Role.GRID_WORKER, "G2")
    # when their phone sends a check for that person
    answers = send(stranger, record(key_person))
    # then it is "not found", like an id that does not exist, and nothing was written
    assert answers[0]["status"] == "not_found"
    assert (
        answers[0]["error"] == send(stranger, record(key_person, key_person_id=999999))[0]["error"]
    )
    assert not Check.objects.exists() and not CheckSubmission.objects.exists()


def test_a_check_after_the_release_is_rejected_with_the_reason(key_person, fworker, admin):
    monitoring = key_person.monitorings.get()
    check_record(user=fworker, key_person=key_person, data=check_input())
    monitoring_release(user=admin, monitoring=monitoring, reason="症状消失，提前解除")
    # a check saved on the phone after the release reaches the server later
    answers = send(fworker, record(key_person, when=timezone.now()))
    assert answers[0]["status"] == "rejected"
    assert answers[0]["field"] == "measured_at" and answers[0]["error"]
    assert Check.objects.count() == 1 and CheckSubmission.objects.count() == 1


def test_a_future_time_and_a_damaged_form_are_rejected_with_reasons(key_person, fworker):
    future = record(key_person, when=timezone.now() + datetime.timedelta(hours=3))
    damaged = record(key_person, slot="yesterday/x")
    bad_temperature = record(key_person, temperature="365")
    answers = send(fworker, future, damaged, bad_temperature)
    assert [a["status"] for a in answers] == ["rejected"] * 3
    assert [a["field"] for a in answers] == ["measured_at", "slot", "temperature"]
    assert all(a["error"] for a in answers)
    assert not Check.objects.exists()


def test_a_form_whose_page_post_landed_but_lost_its_answer_is_a_duplicate(key_person, fworker):
    # given the check page's own post that reached the server (dated by the server)...
    client = Client()
    client.force_login(fworker)
    kept = record(key_person, when=timezone.now() - datetime.timedelta(seconds=20))
    fields = dict(kept["form"])
    page = client.post(
        reverse("followup:check", args=[key_person.pk]),
        {**fields, "client_uuid": kept["client_uuid"]},
    )
    assert page.status_code == 302
    # ...whose answer was lost, so the phone kept the form with its own time
    answers = send(fworker, kept)
    # then the outbox's copy is the same check, not a conflict nor a second one
    assert answers[0]["status"] == "duplicate"
    assert Check.objects.count() == 1 and CheckSubmission.objects.count() == 1


def test_not_reached_is_read_as_the_page_reads_it(key_person, fworker):
    answers = send(fworker, record(key_person, temperature="", outcome="unreachable"))
    assert answers[0]["status"] == "created"
    check = Check.objects.get()
    assert check.outcome == "unreachable" and check.temperature is None


def test_a_batch_of_checks_stops_once_the_refused_writes_are_spent(key_person, fworker, settings):
    """A phone probing key-person ids through the outbox is no faster than through single
    posts: after the budget of refusals the rest is not tried ("throttled", sent again later)."""
    from django.core.cache import cache

    from doorstep.core.models import AuditEvent

    settings.DOORSTEP_RATE_REFUSED = "4/h"
    cache.clear()
    probes = [record(key_person, key_person_id=999_000 + n) for n in range(6)]
    answers = send(fworker, *probes, record(key_person))
    assert [a["status"] for a in answers] == ["not_found"] * 4 + ["throttled"] * 3
    assert not Check.objects.exists()
    assert AuditEvent.objects.filter(action="write.refused", user=fworker).count() == 4
