"""Arrivals through the API: idempotency, bad occupants refused alone, risk rules, routes,
one pending handoff per person, and officers kept to their own checkpoint."""

import datetime
import uuid

from django.urls import reverse
from django.utils import timezone

from doorstep.checkpoints.models import (
    Arrival,
    Handoff,
    HandoffEvent,
    HandoffStatus,
    Route,
    VehiclePassage,
)
from doorstep.core.models import AuditEvent

from .conftest import logged_in, occupant, passage, post_json


def _url(checkpoint, batch=False):
    name = "api:arrival_batch_submit" if batch else "api:arrival_submit"
    return reverse(name, args=[checkpoint.pk])


def test_a_car_of_three_is_saved_with_a_handoff_for_each_risk_arrival(
    checkpoints, officer_for, roster
):
    client = logged_in(officer_for("K1"))
    body = passage(
        occupant(name="王一"),
        occupant(name="王二", destination="北碚区碚峡社区北京路5号1栋1单元101室"),
        occupant(name="王三", origin="重庆渝中", temperature="36.4"),
    )
    response = post_json(client, _url(checkpoints["K1"]), body)
    assert response.status_code == 201, response.content
    items = response.json()["occupants"]
    assert [i["status"] for i in items] == ["created", "created", "created"]
    assert items[0]["flags"] == ["risk_area"] and items[0]["route"] == Route.HANDED_OFF
    assert items[2]["flags"] == [] and items[2]["route"] == Route.NONE
    first = Arrival.objects.get(pk=items[0]["arrival_id"])
    assert first.community.code == "C1"
    assert first.household_id == roster["C1"].pk
    assert first.match_method == "roster_door" and first.match_confidence == 1.0
    second = Arrival.objects.get(pk=items[1]["arrival_id"])
    assert second.handoff.community.code == "C2"
    assert Handoff.objects.filter(status=HandoffStatus.PENDING).count() == 2
    deadline = first.handoff.deadline - first.handoff.received_at
    assert deadline == datetime.timedelta(hours=24)


