"""Checks recorded offline for a key person who changed hands before they arrived (issue 14,
point 7): held for the community that now answers for the person, never dropped; accepted
through the check service or discarded with a reason; a sender who never followed the person
is told exactly what an unknown id is told."""

import datetime
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.core.masking import mask_id_number
from doorstep.core.models import AuditEvent
from doorstep.followup import schedule
from doorstep.followup.models import (
    Check,
    CheckChange,
    CheckSubmission,
    HeldCheck,
    HeldCheckState,
)
from doorstep.followup.services import (
    check_record,
    key_person_reassign,
    monitoring_release,
    transfer_accept,
    transfer_ask,
)

from ..two_factor import verify_session
from .conftest import add_key_person, check_input, moments_ago, today
from .test_api import bearer, post

URL = "/api/followup/checks/outbox"
HELD_URL = "/followup/held/"


def record(key_person_id, *, temperature="36.6", slot="", when=None, **kw):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "key_person_id": key_person_id,
        "measured_at": (when or moments_ago(3)).isoformat(),
        "form": [
            ["slot", slot],
            ["temperature", temperature],
            ["method", "visit"],
            ["outcome", "measured"],
        ],
    }
    body.update(kw)
    return body


def send(user, *records):
    response = post(bearer(user), URL, {"records": list(records)})
    assert response.status_code == 200, response.content
    return response.json()


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    verify_session(client, user)
    return client


@pytest.fixture
def followed(households, admin, fworker):
    """户主G1, added by the community admin and given to the G1 worker two days ago (so only
    the history links the worker to the person once it is taken away)."""
    person = households["G1"].persons.order_by("pk").first()
    return add_key_person(
        admin, person, days_ago=2, start_date=today() - datetime.timedelta(days=2), worker=fworker
    )


@pytest.fixture
def reassigned(followed, admin, user_for):
    """The same key person, given meanwhile to a worker of G2 (same community)."""
    other = user_for(Role.GRID_WORKER, "G2")
    key_person_reassign(user=admin, key_person=followed, worker=other)
    followed.refresh_from_db()
    return followed


def test_a_check_of_a_key_person_reassigned_meanwhile_is_held_never_dropped(reassigned, fworker):
    # given a check the G1 worker saved offline before the person was given to another worker
    kept = record(reassigned.pk, temperature="37.0")
    # when the phone sends it
    answers = send(fworker, kept)
    # then it is held for the community, and nothing was recorded as a check
    assert answers[0]["status"] == "held" and answers[0]["field"] == "held"
    assert answers[0]["error"]
    held = HeldCheck.objects.get()
    assert held.sender == fworker and held.key_person == reassigned
    assert str(held.client_uuid) == kept["client_uuid"] and held.reason == "reassigned"
    assert held.form == kept["form"] and held.state == HeldCheckState.HELD
    assert not Check.objects.exists() and not CheckSubmission.objects.exists()
    assert AuditEvent.objects.filter(action="check.held", user=fworker).count() == 1


def test_a_replay_answers_the_same_and_never_holds_twice(reassigned, fworker):
    kept = record(reassigned.pk)
    first = send(fworker, kept)
    again = send(fworker, kept, kept)
    assert [a["status"] for a in again] == ["held", "held"]
    assert again[0]["error"] == first[0]["error"]
    assert HeldCheck.objects.count() == 1
    # the same UUID with another form: a conflict, nothing kept of it
    changed = {**kept, "form": [["temperature", "38.9"], ["outcome", "measured"]]}
    answer = send(fworker, changed)[0]
    assert answer["status"] == "conflict" and answer["field"] == "client_uuid"
    assert HeldCheck.objects.get().form == kept["form"]


def test_a_check_of_a_key_person_transferred_meanwhile_is_held_for_the_new_community(
    followed, admin, fworker, user_for
):
    # given the G1 worker's key person, transferred to C2 and accepted there
    receiver = user_for(Role.COMMUNITY_ADMIN, "C2")
    transfer_ask(user=admin, key_person=followed, to=receiver.jurisdiction_area, reason="住在C2")
    transfer_accept(user=receiver, key_person=followed)
    # when the worker's offline check arrives
    answers = send(fworker, record(followed.pk, temperature="36.9"))
    # then it is held (as transferred), shown to C2's admins, not to C1's any more
    assert answers[0]["status"] == "held"
    held = HeldCheck.objects.get()
    assert held.reason == "transferred"
    person = followed.person
    seen = page_client(receiver).get(HELD_URL)
    assert seen.status_code == 200
    text = seen.content.decode()
    assert person.name in text and "36.9" in text and fworker.display_name in text
    assert mask_id_number(person.shown_id_number) in text
    assert person.shown_id_number not in text
    assert person.name not in page_client(admin).get(HELD_URL).content.decode()
    # and the worker's phone cannot read the list
    assert person.name not in page_client(fworker).get(HELD_URL).content.decode()


def test_accepting_records_the_senders_check_at_the_phones_time(reassigned, fworker, admin):
    # given a held check for yesterday's first slot (ended: a late check whatever the hour)
    day = today() - datetime.timedelta(days=1)
    kept = record(reassigned.pk, temperature="36.8", slot=f"{day}/0")
    send(fworker, kept)
    held = HeldCheck.objects.get()
    # when the community admin accepts it
    response = page_client(admin).post(
        reverse("followup:held_check_decide", args=[held.pk]), {"decision": "accept"}
    )
    assert response.status_code == 302
    # then it is the worker's check of that slot, marked late, and the decision is audited
    check = Check.objects.get()
    assert check.entered_by == fworker and str(check.temperature) == "36.8"
    assert (check.slot_date, check.slot, check.late) == (day, 0, True)
    held.refresh_from_db()
    assert held.state == HeldCheckState.ACCEPTED and held.check_row == check
    assert held.decided_by == admin
    assert AuditEvent.objects.filter(action="check.held.accept", user=admin).count() == 1
    # a replay from the phone now says it was accepted; accepting again changes nothing
    assert send(fworker, kept)[0]["status"] == "duplicate"
    page_client(admin).post(
        reverse("followup:held_check_decide", args=[held.pk]), {"decision": "accept"}
    )
    assert Check.objects.count() == 1


