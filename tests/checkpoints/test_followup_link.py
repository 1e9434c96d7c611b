"""Checkpoints → follow-up: an accept makes a key person monitored from the arrival date, the
handoff keeps it; a fever opens a referral at once."""

import datetime

from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.checkpoints import services
from doorstep.checkpoints.models import Arrival, Handoff
from doorstep.followup.models import KeyPerson, Referral

from .conftest import logged_in, occupant, passage, post_json


def _submit(client, checkpoint, *occupants, **vehicle):
    url = reverse("api:arrival_submit", args=[checkpoint.pk])
    return post_json(client, url, passage(*occupants, **vehicle)).json()["occupants"]


def test_accept_makes_a_key_person_from_the_arrival_date(checkpoints, officer_for, user_for):
    arrived = timezone.now() - datetime.timedelta(days=1, hours=2)
    left = timezone.localdate(arrived) - datetime.timedelta(days=2)
    officer = logged_in(officer_for("K1"))
    _submit(
        officer,
        checkpoints["K1"],
        occupant(name="赵接收", left_origin_on=str(left)),
        arrived_at=arrived.isoformat(),
    )
    handoff = Handoff.objects.get()
    assert not KeyPerson.objects.exists()
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    answer = post_json(admin, reverse("api:handoff_accept", args=[handoff.pk]), {})
    assert answer.status_code == 200
    handoff.refresh_from_db()
    key_person = handoff.key_person
    assert key_person is not None and key_person.person.name == "赵接收"
    assert key_person.community.code == "C1"
    reason = key_person.reasons.get()
    assert reason.kind == "risk_area_arrival"
    assert reason.exposure_date == left
    assert reason.arrival_date == timezone.localdate(arrived)
    source = key_person.sources.get()
    arrival = Arrival.objects.get()
    assert (source.kind, source.reference) == ("checkpoint", f"arrival:{arrival.client_uuid}")
    monitoring = key_person.monitorings.get()
    assert monitoring.start_date == timezone.localdate(arrived)
    assert arrival.key_person == key_person


def test_a_joined_handoff_makes_one_key_person_with_both_sources(
    checkpoints, officer_for, user_for
):
    person = occupant(name="钱两次")
    _submit(logged_in(officer_for("K1")), checkpoints["K1"], person)
    again = dict(person, client_uuid="6f1c4a52-2d57-4b1b-9a39-5a0f1d2c3b4e")
    _submit(logged_in(officer_for("K2")), checkpoints["K2"], again)
    handoff = Handoff.objects.get()
    services.handoff_accept(user=user_for(Role.COMMUNITY_ADMIN, "C1"), handoff_id=handoff.pk)
    assert KeyPerson.objects.count() == 1
    assert KeyPerson.objects.get().sources.count() == 2


def test_a_fever_opens_a_referral_at_once(checkpoints, officer_for):
    officer = logged_in(officer_for("K1"))
    items = _submit(
        officer, checkpoints["K1"], occupant(name="孙发热", temperature="38.4", symptoms=["cough"])
    )
    assert items[0]["referral"] is True
    arrival = Arrival.objects.get()
    referral = Referral.objects.get()
    assert arrival.referral == referral and referral.key_person == arrival.key_person
    assert referral.temperature == arrival.temperature
    kinds = sorted(arrival.key_person.reasons.values_list("kind", flat=True))
    assert kinds == ["fever_symptoms", "risk_area_arrival"]
    # the handoff keeps the key person before anyone accepts; the accept adds to it
    handoff = Handoff.objects.get()
    assert handoff.key_person == arrival.key_person


def test_a_fever_with_no_destination_waits_for_the_routing(checkpoints, officer_for, user_for):
    officer = logged_in(officer_for("K1"))
    items = _submit(
        officer, checkpoints["K1"], occupant(name="李不明", temperature="38.9", destination="某处")
    )
    assert items[0]["referral"] is False and not Referral.objects.exists()
    arrival = Arrival.objects.get()
    command = user_for(Role.COMMAND, "D")
    services.unmatched_route(user=command, arrival_id=arrival.pk, community_code="C2")
    arrival.refresh_from_db()
    assert arrival.referral is not None and arrival.key_person.community.code == "C2"


def test_passing_through_with_a_fever_and_no_community_gets_no_handoff(checkpoints, officer_for):
    officer = logged_in(officer_for("K1"))
    items = _submit(
        officer,
        checkpoints["K1"],
        occupant(purpose="passing", temperature="38.0", destination="成都市春熙路"),
    )
    assert items[0]["route"] == "passing" and items[0]["referral"] is False
    assert not Handoff.objects.exists() and not KeyPerson.objects.exists()