def test_the_same_vehicle_twice_is_one_row_and_another_body_is_409(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    body = passage(occupant())
    assert post_json(client, _url(checkpoints["K1"]), body).status_code == 201
    again = post_json(client, _url(checkpoint=checkpoints["K1"]), body)
    assert again.status_code == 200
    assert again.json()["occupants"][0]["status"] == "duplicate"
    assert VehiclePassage.objects.count() == 1 and Arrival.objects.count() == 1
    changed = dict(body, plate="渝B99999")
    conflict = post_json(client, _url(checkpoints["K1"]), changed)
    assert conflict.status_code == 409
    other_occupant = dict(body, occupants=[dict(body["occupants"][0], name="别人")])
    answer = post_json(client, _url(checkpoints["K1"]), other_occupant)
    assert answer.status_code == 200
    assert answer.json()["occupants"][0]["status"] == "conflict"
    assert VehiclePassage.objects.count() == 1 and Arrival.objects.count() == 1
    assert Arrival.objects.get().name == "李四"


def test_a_wrong_check_digit_refuses_that_occupant_only(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    good = occupant(name="对的")
    bad = occupant(name="错的")
    last = bad["id_number"][-1]
    bad["id_number"] = bad["id_number"][:-1] + ("0" if last != "0" else "1")
    missing = occupant(name="没带证", id_number="", phone="")
    response = post_json(client, _url(checkpoints["K1"]), passage(good, bad, missing))
    assert response.status_code == 201
    items = response.json()["occupants"]
    assert [i["status"] for i in items] == ["created", "rejected", "created"]
    assert items[1]["field"] == "id_number"
    assert "check digit" in items[1]["error"] or "校验位" in items[1]["error"]
    assert items[2]["needs_completion"] is True
    assert sorted(Arrival.objects.values_list("name", flat=True)) == ["对的", "没带证"]
    kept = Arrival.objects.get(name="没带证")
    assert kept.id_number is None and kept.needs_completion


def test_rejected_occupant_resent_in_the_same_vehicle(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    bad = occupant(name="错的", temperature="365")
    body = passage(occupant(name="对的"), bad)
    first = post_json(client, _url(checkpoints["K1"]), body)
    assert [i["status"] for i in first.json()["occupants"]] == ["created", "rejected"]
    assert "36.5" in first.json()["occupants"][1]["error"]
    body["occupants"][1]["temperature"] = "36.5"
    second = post_json(client, _url(checkpoints["K1"]), body)
    assert second.status_code == 200
    assert [i["status"] for i in second.json()["occupants"]] == ["duplicate", "created"]
    assert VehiclePassage.objects.count() == 1 and Arrival.objects.count() == 2


def test_passing_through_is_counted_and_never_handed_off(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    body = passage(occupant(purpose="passing", temperature="38.5"))
    item = post_json(client, _url(checkpoints["K1"]), body).json()["occupants"][0]
    assert item["route"] == Route.PASSING and "fever" in item["flags"]
    assert Handoff.objects.count() == 0
    assert Arrival.objects.get().route == Route.PASSING


def test_risk_rules_look_back_fever_and_symptoms(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    arrived = timezone.now() - datetime.timedelta(minutes=5)
    today = timezone.localdate(arrived)
    old = occupant(left_origin_on=str(today - datetime.timedelta(days=15)))
    edge = occupant(left_origin_on=str(today - datetime.timedelta(days=14)))
    fever = occupant(origin="重庆渝中", temperature="37.3")
    cough = occupant(origin="重庆渝中", symptoms=["cough"])
    body = passage(old, edge, fever, cough, arrived_at=arrived.isoformat(), origin="")
    items = post_json(client, _url(checkpoints["K1"]), body).json()["occupants"]
    assert [i["flags"] for i in items] == [[], ["risk_area"], ["fever"], ["symptoms"]]


def test_outside_and_unmatched_destinations(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    body = passage(
        occupant(name="外区", destination="江北区观音桥步行街1号"),
        occupant(name="不明", destination="不知道哪里"),
        occupant(name="声同", destination="天声路12号3栋2单元501"),
    )
    items = post_json(client, _url(checkpoints["K1"]), body).json()["occupants"]
    assert [i["route"] for i in items] == [Route.HANDED_OUT, Route.UNMATCHED, Route.HANDED_OFF]
    same_sound = Arrival.objects.get(name="声同")
    assert same_sound.match_method == "pinyin_door" and same_sound.community.code == "C1"
    assert Handoff.objects.count() == 1


def test_a_person_in_a_pending_handoff_is_not_handed_off_twice(checkpoints, officer_for):
    person = occupant()
    first = post_json(logged_in(officer_for("K1")), _url(checkpoints["K1"]), passage(person))
    again = dict(person, client_uuid=str(uuid.uuid4()), destination="北京路5号")
    second = post_json(logged_in(officer_for("K2")), _url(checkpoints["K2"]), passage(again))
    assert first.status_code == second.status_code == 201
    assert Handoff.objects.count() == 1
    handoff = Handoff.objects.get()
    assert handoff.arrivals.count() == 2
    assert list(HandoffEvent.objects.values_list("action", flat=True)) == ["sent", "joined"]


def test_an_officer_cannot_enter_or_read_another_checkpoints_arrivals(checkpoints, officer_for):
    own = logged_in(officer_for("K1"))
    other = logged_in(officer_for("K2"))
    post_json(own, _url(checkpoints["K1"]), passage(occupant(name="本站")))
    before = (VehiclePassage.objects.count(), Arrival.objects.count())
    refused = post_json(other, _url(checkpoints["K1"]), passage(occupant(name="越权")))
    assert refused.status_code == 404
    batch = post_json(other, _url(checkpoints["K1"], batch=True), {"passages": [passage()]})
    assert batch.status_code == 404
    assert (VehiclePassage.objects.count(), Arrival.objects.count()) == before
    arrival = Arrival.objects.get()
    assert other.get(reverse("checkpoints:arrival", args=[arrival.pk])).status_code == 404
    listed = other.get(reverse("checkpoints:arrivals"))
    assert listed.status_code == 200 and "本站" not in listed.content.decode()
    assert own.get(reverse("checkpoints:arrival", args=[arrival.pk])).status_code == 200
    assert AuditEvent.objects.filter(action="write.refused").count() >= 2


def test_batch_items_answer_each_on_their_own(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    good = passage(occupant())
    bad_kind = passage(occupant(), kind="spaceship")
    body = {"passages": [good, bad_kind, good]}
    items = post_json(client, _url(checkpoints["K1"], batch=True), body).json()
    assert [i["status"] for i in items] == ["created", "rejected", "duplicate"]
    assert items[1]["field"] == "kind"
    assert VehiclePassage.objects.count() == 1
