"""Answers of follow-up never depend on records outside the caller's jurisdiction, and a
write the caller's role may not make changes nothing."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.core.masking import mask_id_number
from doorstep.followup.models import ChangeKind, KeyPerson, MonitoringChange
from doorstep.followup.services import (
    FollowupRefused,
    key_person_reassign,
    person_for_follow_up,
    transfer_ask,
)
from doorstep.registry.models import IdReconciliation, Person, ReconciliationStatus
from doorstep.registry.selectors import pending_reconciliations

from ..factories import unique_id_number
from ..two_factor import api_key_for
from .conftest import add_key_person, today


def _create(client, **fields):
    body = {
        "community": "C1",
        "reason": "risk_area_arrival",
        "exposure_date": today().isoformat(),
        **fields,
    }
    return client.post(reverse("followup:key_person_create"), body)


def test_a_number_of_another_grids_person_is_answered_like_an_unknown_one(households, client_for):
    # given a worker of grid G1, and a person of grid G2 (same community) they cannot see
    client = client_for(Role.GRID_WORKER, "G1")
    other = households["G2"].persons.order_by("pk").first()
    other_before = Person.objects.filter(pk=other.pk).values().get()
    unknown_number = unique_id_number()
    # when they add a key person with an unknown number, and one with the G2 person's number
    unknown = _create(client, name="来电甲", id_number=unknown_number)
    held = _create(client, name="来电乙", id_number=other.id_number)
    # then both answers are alike: saved, the record's page names the new person as typed
    assert unknown.status_code == held.status_code == 302
    unknown_page = client.get(unknown.url)
    held_page = client.get(held.url)
    assert unknown_page.status_code == held_page.status_code == 200
    assert "来电甲" in unknown_page.content.decode()
    assert "来电乙" in held_page.content.decode()
    assert other.name not in held_page.content.decode()
    newcomer = Person.objects.get(name="来电乙")
    assert newcomer.pk != other.pk and newcomer.is_new
    assert newcomer.id_number is None and newcomer.id_number_held == other.id_number
    # a reconciliation case was opened for the community admins, naming the other record
    case = IdReconciliation.objects.get()
    assert (case.person_id, case.holder_id, case.status) == (
        newcomer.pk,
        other.pk,
        ReconciliationStatus.PENDING,
    )
    # and nothing outside changed: the G2 person is as it was and is nobody's key person
    assert Person.objects.filter(pk=other.pk).values().get() == other_before
    assert not KeyPerson.objects.filter(person=other).exists()
    assert set(KeyPerson.objects.values_list("person__name", flat=True)) == {"来电甲", "来电乙"}


def test_name_and_phone_match_only_inside_the_jurisdiction(households, client_for):
    client = client_for(Role.GRID_WORKER, "G1")
    other = households["G2"].persons.order_by("pk").first()
    response = _create(client, name=other.name, phone=other.phone)
    assert response.status_code == 302
    assert not KeyPerson.objects.filter(person=other).exists()
    assert KeyPerson.objects.get().person.is_new


def test_the_api_answers_a_number_of_another_community_like_an_unknown_one(households, user_for):
    # given an admin of C2 and a person of C1
    admin = user_for(Role.COMMUNITY_ADMIN, "C2")
    other = households["G1"].persons.order_by("pk").first()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_key_for(admin, 'test')}")
    reasons = [{"kind": "risk_area_arrival", "exposure_date": today().isoformat()}]
    # when they add a key person with an unknown number and one with the C1 person's number
    answers = []
    for name, number in (("来电甲", unique_id_number()), ("来电乙", other.id_number)):
        body = {"community": "C2", "name": name, "id_number": number, "reasons": reasons}
        response = api.post(
            "/api/followup/key-persons", json.dumps(body), content_type="application/json"
        )
        answers.append(
            (response.status_code, response.json()["name"], response.json()["id_number_masked"])
        )
        assert answers[-1][2] == mask_id_number(number)
    # then both are created alike with the name given; a case is opened; C1 is untouched
    assert [(a[0], a[1]) for a in answers] == [(201, "来电甲"), (201, "来电乙")]
    assert IdReconciliation.objects.get().holder_id == other.pk
    assert not KeyPerson.objects.filter(person=other).exists()


def _snapshot(key_person):
    row = KeyPerson.objects.filter(pk=key_person.pk).values().get()
    return row, MonitoringChange.objects.count()


def test_a_worker_cannot_reassign_or_transfer_their_key_person(key_person, fworker, client, areas):
    # given the worker the key person is assigned to
    client.force_login(fworker)
    action = reverse("followup:key_person_action", args=[key_person.pk])
    row, changes = _snapshot(key_person)
    # when they take the record from themselves, or send it to another community, by the page
    client.post(action, {"action": "reassign", "worker": ""})
    client.post(action, {"action": "transfer", "to": "C2"})
    # or by the service
    with pytest.raises(FollowupRefused):
        key_person_reassign(user=fworker, key_person=key_person, worker=None)
    with pytest.raises(FollowupRefused):
        transfer_ask(user=fworker, key_person=key_person, to=areas["C2"])
    # then nothing changed: same worker, no transfer, no history
    assert KeyPerson.objects.filter(pk=key_person.pk).values().get() == row
    assert MonitoringChange.objects.count() == changes
    assert not MonitoringChange.objects.filter(
        kind__in=[ChangeKind.REASSIGNED, ChangeKind.TRANSFER_ASKED]
    ).exists()


def test_another_communitys_admin_cannot_reassign_or_transfer(key_person, user_for, areas):
    stranger = user_for(Role.COMMUNITY_ADMIN, "C2")
    row, changes = _snapshot(key_person)
    with pytest.raises(FollowupRefused):
        key_person_reassign(
            user=stranger, key_person=key_person, worker=user_for(Role.GRID_WORKER, "G2")
        )
    with pytest.raises(FollowupRefused):
        transfer_ask(user=stranger, key_person=key_person, to=areas["C2"])
    assert KeyPerson.objects.filter(pk=key_person.pk).values().get() == row
    assert MonitoringChange.objects.count() == changes
    # the responsible community's admin may
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    key_person_reassign(user=admin, key_person=key_person, worker=None)
    assert KeyPerson.objects.get(pk=key_person.pk).worker_id is None


def test_the_case_of_a_bare_person_reaches_the_community_admins(households, user_for, areas):
    admin = user_for(Role.COMMUNITY_ADMIN, "C2")
    other = households["G1"].persons.order_by("pk").first()
    bare = person_for_follow_up(
        user=admin, community=areas["C2"], name="来电乙", id_number=other.id_number
    )
    add_key_person(admin, bare, community=areas["C2"])
    assert [case.person_id for case in pending_reconciliations(admin)] == [bare.pk]
    # the admins of the other community see nothing of it
    assert list(pending_reconciliations(user_for(Role.COMMUNITY_ADMIN, "C1"))) == []
    # the pages show the case of a person who has no household yet
    client = Client()
    client.force_login(admin)
    listed = client.get(reverse("registry:reconciliations"))
    assert listed.status_code == 200 and "来电乙" in listed.content.decode()
    [case] = pending_reconciliations(admin)
    page = client.get(reverse("registry:reconciliation", args=[case.pk]))
    assert page.status_code == 200 and 'id="holder"' in page.content.decode()
    # corrected to a free number: the case closes, the bare person keeps being followed up
    right = unique_id_number()
    response = client.post(
        reverse("registry:reconciliation", args=[case.pk]),
        {"decision": "corrected", "id_number": right},
    )
    assert response.status_code == 302
    assert list(pending_reconciliations(admin)) == []
    bare.refresh_from_db()
    assert bare.id_number == right and bare.household_id is None


def test_a_bare_person_who_is_the_holder_folds_into_the_roster_record(households, user_for, areas):
    street = user_for(Role.STREET_ADMIN, "S1")  # sees both the holder (G1) and the case (C2)
    admin = user_for(Role.COMMUNITY_ADMIN, "C2")
    holder = households["G1"].persons.order_by("pk").first()
    bare = person_for_follow_up(
        user=admin, community=areas["C2"], name="来电乙", id_number=holder.id_number
    )
    key_person = add_key_person(admin, bare, community=areas["C2"])
    [case] = pending_reconciliations(street)
    household_before = holder.household_id
    client = Client()
    client.force_login(street)
    page = client.get(reverse("registry:reconciliation", args=[case.pk])).content.decode()
    assert holder.household.household_number in page  # the holder is always on a roster
    response = client.post(
        reverse("registry:reconciliation", args=[case.pk]), {"decision": "moved"}
    )
    assert response.status_code == 302
    holder.refresh_from_db()
    assert holder.household_id == household_before  # stays where the roster has them
    assert not Person.objects.filter(pk=bare.pk).exists()
    key_person.refresh_from_db()
    assert key_person.person_id == holder.pk
    # its own audit action (nobody moved), and the roster's history says who was merged
    from doorstep.core.models import AuditEvent
    from doorstep.registry.models import RecordChange

    actions = set(AuditEvent.objects.filter(user=street).values_list("action", flat=True))
    assert "reconciliation.folded" in actions and "reconciliation.moved" not in actions
    change = RecordChange.objects.get(person=holder, source="reconcile")
    assert change.changes == {"merged": ["", str(bare.pk)]}


def test_a_caller_cannot_put_a_new_person_in_a_household_they_do_not_see(
    households, user_for, areas
):
    """person_for_follow_up (views, api) always checks that the caller sees the household:
    there is no flag to skip it (the checkpoint flow has its own system lookup)."""
    worker = user_for(Role.GRID_WORKER, "G1")
    elsewhere = households["G2"]
    assert elsewhere.grid.parent == areas["C1"]  # the same community, another grid
    persons_before = Person.objects.count()
    with pytest.raises(FollowupRefused) as refused:
        person_for_follow_up(user=worker, community=areas["C1"], name="郑新", household=elsewhere)
    assert refused.value.field == "household"
    with pytest.raises(TypeError):
        person_for_follow_up(  # type: ignore[call-arg]
            user=worker,
            community=areas["C1"],
            name="郑新",
            household=elsewhere,
            household_matched=True,
        )
    assert Person.objects.count() == persons_before
    assert not IdReconciliation.objects.exists()
