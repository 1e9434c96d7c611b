import datetime
import threading

import pytest
from django.db import connection
from django.http import Http404

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.followup import selectors
from doorstep.followup.models import (
    ChangeKind,
    DuplicateStatus,
    KeyPerson,
    Monitoring,
    MonitoringStatus,
    PossibleDuplicate,
    ReasonLength,
)
from doorstep.followup.services import (
    FollowupRefused,
    ReasonInput,
    SourceInput,
    duplicate_decide,
    key_person_add,
    person_for_follow_up,
    reason_length_set,
)
from doorstep.registry.models import Person

from .conftest import add_key_person, today


def test_a_second_source_adds_to_the_record_and_a_new_exposure_moves_the_end(key_person, admin):
    monitoring = key_person.monitorings.get()
    assert monitoring.end_date == today() - datetime.timedelta(days=2) + datetime.timedelta(days=14)
    again = key_person_add(
        user=admin,
        person=key_person.person,
        reasons=[ReasonInput(kind="close_contact", exposure_date=today())],
        source=SourceInput(kind="clinic", reference="fever clinic call"),
    )
    assert again.pk == key_person.pk
    assert KeyPerson.objects.count() == 1
    assert key_person.sources.count() == 2
    assert set(key_person.reasons.values_list("kind", flat=True)) == {
        "risk_area_arrival",
        "close_contact",
    }
    monitoring.refresh_from_db()
    assert monitoring.end_date == today() + datetime.timedelta(days=14)
    moved = monitoring.changes.get(kind=ChangeKind.END_MOVED)
    assert moved.detail["to"] == str(monitoring.end_date)
    assert Monitoring.objects.count() == 1


def test_the_length_per_reason_is_set_by_command_staff_only(households, user_for, fworker):
    with pytest.raises(FollowupRefused):
        reason_length_set(user=user_for(Role.COMMUNITY_ADMIN, "C1"), kind="other", days=7)
    assert not ReasonLength.objects.exists()
    reason_length_set(user=user_for(Role.COMMAND, "D"), kind="other", days=7)
    person = households["G1"].persons.first()
    kp = key_person_add(
        user=fworker,
        person=person,
        reasons=[ReasonInput(kind="other", exposure_date=today(), detail="邻居举报")],
        source=SourceInput(kind="manual"),
    )
    assert kp.monitorings.get().end_date == today() + datetime.timedelta(days=7)


def test_bad_reasons_are_refused_with_the_field(households, fworker):
    person = households["G1"].persons.first()
    for reason, field in [
        (ReasonInput(kind="other", exposure_date=today()), "detail"),
        (
            ReasonInput(
                kind="risk_area_arrival", exposure_date=today() + datetime.timedelta(days=1)
            ),
            "exposure_date",
        ),
        (ReasonInput(kind="nonsense", exposure_date=today()), "reasons"),
    ]:
        with pytest.raises(FollowupRefused) as refused:
            key_person_add(
                user=fworker, person=person, reasons=[reason], source=SourceInput(kind="manual")
            )
        assert refused.value.field == field
    assert not KeyPerson.objects.exists()


def test_persons_not_on_the_roster_become_new_persons_in_a_household_or_bare(
    households, areas, admin
):
    household = households["G1"]
    newborn = person_for_follow_up(
        user=admin, community=areas["C1"], name="新生儿", household=household
    )
    visitor = person_for_follow_up(
        user=admin, community=areas["C1"], name="访客", phone="13912345678"
    )
    assert newborn.is_new and newborn.household_id == household.pk
    assert visitor.is_new and visitor.household_id is None
    kp = key_person_add(
        user=admin,
        person=visitor,
        reasons=[ReasonInput(kind="risk_area_arrival", exposure_date=today(), detail="武汉")],
        source=SourceInput(kind="manual"),
        community=areas["C1"],
    )
    assert kp.community == areas["C1"]
    # a bare person without a community is refused: somebody must be responsible
    with pytest.raises(FollowupRefused):
        key_person_add(
            user=admin,
            person=Person.objects.create(name="无处", is_new=True),
            reasons=[ReasonInput(kind="fever_symptoms", exposure_date=today())],
            source=SourceInput(kind="manual"),
        )


