"""An occupant without ID number or phone joins the pending handoff of the same person when the
destination pins the same household of the same community and the name is the same; a name
alone never joins across households, and two people are never made one."""

import uuid

import pytest
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.checkpoints import services
from doorstep.checkpoints.matching import forget_indexes
from doorstep.checkpoints.models import Arrival, Handoff, HandoffEvent
from doorstep.followup.models import KeyPerson

from ..factories import HouseholdFactory, PersonFactory
from .conftest import logged_in, occupant, passage, post_json

DOOR = "天生路12号3栋2单元501"  # the roster's C1 door


def _arrive(client, checkpoint, person: dict) -> dict:
    url = reverse("api:arrival_submit", args=[checkpoint.pk])
    answer = post_json(client, url, passage(person))
    assert answer.status_code == 201, answer.content
    (item,) = answer.json()["occupants"]
    assert item["status"] == "created" and item["route"] == "handed_off"
    return item


def _without_id(name: str, destination: str = DOOR + "室") -> dict:
    return occupant(name=name, id_number="", phone="", destination=destination)


@pytest.fixture
def next_door(areas, roster):
    """Another household of C1 at the same number: 天生路12号3栋2单元502."""
    household = HouseholdFactory(
        grid=areas["G1"], road="天生路", house_number="12号", building="3", unit="2", room="502"
    )
    forget_indexes()
    return household


def test_an_occupant_without_id_or_phone_joins_the_pending_handoff_at_the_same_door(
    checkpoints, officer_for
):
    # given 王五 handed off to C1 at the door, with an ID number
    _arrive(logged_in(officer_for("K1")), checkpoints["K1"], occupant(name="王五"))
    # when 王五 comes through another checkpoint without ID card or phone, to the same door
    item = _arrive(logged_in(officer_for("K2")), checkpoints["K2"], _without_id("王五"))
    # then the arrival is kept, flagged for completion, and joins the one pending handoff
    assert item["needs_completion"] is True
    handoff = Handoff.objects.get()
    assert handoff.community.code == "C1" and handoff.arrivals.count() == 2
    joined = Arrival.objects.get(pk=item["arrival_id"])
    assert joined.id_number is None and joined.phone == "" and joined.handoff == handoff
    actions = list(HandoffEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["sent", "joined"]


def test_two_arrivals_without_id_of_the_same_name_at_the_same_door_are_one_handoff(
    checkpoints, officer_for
):
    officer = logged_in(officer_for("K1"))
    _arrive(officer, checkpoints["K1"], _without_id("赵六"))
    _arrive(officer, checkpoints["K1"], _without_id("赵六", destination="天生路12号3-2-501"))
    assert Handoff.objects.count() == 1 and Arrival.objects.count() == 2


def test_the_person_who_comes_back_with_an_id_number_joins_the_handoff_opened_without(
    checkpoints, officer_for, user_for
):
    officer = logged_in(officer_for("K1"))
    _arrive(officer, checkpoints["K1"], _without_id("孙七"))
    _arrive(officer, checkpoints["K1"], occupant(name="孙七", phone=""))
    handoff = Handoff.objects.get()
    assert handoff.arrivals.count() == 2
    # accepting it follows one person, by the ID number one of the arrivals gave, with both
    # arrivals as its sources
    services.handoff_accept(user=user_for(Role.COMMUNITY_ADMIN, "C1"), handoff_id=handoff.pk)
    key_person = KeyPerson.objects.get()
    assert key_person.person.id_number == Arrival.objects.get(id_number__isnull=False).id_number
    assert key_person.sources.count() == 2
    assert set(Arrival.objects.values_list("key_person", flat=True)) == {key_person.pk}


def test_the_same_name_at_another_household_is_another_handoff(checkpoints, officer_for, next_door):
    officer = logged_in(officer_for("K1"))
    _arrive(officer, checkpoints["K1"], occupant(name="周八"))
    item = _arrive(officer, checkpoints["K1"], _without_id("周八", "天生路12号3栋2单元502"))
    assert Handoff.objects.count() == 2
    assert Arrival.objects.get(pk=item["arrival_id"]).household == next_door
    assert not HandoffEvent.objects.filter(action="joined").exists()


def test_two_id_numbers_of_the_same_name_at_one_door_are_two_people(checkpoints, officer_for):
    officer = logged_in(officer_for("K1"))
    _arrive(officer, checkpoints["K1"], occupant(name="吴九"))
    _arrive(officer, checkpoints["K1"], occupant(name="吴九"))  # another ID number
    assert Handoff.objects.count() == 2
    # and an arrival without ID of that name cannot tell which of the two: a third handoff
    _arrive(officer, checkpoints["K1"], _without_id("吴九"))
    assert Handoff.objects.count() == 3
    assert not HandoffEvent.objects.filter(action="joined").exists()


def test_two_phones_without_id_numbers_are_two_people(checkpoints, officer_for):
    officer = logged_in(officer_for("K1"))
    _arrive(officer, checkpoints["K1"], occupant(name="郑十", id_number="", phone="13900000001"))
    _arrive(officer, checkpoints["K1"], occupant(name="郑十", id_number="", phone="13900000002"))
    assert Handoff.objects.count() == 2


def test_a_household_with_two_living_persons_of_the_name_never_joins_by_name(
    checkpoints, officer_for, roster
):
    # the roster's C1 door holds 住户C1; a second 住户C1 lives there too
    PersonFactory(household=roster["C1"], name="住户C1")
    officer = logged_in(officer_for("K1"))
    _arrive(officer, checkpoints["K1"], occupant(name="住户C1"))
    _arrive(officer, checkpoints["K1"], _without_id("住户C1"))
    assert Handoff.objects.count() == 2


def test_an_arrival_without_a_household_never_joins_by_name(checkpoints, officer_for):
    officer = logged_in(officer_for("K1"))
    _arrive(officer, checkpoints["K1"], occupant(name="冯一"))
    # the community's name only: C1, but no door
    item = _arrive(officer, checkpoints["K1"], _without_id("冯一", "北碚区状元社区"))
    assert Arrival.objects.get(pk=item["arrival_id"]).household is None
    assert Handoff.objects.count() == 2


def test_a_joined_arrival_with_a_fever_is_referred_as_the_handoffs_person(checkpoints, officer_for):
    officer = logged_in(officer_for("K1"))
    _arrive(officer, checkpoints["K1"], occupant(name="陈发热", temperature="38.6"))
    first = Arrival.objects.get()
    fever = dict(_without_id("陈发热"), temperature="38.9", client_uuid=str(uuid.uuid4()))
    item = _arrive(officer, checkpoints["K1"], fever)
    assert item["referral"] is True
    second = Arrival.objects.get(pk=item["arrival_id"])
    assert second.handoff_id == first.handoff_id
    assert second.key_person == first.key_person
    assert KeyPerson.objects.count() == 1
