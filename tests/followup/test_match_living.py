"""A hotline call is about someone living here: a roster record marked moved out or deceased is
never the person a key person is made on by name, and a number such a record carries leaves
the roster as it is and goes to the registry's reconciliation (the admins decide)."""

from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.followup import schedule
from doorstep.followup.models import KeyPerson, Source
from doorstep.followup.services import person_for_follow_up
from doorstep.registry.models import (
    IdReconciliation,
    Person,
    PersonStatus,
    ReconciliationStatus,
    RecordChange,
)
from doorstep.registry.services import reconciliation_moved_here

from .conftest import add_key_person


def _create(client, **fields):
    data = {
        "community": "C1",
        "reason": "fever_symptoms",
        "exposure_date": str(schedule.local_date(timezone.now())),
        "detail": "热线",
    }
    data.update(fields)
    return client.post(reverse("followup:key_person_create"), data)


def test_a_namesake_marked_moved_out_or_deceased_is_not_the_person(households, areas, admin):
    head = households["G1"].persons.order_by("pk").first()
    spouse = households["G1"].persons.order_by("pk").last()
    Person.objects.filter(pk=head.pk).update(status=PersonStatus.MOVED_OUT)
    Person.objects.filter(pk=spouse.pk).update(status=PersonStatus.DECEASED)
    by_phone = person_for_follow_up(
        user=admin, community=areas["C1"], name=head.name, phone=head.phone
    )
    by_address = person_for_follow_up(
        user=admin,
        community=areas["C1"],
        name=spouse.name,
        address=households["G1"].address_display,
    )
    assert by_phone.pk not in (head.pk, spouse.pk) and by_phone.is_new
    assert by_address.pk not in (head.pk, spouse.pk) and by_address.is_new
    # the same namesake living here is matched as before
    Person.objects.filter(pk=head.pk).update(status=PersonStatus.ACTIVE)
    assert (
        person_for_follow_up(user=admin, community=areas["C1"], name=head.name, phone=head.phone)
        == head
    )


def test_a_number_of_a_moved_out_record_over_http_keeps_the_roster_and_opens_a_case(
    households, areas, client_for
):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    head = households["G1"].persons.order_by("pk").first()
    Person.objects.filter(pk=head.pk).update(status=PersonStatus.MOVED_OUT)
    changes = RecordChange.objects.count()
    answer = _create(client, name=head.name, id_number=head.id_number)
    assert answer.status_code == 302
    key_person = KeyPerson.objects.select_related("person").get()
    newcomer = key_person.person
    # the key person is not on the moved-out record, and that record is as it was
    assert newcomer.pk != head.pk and newcomer.is_new and newcomer.household_id is None
    assert newcomer.id_number is None and newcomer.id_number_held == head.id_number
    head.refresh_from_db()
    assert head.status == PersonStatus.MOVED_OUT and head.household_id == households["G1"].pk
    assert RecordChange.objects.count() == changes
    case = IdReconciliation.objects.get(person=newcomer)
    assert case.status == ReconciliationStatus.PENDING and case.holder_id == head.pk
    assert case.area == areas["C1"]
    # a second call with the number finds the same new record: one key person
    again = _create(client, name=head.name, id_number=head.id_number, detail="第二通电话")
    assert again.status_code == 302
    assert KeyPerson.objects.count() == 1 and Source.objects.count() == 2
    # the admins decide on the case: the same person, come back; one record remains
    reconciliation_moved_here(user=client.user, case_id=case.pk)
    key_person.refresh_from_db()
    assert key_person.person_id == head.pk
    assert not Person.objects.filter(pk=newcomer.pk).exists()


def test_a_number_of_a_deceased_record_in_another_community_of_the_street(
    households, areas, user_for
):
    street = user_for(Role.STREET_ADMIN, "S1")
    other = households["G3"].persons.order_by("pk").first()  # community C2 of street S1
    Person.objects.filter(pk=other.pk).update(status=PersonStatus.DECEASED)
    person = person_for_follow_up(
        user=street, community=areas["C1"], name="张某", id_number=other.id_number
    )
    assert person.pk != other.pk and person.id_number_held == other.id_number
    assert IdReconciliation.objects.filter(person=person, holder=other).exists()
    other.refresh_from_db()
    assert other.status == PersonStatus.DECEASED


def test_a_number_of_a_moved_out_record_already_followed_adds_to_that_record(
    households, areas, admin
):
    head = households["G1"].persons.order_by("pk").first()
    key_person = add_key_person(admin, head, days_ago=3)
    Person.objects.filter(pk=head.pk).update(status=PersonStatus.MOVED_OUT)
    count = Person.objects.count()
    person = person_for_follow_up(
        user=admin, community=areas["C1"], name=head.name, id_number=head.id_number
    )
    assert person.pk == head.pk and Person.objects.count() == count
    assert person.key_person == key_person
    assert not IdReconciliation.objects.exists()


def test_a_grid_workers_call_finds_the_departed_record_another_worker_follows(
    households, areas, admin, user_for
):
    head = households["G1"].persons.order_by("pk").first()
    key_person = add_key_person(admin, head, days_ago=3)
    Person.objects.filter(pk=head.pk).update(status=PersonStatus.MOVED_OUT)
    grid_worker = user_for(Role.GRID_WORKER, "G1")  # not the record's worker
    person = person_for_follow_up(
        user=grid_worker, community=areas["C1"], name=head.name, id_number=head.id_number
    )
    assert person.pk == head.pk and person.key_person == key_person
    assert not IdReconciliation.objects.exists()
