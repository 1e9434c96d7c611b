"""Arrivals through the API: idempotency, bad occupants refused alone, risk rules, routes,
one pending handoff per person, and officers kept to their own checkpoint."""

import datetime
import uuid

from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
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


def test_a_person_in_a_pending_handoff_to_the_same_community_is_not_handed_off_twice(
    checkpoints, officer_for
):
    person = occupant()
    first = post_json(logged_in(officer_for("K1")), _url(checkpoints["K1"]), passage(person))
    again = dict(person, client_uuid=str(uuid.uuid4()), destination="天生路12号3栋2单元501室")
    second = post_json(logged_in(officer_for("K2")), _url(checkpoints["K2"]), passage(again))
    assert first.status_code == second.status_code == 201
    assert Handoff.objects.count() == 1
    handoff = Handoff.objects.get()
    assert handoff.community.code == "C1" and handoff.arrivals.count() == 2
    assert list(HandoffEvent.objects.values_list("action", flat=True)) == ["sent", "joined"]


C2_ADDRESS = "北碚区碚峡社区北京路5号1栋1单元101室"
C1_ADDRESS = "天生路12号3栋2单元501"


def test_the_same_person_bound_for_another_community_opens_that_communitys_handoff(
    checkpoints, officer_for, user_for
):
    # given a person handed from K1 to C1, still pending
    person = occupant(name="两地人", destination=C1_ADDRESS)
    k1, k2 = logged_in(officer_for("K1")), logged_in(officer_for("K2"))
    assert post_json(k1, _url(checkpoints["K1"]), passage(person)).status_code == 201
    # when the same person arrives at K2 bound for an address of C2
    again = dict(person, client_uuid=str(uuid.uuid4()), destination=C2_ADDRESS, origin="湖北孝感")
    answer = post_json(k2, _url(checkpoints["K2"]), passage(again, plate="渝K22222"))
    assert answer.status_code == 201
    # then C2 gets its own handoff with that arrival, and C1's handoff is unchanged
    to_c1 = Handoff.objects.get(community__code="C1")
    to_c2 = Handoff.objects.get(community__code="C2")
    assert to_c1.person_key == to_c2.person_key
    assert to_c1.status == to_c2.status == HandoffStatus.PENDING
    assert list(to_c1.arrivals.values_list("destination", flat=True)) == [C1_ADDRESS]
    assert list(to_c2.arrivals.values_list("destination", flat=True)) == [C2_ADDRESS]
    assert list(to_c1.events.values_list("action", flat=True)) == ["sent"]
    assert list(to_c2.events.values_list("action", flat=True)) == ["sent"]

    c2_admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C2"))
    inbox = c2_admin.get(reverse("checkpoints:inbox"))
    assert [r["handoff"].pk for r in inbox.context["rows"]] == [to_c2.pk]
    assert (
        C2_ADDRESS in c2_admin.get(reverse("checkpoints:handoff", args=[to_c2.pk])).content.decode()
    )
    assert [h["id"] for h in c2_admin.get(reverse("api:handoff_list")).json()] == [to_c2.pk]

    # C1's admin reads nothing of the address given for C2, on any page
    c1_admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    c1_pages = [
        reverse("checkpoints:inbox"),
        reverse("checkpoints:inbox") + "?f=all",
        reverse("checkpoints:handoff", args=[to_c1.pk]),
        reverse("checkpoints:arrivals"),
        reverse("api:handoff_list"),
    ]
    for url in c1_pages:
        page = c1_admin.get(url)
        assert page.status_code == 200, url
        text = page.content.decode()
        assert "北京路" not in text and "渝K22222" not in text and "孝感" not in text, url
    assert c1_admin.get(reverse("checkpoints:handoff", args=[to_c2.pk])).status_code == 404
    k2_arrival = to_c2.arrivals.get()
    assert c1_admin.get(reverse("checkpoints:arrival", args=[k2_arrival.pk])).status_code == 404

    # K2's officer reads their own arrival and its handoff, nothing of K1's
    page = k2.get(reverse("checkpoints:arrival", args=[k2_arrival.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and C2_ADDRESS in text
    assert "北碚收费站" not in text and "天生路" not in text and "状元社区" not in text
    assert [e.arrival_id for e in page.context["events"]] == [k2_arrival.pk]


def test_an_officer_reads_the_outcomes_but_not_another_checkpoints_arrival_in_a_handoff(
    checkpoints, officer_for, user_for
):
    # given one handoff to C1 holding the same person's arrivals at K1 and at K2
    person = occupant(name="同一人")
    k1_officer, k2_officer = officer_for("K1"), officer_for("K2")
    post_json(logged_in(k1_officer), _url(checkpoints["K1"]), passage(person))
    again = dict(person, client_uuid=str(uuid.uuid4()))
    post_json(logged_in(k2_officer), _url(checkpoints["K2"]), passage(again))
    handoff = Handoff.objects.get()
    services_accept = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    assert (
        post_json(services_accept, reverse("api:handoff_accept", args=[handoff.pk]), {}).status_code
        == 200
    )
    k2_arrival = handoff.arrivals.get(checkpoint=checkpoints["K2"])
    # when K2's officer opens their arrival
    page = logged_in(k2_officer).get(reverse("checkpoints:arrival", args=[k2_arrival.pk]))
    # then they read their own arrival joining and the accept, not K1's arrival being sent
    events = page.context["events"]
    assert [e.action for e in events] == ["joined", "accepted"]
    assert k1_officer.display_name not in page.content.decode()
    # the receiving community reads the whole history
    c1 = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    full = c1.get(reverse("checkpoints:handoff", args=[handoff.pk])).context["events"]
    assert [e.action for e in full] == ["sent", "joined", "accepted"]


def test_a_reroute_to_a_community_already_waiting_for_the_person_joins_that_handoff(
    checkpoints, officer_for, user_for
):
    """Not refused (a refusal naming the target's handoff told the caller about another
    community's records): the arrivals join the target's pending handoff of the person."""
    person = occupant()
    post_json(logged_in(officer_for("K1")), _url(checkpoints["K1"]), passage(person))
    again = dict(person, client_uuid=str(uuid.uuid4()), destination=C2_ADDRESS)
    post_json(logged_in(officer_for("K2")), _url(checkpoints["K2"]), passage(again))
    to_c1 = Handoff.objects.get(community__code="C1")
    to_c2 = Handoff.objects.get(community__code="C2")
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    url = reverse("api:handoff_reroute", args=[to_c1.pk])
    answer = post_json(admin, url, {"community_code": "C2"})
    assert answer.status_code == 200
    assert answer.json()["id"] == to_c1.pk and answer.json()["status"] == "pending"
    assert list(Handoff.objects.values_list("pk", flat=True)) == [to_c2.pk]
    assert to_c2.arrivals.count() == 2
    assert sorted(to_c2.events.values_list("action", flat=True)) == [
        "joined",
        "rerouted",
        "sent",
        "sent",
    ]


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


def test_the_roster_person_at_the_door_is_only_one_living_here(checkpoints, officer_for, roster):
    from doorstep.registry.models import PersonStatus

    from ..factories import PersonFactory

    for status in (PersonStatus.MOVED_OUT, PersonStatus.DECEASED):
        gone = PersonFactory(household=roster["C1"], name=f"冯{status}", status=status)
        for id_number in (gone.id_number, ""):  # by number, and by name alone
            body = occupant(name=gone.name, id_number=id_number)
            url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
            item = post_json(logged_in(officer_for("K1")), url, passage(body)).json()
            assert item["occupants"][0]["status"] == "created"
            arrival = Arrival.objects.get(client_uuid=body["client_uuid"])
            assert arrival.household_id == roster["C1"].pk
            assert arrival.person_id is None