def test_a_roster_person_is_matched_by_id_number_or_name_and_phone(households, areas, admin):
    head = households["G1"].persons.order_by("pk").first()
    assert (
        person_for_follow_up(
            user=admin, community=areas["C1"], name="别名", id_number=head.id_number
        )
        == head
    )
    assert (
        person_for_follow_up(user=admin, community=areas["C1"], name=head.name, phone=head.phone)
        == head
    )
    count = Person.objects.count()
    other = person_for_follow_up(
        user=admin, community=areas["C1"], name=head.name, phone="13900000000"
    )
    assert other != head and Person.objects.count() == count + 1


def test_an_uncertain_match_goes_to_the_duplicates_list_and_a_person_decides(
    households, areas, admin
):
    head = households["G1"].persons.order_by("pk").first()
    first = add_key_person(admin, head)
    newcomer = person_for_follow_up(
        user=admin, community=areas["C1"], name=head.name, phone="13900000001"
    )
    second = add_key_person(admin, newcomer, community=areas["C1"], kind="fever_symptoms")
    case = PossibleDuplicate.objects.get()
    assert (case.key_person, case.other) == (second, first)
    assert list(selectors.duplicates_visible_to(admin)) == [case]
    duplicate_decide(user=admin, case=case, merge=True)
    case.refresh_from_db()
    assert case.status == DuplicateStatus.MERGED
    assert first.reasons.count() == 2
    assert second.monitorings.get().status == MonitoringStatus.MERGED
    assert AuditEvent.objects.filter(action="key_person.duplicate_merge").count() == 1
    with pytest.raises(FollowupRefused):
        duplicate_decide(user=admin, case=case, merge=False)


def test_keep_apart_moves_nothing(households, areas, admin):
    head = households["G1"].persons.order_by("pk").first()
    add_key_person(admin, head)
    newcomer = person_for_follow_up(
        user=admin, community=areas["C1"], name=head.name, phone="13900000002"
    )
    add_key_person(admin, newcomer, community=areas["C1"])
    case = PossibleDuplicate.objects.get()
    duplicate_decide(user=admin, case=case, merge=False)
    assert KeyPerson.objects.filter(merged_into__isnull=True).count() == 2
    assert AuditEvent.objects.filter(action="key_person.duplicate_keep_apart").count() == 1


def test_the_integrity_error_path_finds_the_other_callers_record(key_person, admin, monkeypatch):
    """The insert that loses the race raises IntegrityError; the record the winner made is used."""
    created = KeyPerson.objects.create
    calls = []

    def racing_create(**kwargs):
        calls.append(1)
        return created(**kwargs)  # the person has a record: this raises IntegrityError

    monkeypatch.setattr(KeyPerson.objects, "create", racing_create)
    again = add_key_person(admin, key_person.person, kind="fever_symptoms")
    assert calls and again.pk == key_person.pk
    assert KeyPerson.objects.count() == 1 and Monitoring.objects.count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_adding_the_same_person_at_once_make_one_record(areas, user_for):
    from tests.factories import HouseholdFactory, PersonFactory

    person = PersonFactory(household=HouseholdFactory(grid=areas["G1"]))
    users = [user_for(Role.GRID_WORKER, "G1") for _ in range(4)]
    barrier = threading.Barrier(len(users))
    errors = []

    def add(user):
        try:
            barrier.wait()
            add_key_person(user, person)
        except Exception as error:  # collected: the assertion below names it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert KeyPerson.objects.filter(person=person).count() == 1
    kp = KeyPerson.objects.get(person=person)
    assert kp.sources.count() == 4
    assert Monitoring.objects.filter(key_person=kp, status="active").count() == 1


def test_scoping(key_person, user_for, areas):
    assert selectors.access_key_person(user_for(Role.COMMUNITY_ADMIN, "C1"), key_person.pk)
    assert selectors.access_key_person(user_for(Role.STREET_ADMIN, "S1"), key_person.pk)
    for user in (
        user_for(Role.COMMUNITY_ADMIN, "C2"),
        user_for(Role.STREET_ADMIN, "S2"),
        user_for(Role.GRID_WORKER, "G1"),  # not the assigned worker
        user_for(Role.CLINIC_STAFF, None),
        user_for(Role.CHECKPOINT_OFFICER, None),
    ):
        with pytest.raises(Http404):
            selectors.access_key_person(user, key_person.pk)
    assert selectors.access_key_person(key_person.worker, key_person.pk)
