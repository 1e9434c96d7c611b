"""The JSON API through HTTP, authenticated by bearer token."""

import datetime
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from doorstep.accounts.models import Role, User
from doorstep.accounts.services import api_token_create
from doorstep.registry.models import Household
from doorstep.screening.models import HouseholdProgress, Visit
from doorstep.screening.services import campaign_enrol_households
from tests.factories import HouseholdFactory


@pytest.fixture
def api(worker):
    _token, key = api_token_create(user=worker, name="phone")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def visit_json(household, outcome="screened", **overrides):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household.pk,
        "outcome": outcome,
        "visited_at": (timezone.now() - datetime.timedelta(minutes=3)).isoformat(),
        "person_checks": [
            {"person_id": p.pk, "temperature": "36.6"} for p in household.persons.order_by("pk")
        ]
        if outcome == "screened"
        else [],
    }
    body.update(overrides)
    return body


def url(campaign, suffix=""):
    return f"/api/campaigns/{campaign.pk}{suffix}"


def test_without_credentials_the_api_answers_401(campaign):
    assert Client().get("/api/campaigns/").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer dst_wrong").get("/api/campaigns/").status_code == 401


def test_a_worker_lists_campaigns_and_their_households(api, campaign, households):
    assert [c["id"] for c in api.get("/api/campaigns/").json()] == [campaign.pk]
    page = api.get(url(campaign, "/households")).json()
    assert page["count"] == 1 and page["items"][0]["household_number"] == "HN-G1"
    members = api.get(url(campaign, f"/households/{households['G1'].pk}/members")).json()
    assert all("*" in m["id_number_masked"] for m in members)
    assert households["G1"].persons.first().id_number not in str(members)


def test_the_household_list_pages_in_walking_order(client_for, campaign, areas):
    for room in range(101, 131):
        HouseholdFactory(grid=areas["G1"], building="1", unit="1", room=str(room))
    campaign_enrol_households(campaign=campaign)
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    whole = client.get(url(campaign, "/households"), {"limit": 1000}).json()
    first = client.get(url(campaign, "/households"), {"limit": 10}).json()
    with CaptureQueriesContext(connection) as queries:
        third = client.get(url(campaign, "/households"), {"limit": 10, "offset": 20}).json()
    assert whole["count"] == first["count"] == third["count"] == len(whole["items"]) == 32
    assert first["items"] == whole["items"][:10] and third["items"] == whole["items"][20:30]
    # the page is read as a page: its SELECT is limited, not the whole list built and cut
    selects = [q["sql"] for q in queries if "screening_householdprogress" in q["sql"]]
    assert any("LIMIT 10" in sql for sql in selects), selects
    # an offset past any list (found by the fuzzer) is an empty page, not a database error
    beyond = client.get(url(campaign, "/households"), {"limit": 10, "offset": 2**80})
    assert beyond.status_code == 200 and beyond.json()["items"] == []


