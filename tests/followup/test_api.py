import datetime
import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.followup.models import Check, CheckChange, ClinicStaffing, KeyPerson, Referral
from doorstep.followup.services import SourceInput, referral_open

from ..two_factor import api_key_for


def bearer(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {api_key_for(user, 'test')}")


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def check_body(**kw):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "measured_at": (timezone.now() - datetime.timedelta(minutes=2)).isoformat(),
        "temperature": "36.6",
    }
    body.update(kw)
    return body


def test_check_submit_is_idempotent_by_client_uuid_with_409_for_another_body(key_person, fworker):
    client = bearer(fworker)
    url = f"/api/followup/key-persons/{key_person.pk}/checks"
    body = check_body()
    first = post(client, url, body)
    assert first.status_code == 201, first.content
    again = post(client, url, body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert post(client, url, {**body, "temperature": "37.0"}).status_code == 409
    replaced = post(client, url, check_body(temperature="36.9"))
    assert replaced.status_code == 200 and replaced.json()["status"] == "replaced"
    assert Check.objects.count() == 1 and CheckChange.objects.count() == 1


def test_a_check_for_someone_elses_key_person_is_404_and_writes_nothing(key_person, user_for):
    stranger = user_for(Role.GRID_WORKER, "G2")
    response = post(
        bearer(stranger), f"/api/followup/key-persons/{key_person.pk}/checks", check_body()
    )
    assert response.status_code == 404
    assert not Check.objects.exists()


def test_a_bad_temperature_names_the_field(key_person, fworker):
    response = post(
        bearer(fworker),
        f"/api/followup/key-persons/{key_person.pk}/checks",
        check_body(temperature="365"),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "temperature" and "36.5" in response.json()["detail"]


def test_batch_items_stand_alone(key_person, fworker, households):
    items = [
        {"key_person_id": key_person.pk, "check": check_body()},
        {"key_person_id": key_person.pk + 999, "check": check_body()},
        {"key_person_id": key_person.pk, "check": check_body(temperature="3.65")},
    ]
    response = post(bearer(fworker), "/api/followup/checks/batch", {"checks": items})
    assert response.status_code == 200
    assert [r["status"] for r in response.json()] == ["created", "not_found", "rejected"]
    again = post(bearer(fworker), "/api/followup/checks/batch", {"checks": items[:1]})
    assert again.json()[0]["status"] == "duplicate"


def test_due_checks_list_the_workers_own(key_person, fworker, user_for):
    rows = bearer(fworker).get("/api/followup/checks/due").json()
    assert {r["key_person_id"] for r in rows} == {key_person.pk}
    assert bearer(user_for(Role.GRID_WORKER, "G2")).get("/api/followup/checks/due").json() == []


def test_key_person_create_in_scope_and_again_adds(households, user_for):
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    body = {
        "community": "C1",
        "name": "热线来电",
        "phone": "13911112222",
        "reasons": [{"kind": "risk_area_arrival", "exposure_date": str(datetime.date.today())}],
    }
    first = post(bearer(admin), "/api/followup/key-persons", body)
    assert first.status_code == 201, first.content
    again = post(bearer(admin), "/api/followup/key-persons", body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    outside = post(bearer(admin), "/api/followup/key-persons", {**body, "community": "C3"})
    assert outside.status_code == 404
    assert KeyPerson.objects.count() == 1


def test_clinic_outcomes_through_the_api(key_person, fworker, clinic, user_for, areas):
    referral = referral_open(
        user=fworker,
        key_person=key_person,
        temperature=None,
        symptoms=["cough"],
        source=SourceInput(kind="manual"),
        facility=clinic,
    )
    staff = user_for(Role.CLINIC_STAFF, None)
    ClinicStaffing.objects.create(user=staff, facility=clinic)
    from doorstep.followup.models import Facility

    other = user_for(Role.CLINIC_STAFF, None)
    ClinicStaffing.objects.create(
        user=other,
        facility=Facility.objects.create(name="别处", kind="fever_clinic", area=areas["D"]),
    )
    url = f"/api/followup/referrals/{referral.pk}/outcome"
    assert post(bearer(other), url, {"outcome": "excluded"}).status_code == 404
    assert Referral.objects.get().status == "open"
    assert [r["id"] for r in bearer(staff).get("/api/followup/referrals").json()] == [referral.pk]
    assert bearer(other).get("/api/followup/referrals").json() == []
    assert (
        post(bearer(staff), f"/api/followup/referrals/{referral.pk}/arrival", {}).status_code == 200
    )
    done = post(bearer(staff), url, {"outcome": "suspected"})
    assert done.status_code == 200 and done.json()["outcome"] == "suspected"
    assert key_person.monitorings.get().measure == "centralised_isolation"


@pytest.mark.parametrize(
    "name",
    [
        "check_submit",
        "check_batch_submit",
        "check_due_list",
        "key_person_create",
        "referral_outcome_record",
    ],
)
def test_operation_ids(name, user_for):
    client = Client()
    client.force_login(user_for(Role.GRID_WORKER))
    schema = client.get("/api/openapi.json").json()
    ids = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert name in ids