def test_a_feverish_traveller_passing_through_is_nobodys_key_person(
    checkpoints, officer_for, user_for
):
    # given a traveller passing through with a fever, who names an address of C1 on the way
    officer = logged_in(officer_for("K1"))
    url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
    body = passage(occupant(name="过路发热", purpose="passing", temperature="38.6"))
    items = post_json(officer, url, body).json()["occupants"]
    # then the arrival is recorded with its fever, at the checkpoint, in no community
    assert items[0]["route"] == "passing" and "fever" in items[0]["flags"]
    assert items[0]["referral"] is False
    arrival = Arrival.objects.get()
    assert arrival.community is None and arrival.person is None and arrival.household is None
    assert arrival.key_person is None and arrival.referral is None
    assert not KeyPerson.objects.exists() and not Referral.objects.exists()
    assert not Handoff.objects.exists()
    # C1 does not see a passer-by as one of its arrivals
    c1 = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    assert c1.get(reverse("checkpoints:arrivals")).context["total"] == 0
    # the officer is told the fever is theirs to send to the clinic
    page = officer.get(reverse("checkpoints:arrival", args=[arrival.pk])).content.decode()
    assert 'id="passing-fever"' in page
    # a retry of the same vehicle opens nothing either
    again = post_json(officer, url, body).json()["occupants"][0]
    assert again["status"] == "duplicate" and again["referral"] is False
    assert not KeyPerson.objects.exists() and not Referral.objects.exists()


def test_a_resident_coming_home_with_a_fever_is_the_roster_person_not_a_new_one(
    checkpoints, officer_for, roster
):
    from doorstep.registry.models import IdReconciliation, Person

    resident = roster["C1"].persons.get()
    persons_before = Person.objects.count()
    officer = logged_in(officer_for("K1"))
    # the road and number of C1's door, the building left out: the community is matched, the
    # door (and so the person) is not
    items = _submit(
        officer,
        checkpoints["K1"],
        occupant(
            name=resident.name,
            id_number=resident.id_number,
            destination="天生路12号",
            temperature="38.6",
        ),
    )
    assert items[0]["referral"] is True
    referral = Referral.objects.get()
    assert referral.key_person.person_id == resident.pk
    assert Person.objects.count() == persons_before
    assert not IdReconciliation.objects.exists()


def _fever_home(officer_client, checkpoint, name, id_number):
    """A feverish arrival whose destination matches C1 but not a door (the road and number
    only): the person is found by follow-up's lookup in the community, not at a door."""
    return _submit(
        officer_client,
        checkpoint,
        occupant(name=name, id_number=id_number, destination="天生路12号", temperature="38.6"),
    )


def test_a_bare_person_the_community_follows_coming_home_is_that_person(
    checkpoints, officer_for, user_for, areas
):
    from doorstep.followup.services import ReasonInput, SourceInput, key_person_add
    from doorstep.registry.models import IdReconciliation, Person

    from ..factories import PersonFactory

    bare = PersonFactory(household=None, name="周来访")
    followed = key_person_add(
        user=user_for(Role.COMMUNITY_ADMIN, "C1"),
        person=bare,
        reasons=[ReasonInput(kind="other", exposure_date=timezone.localdate(), detail="来访")],
        source=SourceInput(kind="manual"),
        community=areas["C1"],
    )
    persons_before = Person.objects.count()
    items = _fever_home(logged_in(officer_for("K1")), checkpoints["K1"], bare.name, bare.id_number)
    assert items[0]["referral"] is True
    assert Referral.objects.get().key_person == followed
    assert KeyPerson.objects.count() == 1
    assert Person.objects.count() == persons_before
    assert not IdReconciliation.objects.exists()


def test_a_resident_whose_number_is_held_for_reconciliation_is_that_resident(
    checkpoints, officer_for, roster
):
    from doorstep.registry.models import IdReconciliation, Person

    resident = roster["C1"].persons.get()
    number = resident.id_number
    Person.objects.filter(pk=resident.pk).update(id_number=None, id_number_held=number)
    persons_before = Person.objects.count()
    items = _fever_home(logged_in(officer_for("K1")), checkpoints["K1"], resident.name, number)
    assert items[0]["referral"] is True
    assert Referral.objects.get().key_person.person_id == resident.pk
    assert Person.objects.count() == persons_before
    assert not IdReconciliation.objects.exists()


def test_a_moved_out_or_deceased_record_never_becomes_a_key_person(
    checkpoints, officer_for, roster
):
    from doorstep.registry.models import PersonStatus

    from ..factories import PersonFactory

    # moved out: at the door (the full address); deceased: in the community (road and number)
    for status, destination in (
        (PersonStatus.MOVED_OUT, "天生路12号3栋2单元501"),
        (PersonStatus.DECEASED, "天生路12号"),
    ):
        gone = PersonFactory(household=roster["C1"], name=f"吴{status}", status=status)
        items = _submit(
            logged_in(officer_for("K1")),
            checkpoints["K1"],
            occupant(
                name=gone.name,
                id_number=gone.id_number,
                destination=destination,
                temperature="38.6",
            ),
        )
        assert items[0]["referral"] is True
        referral = Referral.objects.latest("pk")
        assert referral.key_person.person_id != gone.pk
        assert not KeyPerson.objects.filter(person=gone).exists()
        gone.refresh_from_db()
        assert gone.status == status
