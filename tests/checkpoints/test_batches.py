"""A batch of vehicles: one transaction with a number of queries that does not grow with the
vehicles, and each vehicle and occupant still answering on its own (a refused vehicle or
occupant takes nothing else with it, the same vehicle or occupant twice is one row, a retry of
the whole batch duplicates nothing)."""

import datetime
import threading
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from doorstep.checkpoints import services
from doorstep.checkpoints.models import (
    Arrival,
    Handoff,
    HandoffEvent,
    Route,
    VehiclePassage,
)

from ..factories import PersonFactory
from .conftest import logged_in, occupant, passage, post_json

C1_DOOR = "天生路12号3栋2单元501"


def _url(checkpoint):
    return reverse("api:arrival_batch_submit", args=[checkpoint.pk])


def _plain_vehicle(n: int = 3) -> dict:
    """A vehicle of n occupants from no risk area, bound for a roster door: no handoff, no
    referral, but a household and its roster persons to look up."""
    return passage(*(occupant(origin="重庆渝中") for _ in range(n)), origin="重庆渝中")


def test_the_queries_of_a_batch_do_not_grow_with_its_vehicles(checkpoints, officer_for, roster):
    # given an officer, and the roster's door read once (the district's index is built)
    client = logged_in(officer_for("K1"))
    post_json(client, _url(checkpoints["K1"]), {"passages": [_plain_vehicle(1)]})
    # when a batch of one vehicle and a batch of twenty vehicles of three are sent
    with CaptureQueriesContext(connection) as one:
        answer = post_json(client, _url(checkpoints["K1"]), {"passages": [_plain_vehicle()]})
    assert answer.status_code == 200
    body = {"passages": [_plain_vehicle() for _ in range(20)]}
    with CaptureQueriesContext(connection) as twenty:
        answer = post_json(client, _url(checkpoints["K1"]), body)
    # then every vehicle and occupant is created
    items = answer.json()
    assert [i["status"] for i in items] == ["created"] * 20
    assert all(o["status"] == "created" for i in items for o in i["occupants"])
    assert VehiclePassage.objects.count() == 22 and Arrival.objects.count() == 64
    # and the twenty cost what the one costs, give or take the INSERT that SQLite's limit of
    # 999 bound values splits 60 arrivals into (32 rows each); PostgreSQL sends one
    assert len(twenty) <= len(one) + 1, [q["sql"][:80] for q in twenty.captured_queries]
    assert len(one) <= 20, [q["sql"][:80] for q in one.captured_queries]
    # and the roster person at the door is found by name when one lives there
    assert Arrival.objects.filter(household=roster["C1"]).count() == 64


def test_a_refused_vehicle_or_occupant_in_a_batch_takes_nothing_else_with_it(
    checkpoints, officer_for
):
    client = logged_in(officer_for("K1"))
    stored = passage(occupant())
    assert post_json(client, _url(checkpoints["K1"]), {"passages": [stored]}).status_code == 200
    # given a batch of: a vehicle whose UUID is stored with another body, a vehicle with a
    # wrong check digit on one of two occupants, a vehicle from the future, and a good one
    good = passage(occupant(name="好人"))
    bad_digit = occupant(name="错号")
    bad_digit["id_number"] = bad_digit["id_number"][:-1] + (
        "0" if bad_digit["id_number"][-1] != "0" else "1"
    )
    mixed = passage(occupant(name="同车"), bad_digit)
    later = (timezone.now() + datetime.timedelta(hours=2)).isoformat()
    future = passage(occupant(name="未来"), arrived_at=later)
    body = {"passages": [dict(stored, plate="渝Z9"), mixed, future, good]}
    # when it is sent
    items = post_json(client, _url(checkpoints["K1"]), body).json()
    # then each answers on its own
    assert [i["status"] for i in items] == ["conflict", "created", "rejected", "created"]
    assert [o["status"] for o in items[1]["occupants"]] == ["created", "rejected"]
    assert items[1]["occupants"][1]["field"] == "id_number"
    assert items[2]["field"] == "arrived_at"
    names = set(Arrival.objects.values_list("name", flat=True))
    assert names == {"李四", "同车", "好人"}
    assert VehiclePassage.objects.count() == 3