def test_accepting_replaces_the_slots_check_and_keeps_its_history(reassigned, fworker, admin):
    kept = record(reassigned.pk, temperature="37.1")
    send(fworker, kept)
    # meanwhile the new worker checked the same slot
    new_worker = reassigned.worker
    measured = datetime.datetime.fromisoformat(kept["measured_at"])
    # 30 s after the kept one, or before it when that would be the next slot (just after noon)
    same_slot = measured + datetime.timedelta(seconds=30)
    if schedule.slot_of(same_slot) != schedule.slot_of(measured):
        same_slot = measured - datetime.timedelta(seconds=30)
    check_record(
        user=new_worker,
        key_person=reassigned,
        data=check_input(temperature="36.5", when=same_slot),
    )
    held = HeldCheck.objects.get()
    page_client(admin).post(
        reverse("followup:held_check_decide", args=[held.pk]), {"decision": "accept"}
    )
    check = Check.objects.get()
    assert str(check.temperature) == "37.1" and check.entered_by == fworker
    assert CheckChange.objects.get().previous["temperature"] == "36.5"


def test_an_accept_by_someone_outside_is_404_and_changes_nothing(reassigned, fworker, user_for):
    send(fworker, record(reassigned.pk))
    held = HeldCheck.objects.get()
    outsider = user_for(Role.COMMUNITY_ADMIN, "C3")
    for decision in ({"decision": "accept"}, {"decision": "discard", "note": "越权"}):
        response = page_client(outsider).post(
            reverse("followup:held_check_decide", args=[held.pk]), decision
        )
        assert response.status_code == 404
    assert reassigned.person.name not in page_client(outsider).get(HELD_URL).content.decode()
    held.refresh_from_db()
    assert held.state == HeldCheckState.HELD and held.decided_by is None
    assert not Check.objects.exists()


def test_accepting_after_the_release_is_refused_with_the_reason(reassigned, fworker, admin):
    # given a released monitoring, and a check the worker saved on the phone after the release
    monitoring = reassigned.monitorings.get()
    check_record(user=reassigned.worker, key_person=reassigned, data=check_input())
    monitoring_release(user=admin, monitoring=monitoring, reason="症状消失，提前解除")
    send(fworker, record(reassigned.pk, when=timezone.now()))
    held = HeldCheck.objects.get()
    # when the admin accepts it
    response = page_client(admin).post(
        reverse("followup:held_check_decide", args=[held.pk]), {"decision": "accept"}, follow=True
    )
    # then the page says why, and the check stays held; nothing was recorded
    assert "解除" in response.content.decode() or "release" in response.content.decode()
    held.refresh_from_db()
    assert held.state == HeldCheckState.HELD
    assert Check.objects.count() == 1
    assert AuditEvent.objects.filter(action="check.held.accept").count() == 0


def test_discarding_needs_a_reason_is_audited_and_the_phone_is_told(reassigned, fworker, admin):
    kept = record(reassigned.pk)
    send(fworker, kept)
    held = HeldCheck.objects.get()
    url = reverse("followup:held_check_decide", args=[held.pk])
    client = page_client(admin)
    client.post(url, {"decision": "discard", "note": "  "})
    held.refresh_from_db()
    assert held.state == HeldCheckState.HELD
    client.post(url, {"decision": "discard", "note": "已由新网格员复测"})
    held.refresh_from_db()
    assert held.state == HeldCheckState.DISCARDED and held.decision_note == "已由新网格员复测"
    assert AuditEvent.objects.filter(action="check.held.discard", user=admin).count() == 1
    answer = send(fworker, kept)[0]
    assert answer["status"] == "rejected" and "已由新网格员复测" in answer["error"]
    assert not Check.objects.exists()


def test_a_sender_who_never_followed_the_person_is_told_what_an_unknown_id_is_told(
    reassigned, user_for
):
    # given a worker of another community who learned the key person's id
    stranger = user_for(Role.GRID_WORKER, "G3")
    # when their phone sends a check for that person, and one for an id that does not exist
    real = send(stranger, record(reassigned.pk))[0]
    absent = send(stranger, record(999999))[0]
    # then both answers are the same, and nothing is held
    for answer in (real, absent):
        answer.pop("client_uuid")
    assert real == absent and real["status"] == "not_found"
    assert not HeldCheck.objects.exists() and not Check.objects.exists()


def test_another_senders_uuid_is_no_key_to_a_held_check(reassigned, fworker, user_for):
    kept = record(reassigned.pk)
    send(fworker, kept)
    stranger = user_for(Role.GRID_WORKER, "G3")
    answer = send(stranger, kept)[0]
    assert answer["status"] == "not_found"
    assert HeldCheck.objects.count() == 1


def test_a_linked_senders_impossible_check_is_refused_not_held(reassigned, fworker):
    answer = send(fworker, record(reassigned.pk, temperature="365"))[0]
    assert answer["status"] == "rejected" and answer["field"] == "temperature"
    assert not HeldCheck.objects.exists()


def test_the_holding_list_is_linked_from_the_held_visits_page_and_the_nav(reassigned, admin):
    client = page_client(admin)
    page = client.get(reverse("followup:key_persons")).content.decode()
    assert HELD_URL in page
