"""The offline outbox (issue 14): records sent as the visit form was filled in, answered one by
one; a record whose household moved, or that someone else's screening overtook, is held for
the community admin, never dropped; a replay after the campaign closed is refused with the
reason."""

import datetime
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.screening import outbox
from doorstep.screening.models import HeldState, HeldVisit, HouseholdProgress, Visit
from doorstep.screening.services import visit_record
from tests.factories import HouseholdFactory, PersonFactory

from .conftest import screened


@pytest.fixture
def phone(worker):
    client = Client()
    client.force_login(worker)
    client.user = worker
    return client


def outbox_url(campaign) -> str:
    return f"/api/campaigns/{campaign.pk}/visits/outbox"


def record(household, *, minutes_ago=30, outcome="screened", temperature="36.6", **extra):
    form = [["f", "all"], ["notes", ""]]
    for person in household.persons.order_by("pk"):
        form += [[f"p{person.pk}-presence", "present"], [f"p{person.pk}-temperature", temperature]]
    form.append(["outcome", outcome])
    return {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household.pk,
        "visited_at": (timezone.now() - datetime.timedelta(minutes=minutes_ago)).isoformat(),
        "form": form,
        **extra,
    }


def send(client, campaign, *records):
    response = client.post(
        outbox_url(campaign), {"records": list(records)}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_records_land_once_and_a_replay_gets_the_first_answer(phone, campaign, households):
    # given a record made offline for the worker's household
    sent = record(households["G1"])
    # when the phone sends it twice (the first answer was lost on the way)
    first = send(phone, campaign, sent)
    again = send(phone, campaign, sent)
    # then one visit exists, the worker's, with the form's answers
    assert first[0]["status"] == "created" and again[0]["status"] == "duplicate"
    assert first[0]["visit_id"] == again[0]["visit_id"]
    visit = Visit.objects.get()
    assert visit.worker == phone.user and str(visit.client_uuid) == sent["client_uuid"]
    assert visit.checks.count() == households["G1"].persons.count()
    assert HouseholdProgress.objects.get(household=households["G1"]).closed


def test_a_form_the_page_would_refuse_is_rejected_with_its_reason(phone, campaign, households):
    sent = record(households["G1"], temperature="")
    answer = send(phone, campaign, sent)[0]
    assert answer["status"] == "rejected" and answer["error"]
    assert Visit.objects.count() == 0 and HeldVisit.objects.count() == 0


def test_a_record_of_a_household_moved_meanwhile_is_held_not_dropped(
    phone, campaign, households, user_for
):
    # given a record made before the household was given to another worker of the same grid
    sent = record(households["G1"])
    other = user_for(Role.GRID_WORKER, "G1")
    HouseholdProgress.objects.filter(household=households["G1"]).update(assigned_to=other)
    # when the phone sends it
    answer = send(phone, campaign, sent)[0]
    # then it is held for the community, with the worker, the form and the reason
    assert answer["status"] == "held" and answer["error"]
    held = HeldVisit.objects.get()
    assert (held.worker, held.household_id, held.reason) == (
        phone.user,
        households["G1"].pk,
        "reassigned",
    )
    assert Visit.objects.count() == 0
    # and a replay is the same held record, not a second one
    assert send(phone, campaign, sent)[0]["status"] == "held"
    assert HeldVisit.objects.count() == 1


def test_a_household_outside_the_jurisdiction_is_not_found_and_not_held(
    phone, campaign, households
):
    answer = send(phone, campaign, record(households["G2"]))[0]
    assert answer["status"] == "not_found"
    assert HeldVisit.objects.count() == 0 and Visit.objects.count() == 0


def test_someone_else_screening_meanwhile_is_a_conflict_kept_for_the_admin(
    phone, campaign, households, user_for
):
    # given a record made half an hour ago, and the community admin screening the household since
    sent = record(households["G1"], minutes_ago=30)
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    visit_record(user=admin, campaign=campaign, visit=screened(households["G1"]))
    # when the phone sends it
    answer = send(phone, campaign, sent)[0]
    # then it is a conflict, held, and the admin's visit is the only one
    assert answer["status"] == "conflict" and answer["field"] == "held" and answer["error"]
    assert HeldVisit.objects.get().reason == "screened_by_other"
    assert Visit.objects.count() == 1


def test_a_replay_after_the_campaign_closed_is_rejected_with_the_reason(
    phone, campaign, households
):
    sent = record(households["G1"])
    campaign.closed_at = timezone.now()
    campaign.save()
    answer = send(phone, campaign, sent)[0]
    assert answer["status"] == "rejected" and answer["field"] == "visited_at"
    assert Visit.objects.count() == 0 and HeldVisit.objects.count() == 0


@pytest.fixture
def held(phone, campaign, households, user_for):
    """A record held because G1's household went to another worker."""
    sent = record(households["G1"])
    other = user_for(Role.GRID_WORKER, "G1")
    HouseholdProgress.objects.filter(household=households["G1"]).update(assigned_to=other)
    send(phone, campaign, sent)
    return HeldVisit.objects.get(), sent


def test_the_admin_sees_the_held_record_and_accepts_it_as_the_workers_visit(
    client_for, phone, campaign, held
):
    row, sent = held
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    page = admin.get(reverse("screening:held_visits", args=[campaign.pk]))
    assert page.status_code == 200 and phone.user.display_name in page.content.decode()
    response = admin.post(
        reverse("screening:held_visit_decide", args=[campaign.pk, row.pk]), {"decision": "accept"}
    )
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert visit.worker == phone.user and str(visit.client_uuid) == sent["client_uuid"]
    row.refresh_from_db()
    assert row.state == HeldState.ACCEPTED and row.visit == visit
    assert AuditEvent.objects.filter(action="visit.held.accept").count() == 1
    # the phone asking again learns it was accepted
    assert send(phone, campaign, sent)[0]["status"] == "duplicate"


def test_a_rejection_needs_a_reason_and_the_phone_is_told_it(client_for, phone, campaign, held):
    row, sent = held
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    decide = reverse("screening:held_visit_decide", args=[campaign.pk, row.pk])
    admin.post(decide, {"decision": "reject", "note": " "})
    row.refresh_from_db()
    assert row.state == HeldState.HELD
    admin.post(decide, {"decision": "reject", "note": "重复登记"})
    row.refresh_from_db()
    assert row.state == HeldState.REJECTED and Visit.objects.count() == 0
    answer = send(phone, campaign, sent)[0]
    assert answer["status"] == "rejected" and "重复登记" in answer["error"]


def test_the_holding_list_is_scoped(client_for, phone, campaign, held):
    row, _sent = held
    decide = reverse("screening:held_visit_decide", args=[campaign.pk, row.pk])
    for role, area in ((Role.COMMUNITY_ADMIN, "C2"), (Role.GRID_WORKER, "G1")):
        outsider = client_for(role, area)
        listing = outsider.get(reverse("screening:held_visits", args=[campaign.pk]))
        assert phone.user.display_name not in listing.content.decode()
        assert outsider.post(decide, {"decision": "accept"}).status_code == 404
    row.refresh_from_db()
    assert row.state == HeldState.HELD and Visit.objects.count() == 0


def test_a_newcomer_found_at_the_door_offline_is_added(phone, campaign, households):
    sent = record(households["G1"])
    sent["form"] += [["n0-name", "新来的"], ["n0-presence", "present"], ["n0-temperature", "36.4"]]
    assert send(phone, campaign, sent)[0]["status"] == "created"
    assert households["G1"].persons.filter(name="新来的", is_new=True).exists()


def test_more_households_stay_apart(phone, campaign, households, areas):
    extra = HouseholdFactory(grid=areas["G1"], household_number="HN-G1-X")
    PersonFactory(household=extra, name="另一户")
    from doorstep.screening.services import campaign_enrol_households

    campaign_enrol_households(campaign=campaign)
    HouseholdProgress.objects.filter(household=extra).update(assigned_to=phone.user)
    answers = send(phone, campaign, record(households["G1"]), record(extra))
    assert [a["status"] for a in answers] == ["created", "created"]
    assert Visit.objects.count() == 2


def test_the_campaign_page_leads_admins_to_the_holding_list(client_for, phone, campaign):
    page = reverse("screening:campaign_detail", args=[campaign.pk])
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert 'id="held-link"' in admin.get(page).content.decode()
    assert 'id="held-link"' not in phone.get(page).content.decode()


def test_a_form_whose_post_landed_but_whose_answer_was_lost_is_not_a_second_visit(
    phone, campaign, households
):
    # given the visit form was posted online and saved, but the answer never reached the
    # phone (a proxy's 502, the signal gone), so the service worker kept it with the form's UUID
    home = households["G1"]
    sent = record(home, minutes_ago=0)
    data = {name: value for name, value in sent["form"]}
    data["client_uuid"] = sent["client_uuid"]
    response = phone.post(f"/campaigns/{campaign.pk}/households/{home.pk}/visit/", data)
    assert response.status_code in (200, 302, 303)
    first = Visit.objects.get()
    # when the outbox sends it (with the phone's later time)
    answer = send(phone, campaign, sent)
    # then it is that visit, not a second one and not a conflict
    assert answer[0]["status"] == "duplicate" and answer[0]["visit_id"] == first.pk
    assert Visit.objects.count() == 1 and not HeldVisit.objects.exists()


def test_a_uuid_reused_for_another_body_is_a_refused_conflict_not_a_held_one(
    phone, campaign, households
):
    home = households["G1"]
    sent = record(home)
    assert send(phone, campaign, sent)[0]["status"] == "created"
    other = {
        **sent,
        "form": [[n, "36.9" if n.endswith("temperature") else v] for n, v in sent["form"]],
    }
    answer = send(phone, campaign, other)[0]
    # refused: told apart from a held record's conflict (field "held"), and nothing kept
    assert answer["status"] == "conflict" and answer["field"] == "client_uuid"
    assert Visit.objects.count() == 1 and not HeldVisit.objects.exists()


def test_accepting_a_held_visit_twice_answers_with_the_same_visit(
    client_for, phone, campaign, held, user_for
):
    row, _sent = held
    decide = reverse("screening:held_visit_decide", args=[campaign.pk, row.pk])
    first_admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    # when the admin double-submits, and a second admin of the community accepts it too
    assert first_admin.post(decide, {"decision": "accept"}).status_code == 302
    assert first_admin.post(decide, {"decision": "accept"}).status_code == 302
    second = user_for(Role.COMMUNITY_ADMIN, "C1")
    accepted = outbox.held_visit_accept(user=second, held=row)  # row: read before the accepts
    # then there is one visit, the worker's, accepted once
    visit = Visit.objects.get()
    assert accepted == visit and visit.worker == phone.user
    row.refresh_from_db()
    assert row.state == HeldState.ACCEPTED and row.visit == visit
    assert AuditEvent.objects.filter(action="visit.held.accept").count() == 1


def test_a_refused_accept_is_shown_and_changes_nothing(client_for, phone, campaign, held):
    row, _sent = held
    # given another visit already holds the record's UUID (another worker's, say)
    other = Visit.objects.create(
        campaign=campaign,
        household=row.household,
        worker=None,
        outcome="not_home",
        source="field",
        visited_at=timezone.now(),
        entered_at=timezone.now(),
        client_uuid=row.client_uuid,
        body_hash="x",
    )
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    decide = reverse("screening:held_visit_decide", args=[campaign.pk, row.pk])
    response = admin.post(decide, {"decision": "accept"}, follow=True)
    # then the admin is told, not a 500, and nothing changed
    assert response.status_code == 200
    assert list(Visit.objects.all()) == [other]
    row.refresh_from_db()
    assert row.state == HeldState.HELD and row.visit is None
    assert not AuditEvent.objects.filter(action="visit.held.accept").exists()


def test_the_admin_reassigns_a_held_record_to_the_worker_who_now_holds_the_household(
    client_for, phone, campaign, held, households
):
    # given a record held because the household went to another worker of the grid
    row, sent = held
    other = HouseholdProgress.objects.get(household=households["G1"]).assigned_to
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    page = admin.get(reverse("screening:held_visits", args=[campaign.pk])).content.decode()
    assert f'<option value="{other.pk}">' in page  # offered: a worker of the household's grid
    assert f'<option value="{phone.user.pk}">' not in page  # (accepting is the other button)
    decide = reverse("screening:held_visit_decide", args=[campaign.pk, row.pk])
    # when the admin gives it to that worker (and the form is sent twice)
    for _twice in range(2):
        response = admin.post(decide, {"decision": "reassign", "worker": other.pk})
        assert response.status_code == 302
    # then it is that worker's visit, at the time of the visit, decided once and audited
    visit = Visit.objects.get()
    assert visit.worker == other and str(visit.client_uuid) == sent["client_uuid"]
    assert visit.visited_at == datetime.datetime.fromisoformat(sent["visited_at"])
    row.refresh_from_db()
    assert row.state == HeldState.ACCEPTED and row.visit == visit and row.worker == phone.user
    event = AuditEvent.objects.get(action="visit.held.reassign")
    assert (event.detail["worker"], event.detail["to"]) == (phone.user.pk, other.pk)
    assert not AuditEvent.objects.filter(action="visit.held.accept").exists()
    # and the phone that made it learns whose visit it became
    answer = send(phone, campaign, sent)[0]
    assert answer["status"] == "duplicate" and other.display_name in answer["error"]
    # and the list says it
    listed = admin.get(reverse("screening:held_visits", args=[campaign.pk]) + "?state=accepted")
    assert "改派给" in listed.content.decode() or "reassigned to" in listed.content.decode()


def test_a_held_record_goes_only_to_a_worker_of_the_households_grid(
    client_for, phone, campaign, held, user_for
):
    row, _sent = held
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    decide = reverse("screening:held_visit_decide", args=[campaign.pk, row.pk])
    elsewhere = user_for(Role.GRID_WORKER, "G2")
    for worker in (elsewhere.pk, admin.user.pk if hasattr(admin, "user") else 0, "x", ""):
        admin.post(decide, {"decision": "reassign", "worker": worker})
    row.refresh_from_db()
    assert row.state == HeldState.HELD and Visit.objects.count() == 0
    assert not AuditEvent.objects.filter(action="visit.held.reassign").exists()


def test_a_record_decided_already_is_not_reassigned(
    client_for, phone, campaign, held, households, user_for
):
    row, _sent = held
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    decide = reverse("screening:held_visit_decide", args=[campaign.pk, row.pk])
    admin.post(decide, {"decision": "accept"})
    other = HouseholdProgress.objects.get(household=households["G1"]).assigned_to
    response = admin.post(decide, {"decision": "reassign", "worker": other.pk}, follow=True)
    assert "已处理" in response.content.decode() or "decided already" in response.content.decode()
    assert Visit.objects.get().worker == phone.user
    # and an outsider cannot give it to anyone
    outsider = client_for(Role.COMMUNITY_ADMIN, "C2")
    assert outsider.post(decide, {"decision": "reassign", "worker": other.pk}).status_code == 404