def test_the_same_vehicle_or_occupant_twice_in_a_batch_is_one_row(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    # given a batch with a vehicle twice, the same UUID with another body, and an occupant
    # who appears again in another vehicle
    twice = passage(occupant(name="两次"))
    shared = occupant(name="同一人")
    body = {
        "passages": [
            twice,
            twice,
            dict(twice, plate="渝Q1"),
            passage(shared),
            passage(shared, occupant(name="另一人")),
        ]
    }
    # when it is sent
    items = post_json(client, _url(checkpoints["K1"]), body).json()
    # then the vehicle is one row, answered twice, and its other body is a conflict
    statuses = ["created", "duplicate", "conflict", "created", "created"]
    assert [i["status"] for i in items] == statuses
    assert items[0]["passage_id"] == items[1]["passage_id"]
    assert items[1]["occupants"][0]["status"] == "duplicate"
    assert items[1]["occupants"][0]["arrival_id"] == items[0]["occupants"][0]["arrival_id"]
    # and the occupant in another vehicle is a conflict for that occupant alone
    assert [o["status"] for o in items[4]["occupants"]] == ["conflict", "created"]
    assert items[4]["occupants"][0]["arrival_id"] is None
    assert Arrival.objects.filter(name="同一人").count() == 1
    assert VehiclePassage.objects.count() == 3 and Arrival.objects.count() == 3
    # when the whole batch is sent again, nothing new is stored and every answer is the same
    again = post_json(client, _url(checkpoints["K1"]), body).json()
    assert [i["status"] for i in again] == [
        "duplicate",
        "duplicate",
        "conflict",
        "duplicate",
        "duplicate",
    ]
    assert [i["passage_id"] for i in again] == [i["passage_id"] for i in items]
    first_ids = [o["arrival_id"] for i in items for o in i["occupants"]]
    assert [o["arrival_id"] for i in again for o in i["occupants"]] == first_ids
    assert VehiclePassage.objects.count() == 3 and Arrival.objects.count() == 3


def test_the_same_person_twice_in_a_batch_is_one_handoff(checkpoints, officer_for, roster):
    # given the same risk person in two vehicles of one batch, bound for the same door
    client = logged_in(officer_for("K1"))
    person = occupant(name="同批")
    again = dict(person, client_uuid=str(uuid.uuid4()), destination=C1_DOOR + "室")
    body = {"passages": [passage(person), passage(again)]}
    # when it is sent
    items = post_json(client, _url(checkpoints["K1"]), body).json()
    # then both are handed off in one handoff: sent, then joined
    assert [i["occupants"][0]["route"] for i in items] == [Route.HANDED_OFF] * 2
    handoff = Handoff.objects.get()
    assert handoff.community.code == "C1" and handoff.arrivals.count() == 2
    assert list(HandoffEvent.objects.values_list("action", flat=True)) == ["sent", "joined"]


def test_the_roster_person_of_each_vehicle_in_a_batch(checkpoints, officer_for, roster):
    # given two living namesakes at one door and one resident at another
    PersonFactory(household=roster["C2"], name="同名")
    PersonFactory(household=roster["C2"], name="同名")
    resident = PersonFactory(household=roster["C3"], name="中山")
    client = logged_in(officer_for("K1"))
    c3_door = "中山路8号1栋1单元101"
    by_number = occupant(name="别名", id_number=resident.id_number, destination=c3_door)
    by_name = occupant(name="住户C1", id_number="", destination=C1_DOOR)
    namesake = occupant(name="同名", id_number="", destination="北京路5号1栋1单元101")
    body = {"passages": [passage(by_number), passage(by_name, namesake)]}
    # when they come in one batch
    items = post_json(client, _url(checkpoints["K1"]), body).json()
    assert all(o["status"] == "created" for i in items for o in i["occupants"])
    # then each is the roster's person by number, by the one name, or nobody of two namesakes
    persons = dict(Arrival.objects.values_list("name", "person_id"))
    assert persons["别名"] == resident.pk
    assert persons["住户C1"] == roster["C1"].persons.get().pk
    assert persons["同名"] is None


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_batches_at_once_store_each_vehicle_once(areas, roster):
    from doorstep.accounts.models import Role
    from doorstep.checkpoints.models import Checkpoint, CheckpointOfficer
    from doorstep.screening.models import RiskArea

    from ..factories import UserFactory

    RiskArea.objects.create(name="湖北")
    checkpoint = Checkpoint.objects.create(
        district=areas["D"], code="KB", name="并发批次", kind="bus_station"
    )
    officer = UserFactory(role=Role.CHECKPOINT_OFFICER)
    CheckpointOfficer.objects.create(user=officer, checkpoint=checkpoint)

    def vehicle() -> services.PassageInput:
        return services.PassageInput(
            client_uuid=uuid.uuid4(),
            kind="car",
            arrived_at=timezone.now() - datetime.timedelta(minutes=3),
            origin="重庆渝中",
            occupants=services.occupants_from(
                [dict(occupant(origin="重庆渝中"), client_uuid=uuid.uuid4()) for _ in range(2)]
            ),
        )

    # given two batches sharing vehicles in opposite orders (a device resending part of what
    # another send carries), sent at the same moment
    shared = [vehicle() for _ in range(3)]
    batches = [[vehicle(), *shared], [*reversed(shared), vehicle()]]
    outcomes: list[list[str]] = [[], []]
    barrier = threading.Barrier(2)

    def send(n: int) -> None:
        barrier.wait()
        try:
            results = services.passages_record(
                user=officer, checkpoint=checkpoint, passages=batches[n]
            )
            for r in results:
                assert isinstance(r, services.PassageResult), r
                outcomes[n].append("created" if r.created else "answered")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # then every vehicle is stored once: no shared vehicle is a conflict, each is created by
    # one batch and answered to the other
    assert len(outcomes[0]) == len(outcomes[1]) == 4
    assert outcomes[0][0] == outcomes[1][3] == "created"
    for i in range(3):
        assert sorted([outcomes[0][1 + i], outcomes[1][2 - i]]) == ["answered", "created"]
    assert VehiclePassage.objects.count() == 5 and Arrival.objects.count() == 10


def test_the_digests_of_a_body_are_those_stored_by_earlier_sends():
    # given a vehicle and its occupants as a device sent them before the digests were rebuilt
    # without asdict (the hashes below were computed by the asdict version)
    occupant_full = services.OccupantInput(
        client_uuid=uuid.UUID(int=7),
        name="李四",
        id_number="x",
        phone="139",
        origin="湖北武汉",
        destination="天生路12号",
        temperature="38.2",
        symptoms=("fever", "cough"),
        left_origin_on=datetime.date(2026, 11, 20),
        destination_outside=True,
    )
    occupant_bare = services.OccupantInput(client_uuid=uuid.UUID(int=8), name="王五")
    shanghai = datetime.timezone(datetime.timedelta(hours=8))
    at = datetime.datetime(2026, 11, 30, 23, 5, tzinfo=shanghai)
    sent = services.PassageInput(
        client_uuid=uuid.UUID(int=9),
        kind="car",
        arrived_at=at,
        plate="渝A1",
        origin="湖北",
        destination="d",
        occupants=(occupant_full, occupant_bare),
    )
    typed = services.PassageInput(
        client_uuid=uuid.UUID(int=9),
        kind="car",
        arrived_at=at,
        occupants=(occupant_full,),
        arrived_at_typed=" 14:05 ",
    )
    # then a retry of it is recognised: the same digests
    assert occupant_full.digest().startswith("1832253453f0cfb2")
    assert occupant_bare.digest().startswith("10c0bb3ff1ce21b0")
    assert sent.digest().startswith("c43e8b4c3f7c49d9")
    assert typed.digest().startswith("2b547a10136d56ca")