def test_submit_retry_and_conflict(api, campaign, households):
    body = visit_json(households["G1"])
    first = api.post(url(campaign, "/visits"), body, content_type="application/json")
    assert first.status_code == 201 and first.json()["state"] == "screened"
    again = api.post(url(campaign, "/visits"), body, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    body["notes"] = "another body"
    conflict = api.post(url(campaign, "/visits"), body, content_type="application/json")
    assert conflict.status_code == 409
    assert Visit.objects.count() == 1


def test_outside_the_assignment_is_404_and_nothing_written(api, campaign, households):
    response = api.post(
        url(campaign, "/visits"), visit_json(households["G4"]), content_type="application/json"
    )
    assert response.status_code == 404 and Visit.objects.count() == 0


def test_a_temperature_slip_is_422_with_the_field(api, campaign, households):
    body = visit_json(households["G1"])
    body["person_checks"][0]["temperature"] = "365"
    response = api.post(url(campaign, "/visits"), body, content_type="application/json")
    assert response.status_code == 422
    assert "36.5" in response.json()["detail"]
    assert "temperature" in response.json()["field"]
    assert Visit.objects.count() == 0


def test_malformed_json_is_a_4xx(api, campaign):
    response = api.post(url(campaign, "/visits"), "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    response = api.post(
        url(campaign, "/visits"), {"household_id": "x"}, content_type="application/json"
    )
    assert response.status_code == 422


def test_a_batch_of_100_with_3_invalid_keeps_97(api, campaign, households, areas, worker):
    extra = [
        Household.objects.create(grid=areas["G1"], household_number=f"X{i}") for i in range(98)
    ]
    campaign_enrol_households(campaign=campaign)
    HouseholdProgress.objects.filter(campaign=campaign, grid=areas["G1"]).update(assigned_to=worker)
    visits = [visit_json(h, "vacant") for h in extra[:97]]
    bad_temperature = visit_json(households["G1"])
    bad_temperature["person_checks"][0]["temperature"] = "3.65"
    visits += [
        bad_temperature,
        visit_json(households["G4"], "not_home"),
        visit_json(extra[97], "teleported"),
    ]
    response = api.post(
        url(campaign, "/visits/batch"), {"visits": visits}, content_type="application/json"
    )
    statuses = [item["status"] for item in response.json()]
    assert response.status_code == 200
    assert statuses.count("created") == 97
    assert statuses[97:] == ["rejected", "not_found", "rejected"]
    assert Visit.objects.count() == 97
    again = api.post(
        url(campaign, "/visits/batch"), {"visits": visits}, content_type="application/json"
    ).json()
    assert [i["status"] for i in again].count("duplicate") == 97
    assert Visit.objects.count() == 97


def test_coverage_by_area(client_for, campaign, households, api):
    api.post(
        url(campaign, "/visits"), visit_json(households["G1"]), content_type="application/json"
    )
    admin = client_for(Role.STREET_ADMIN, "S1")
    data = admin.get(url(campaign, "/coverage")).json()
    assert data["area"]["name"] == "天生街道" and data["area"]["households"] == 3
    assert data["area"]["closed"] == 1 and data["area"]["persons_seen"] == 2
    assert {c["code"] for c in data["children"]} == {"C1", "C2"}
    assert admin.get(url(campaign, "/coverage?area=S2")).status_code == 404


def test_a_deactivated_user_loses_the_api_at_once(api, worker, campaign):
    assert api.get("/api/campaigns/").status_code == 200
    User.objects.filter(pk=worker.pk).update(is_active=False)
    assert api.get("/api/campaigns/").status_code == 401


def test_openapi_schema_needs_a_login_or_a_token(client_for, api):
    anonymous = Client().get("/api/openapi.json")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Bearer"
    assert Client().get("/api/docs").status_code == 302  # the page: to the login page
    bad = Client(headers={"Authorization": "Bearer dst_not-a-token"})
    assert bad.get("/api/openapi.json").status_code == 401
    schema = client_for(Role.COMMAND, "D").get("/api/openapi.json").json()
    assert "/api/campaigns/{campaign_id}/visits" in schema["paths"]
    # a device's developer has a token, not a session
    with_token = api.get("/api/openapi.json")
    assert with_token.status_code == 200 and with_token.json() == schema


def test_operation_ids_read_well_in_a_generated_client(api):
    schema = api.get("/api/openapi.json").json()
    ids = {
        operation["operationId"]
        for operations in schema["paths"].values()
        for operation in operations.values()
    }
    assert ids == {
        "me_read",
        "campaign_list",
        "household_list",
        "member_list",
        "visit_submit",
        "visit_batch_submit",
        "visit_outbox_submit",  # the field pages' offline outbox (issue 14)
        "coverage_read",
        # follow-up (issue 10)
        "check_due_list",
        "check_submit",
        "check_batch_submit",
        "check_outbox_submit",  # follow-up checks made offline (issue 14)
        "key_person_create",
        "referral_list",
        "referral_arrival_record",
        "referral_outcome_record",
        # checkpoints (issue 11)
        "arrival_submit",
        "arrival_batch_submit",
        "handoff_list",
        "handoff_accept",
        "handoff_not_found",
        "handoff_reroute",
    }
