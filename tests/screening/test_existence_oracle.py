"""No existence oracle: whether an ID number is carried by anyone outside the caller's
jurisdiction changes no answer. A new person at the door (visit API, batch, field page) or in
the add-person form with such a number is accepted like any other, shown like any other, and
sent, without a word to the recorder, to the community admins' reconciliation list, where the
case is decided (same person moved here, a wrong number, the number confirmed), audited and
scoped like everything else. Inside the caller's own jurisdiction the clear answers stay."""

import datetime
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.accounts.services import api_token_create
from doorstep.core.models import AuditEvent
from doorstep.registry.models import IdReconciliation, Person, RecordChange
from doorstep.screening.models import PersonCheck
from tests.factories import HouseholdFactory, PersonFactory, unique_id_number


@pytest.fixture
def api(worker):
    _token, key = api_token_create(user=worker, name="phone")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def newcomer_visit(household, number: str, name: str = "新来的人") -> dict:
    return {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household.pk,
        "outcome": "screened",
        "visited_at": (timezone.now() - datetime.timedelta(minutes=3)).isoformat(),
        "person_checks": [
            {"new_person": {"name": name, "id_number": number}, "temperature": "36.5"}
        ],
    }


def normalised(response) -> str:
    """What a caller can compare between two answers: status and body without ids, UUIDs,
    times and masked numbers."""
    text = response.content.decode()
    text = re.sub(r'"(id|visit_id|household_id)": \d+', r'"\1": 0', text)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "U", text)
    text = re.sub(r"\d{6}\*+\d{3}[0-9X]", "ID", text)
    return f"{response.status_code} {text}"


def post_visit(api, campaign, body):
    return api.post(f"/api/campaigns/{campaign.pk}/visits", body, content_type="application/json")


def test_a_number_held_elsewhere_gets_the_same_answer_as_a_new_one(api, campaign, households):
    elsewhere = households["G4"].persons.first()  # another street
    held = post_visit(api, campaign, newcomer_visit(households["G1"], elsewhere.id_number))
    fresh = post_visit(api, campaign, newcomer_visit(households["G1"], unique_id_number()))
    assert held.status_code == fresh.status_code == 201
    assert normalised(held) == normalised(fresh)
    # the members as the worker reads them: two newcomers, alike, masked
    members = api.get(
        f"/api/campaigns/{campaign.pk}/households/{households['G1'].pk}/members"
    ).json()
    newcomers = [m for m in members if m["is_new"]]
    assert len(newcomers) == 2
    assert all(re.fullmatch(r"\d{6}\*{8}\d{3}[0-9X]", m["id_number_masked"]) for m in newcomers)
    assert (
        newcomers[0]["id_number_masked"]
        == elsewhere.id_number[:6] + "*" * 8 + (elsewhere.id_number[-4:])
    )
    # stored without the number in the unique column, the number held for the case
    newcomer = Person.objects.get(id_number_held=elsewhere.id_number)
    assert newcomer.id_number is None and newcomer.shown_id_number == elsewhere.id_number
    assert newcomer.birth_date == elsewhere.birth_date  # derived from the number, as for any
    case = IdReconciliation.objects.get()
    assert (case.person, case.holder, case.status) == (newcomer, elsewhere, "pending")
    assert case.source == "field"
    assert Person.objects.filter(id_number=elsewhere.id_number).get() == elsewhere


def test_the_batch_answers_alike_too(api, campaign, households):
    numbers = [households["G4"].persons.first().id_number, unique_id_number()]
    numbers += [households["G3"].persons.first().id_number, unique_id_number()]
    body = {
        "visits": [
            newcomer_visit(households["G1"], n, name=f"人{i}") for i, n in enumerate(numbers)
        ]
    }
    response = api.post(
        f"/api/campaigns/{campaign.pk}/visits/batch", body, content_type="application/json"
    )
    assert [item["status"] for item in response.json()] == ["created"] * 4
    assert [item["error"] for item in response.json()] == [""] * 4
    assert IdReconciliation.objects.count() == 2


def test_inside_the_workers_own_jurisdiction_the_clear_answer_stays(
    api, campaign, households, areas
):
    # a duplicate in the worker's own grid (another household of G1) is their business
    neighbour = HouseholdFactory(grid=areas["G1"])
    mine = PersonFactory(household=neighbour)
    response = post_visit(api, campaign, newcomer_visit(households["G1"], mine.id_number))
    assert response.status_code == 422
    assert response.json()["field"] == "person_checks[0].new_person"
    assert not IdReconciliation.objects.exists()
    # and the refusal is audited
    assert AuditEvent.objects.filter(action="write.refused").count() == 1


def test_the_add_person_form_answers_alike(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    url = reverse("registry:person_create", args=[households["G1"].pk])
    form = {
        "name": "新成员",
        "id_type": "resident_id",
        "residency": "permanent",
        "status": "active",
    }
    elsewhere = households["G4"].persons.first()  # another street
    held = client.post(url, {**form, "id_number": elsewhere.id_number})
    fresh = client.post(url, {**form, "id_number": unique_id_number()})
    assert (held.status_code, held["Location"]) == (fresh.status_code, fresh["Location"])
    assert held.status_code == 302
    assert IdReconciliation.objects.get().source == "form"
    # the household page shows both alike, the history too
    page = client.get(held["Location"]).content.decode()
    assert elsewhere.id_number[:6] + "********" + elsewhere.id_number[-4:] in page
    change = RecordChange.objects.filter(person__id_number_held=elsewhere.id_number).get()
    assert change.changes["id_number"] == [
        None,
        elsewhere.id_number[:6] + "********" + elsewhere.id_number[-4:],
    ]
    # a number of the admin's own community: the clear message
    own = households["G2"].persons.first()
    refused = client.post(url, {**form, "id_number": own.id_number})
    assert refused.status_code == 422
    assert "该身份证号已属于其他户的人员" in refused.content.decode()


def test_only_managers_of_the_persons_area_see_the_case_and_the_worker_is_not_told(
    api, campaign, households, client_for, worker
):
    elsewhere = households["G4"].persons.first()
    post_visit(api, campaign, newcomer_visit(households["G1"], elsewhere.id_number))
    case = IdReconciliation.objects.get()
    cases = reverse("registry:reconciliations")
    detail = reverse("registry:reconciliation", args=[case.pk])
    for role, area in (
        (Role.COMMUNITY_ADMIN, "C1"),
        (Role.STREET_ADMIN, "S1"),
        (Role.COMMAND, "D"),
    ):
        client = client_for(role, area)
        assert "新来的人" in client.get(cases).content.decode()
        assert client.get(detail).status_code == 200
    for role, area in ((Role.COMMUNITY_ADMIN, "C2"), (Role.STREET_ADMIN, "S2")):
        client = client_for(role, area)
        assert "新来的人" not in client.get(cases).content.decode()
        assert client.get(detail).status_code == 404
    own = Client()
    own.force_login(worker)
    assert own.get(cases).status_code == 403
    assert own.get(detail).status_code == 404
    page = own.get(reverse("registry:household_detail", args=[households["G1"].pk]))
    assert "to reconcile" not in page.content.decode() and "待核对" not in page.content.decode()


def test_a_community_admin_cannot_pull_a_record_from_another_street(
    api, campaign, households, client_for
):
    elsewhere = households["G4"].persons.first()
    post_visit(api, campaign, newcomer_visit(households["G1"], elsewhere.id_number))
    case = IdReconciliation.objects.get()
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    detail = reverse("registry:reconciliation", args=[case.pk])
    page = client.get(detail).content.decode()
    assert elsewhere.name not in page and "HN-G4" not in page
    response = client.post(detail, {"decision": "moved"})
    assert response.status_code == 422
    elsewhere.refresh_from_db()
    assert elsewhere.household == households["G4"]
    case.refresh_from_db()
    assert case.status == "pending"


def test_the_command_decides_same_person_moved_here(api, campaign, households, client_for):
    moved = households["G4"].persons.first()
    post_visit(api, campaign, newcomer_visit(households["G1"], moved.id_number))
    newcomer = Person.objects.get(id_number_held=moved.id_number)
    checks = list(PersonCheck.objects.filter(person=newcomer).values_list("pk", flat=True))
    case = IdReconciliation.objects.get()
    client = client_for(Role.COMMAND, "D")
    detail = reverse("registry:reconciliation", args=[case.pk])
    assert moved.name in client.get(detail).content.decode()  # the command sees both records
    response = client.post(detail, {"decision": "moved"})
    assert response.status_code == 302
    moved.refresh_from_db()
    assert moved.household == households["G1"] and moved.status == "active"
    assert not Person.objects.filter(pk=newcomer.pk).exists()
    assert set(PersonCheck.objects.filter(person=moved).values_list("pk", flat=True)) >= set(checks)
    case.refresh_from_db()
    assert (case.status, case.person, case.resolved_by) == ("moved", moved, client.user)
    history = RecordChange.objects.filter(source="reconcile", person=moved)
    assert set(history.values_list("household", flat=True)) == {
        households["G1"].pk,
        households["G4"].pk,
    }
    assert AuditEvent.objects.filter(action="reconciliation.moved", user=client.user).exists()
    assert client.get(reverse("registry:reconciliations")).status_code == 200


def test_a_wrong_number_is_corrected(api, campaign, households, client_for):
    elsewhere = households["G4"].persons.first()
    post_visit(api, campaign, newcomer_visit(households["G1"], elsewhere.id_number))
    case = IdReconciliation.objects.get()
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    detail = reverse("registry:reconciliation", args=[case.pk])
    right = unique_id_number()
    assert client.post(detail, {"decision": "corrected", "id_number": right}).status_code == 302
    person = case.person
    person.refresh_from_db()
    assert (person.id_number, person.id_number_held) == (right, None)
    case.refresh_from_db()
    assert case.status == "corrected"
    assert AuditEvent.objects.filter(action="reconciliation.corrected").exists()
    assert not IdReconciliation.objects.filter(status="pending").exists()


def test_the_number_is_confirmed_once_the_other_record_is_corrected(
    api, campaign, households, client_for
):
    elsewhere = households["G4"].persons.first()
    number = elsewhere.id_number
    post_visit(api, campaign, newcomer_visit(households["G1"], number))
    case = IdReconciliation.objects.get()
    command = client_for(Role.COMMAND, "D")
    detail = reverse("registry:reconciliation", args=[case.pk])
    assert command.post(detail, {"decision": "confirmed"}).status_code == 422  # still carried
    Person.objects.filter(pk=elsewhere.pk).update(id_number=unique_id_number())
    assert 'id="decide-confirmed"' in command.get(detail).content.decode()
    assert command.post(detail, {"decision": "confirmed"}).status_code == 302
    person = Person.objects.get(pk=case.person_id)
    assert (person.id_number, person.id_number_held) == (number, None)


def test_a_community_admin_never_learns_when_the_outside_record_gives_the_number_up(
    api, campaign, households, client_for
):
    # given a case whose number a record outside the admin's community carries
    elsewhere = households["G4"].persons.first()
    post_visit(api, campaign, newcomer_visit(households["G1"], elsewhere.id_number))
    case = IdReconciliation.objects.get()
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    detail = reverse("registry:reconciliation", args=[case.pk])

    def answers() -> tuple:
        page = client.get(detail).content.decode()
        refused = client.post(detail, {"decision": "confirmed"})
        holder = re.search(r'<p id="holder">(.*?)</p>', page, re.S).group(1)
        offered = 'id="decide-confirmed"' in page
        return holder, offered, refused.status_code, refused.context["error"]

    before = answers()
    # when the outside record is corrected
    Person.objects.filter(pk=elsewhere.pk).update(id_number=unique_id_number())
    # then the page and the refusal are the same as before: nothing tells the admin
    assert answers() == before
    assert before[1] is False and before[2] == 422
    assert "command" in before[3] or "指挥" in before[3]
    case.refresh_from_db()
    person = Person.objects.get(pk=case.person_id)
    assert (case.status, person.id_number) == ("pending", None)


def test_a_held_number_sent_back_masked_keeps_the_case(api, campaign, households, client_for):
    elsewhere = households["G4"].persons.first()
    post_visit(api, campaign, newcomer_visit(households["G1"], elsewhere.id_number))
    newcomer = Person.objects.get(id_number_held=elsewhere.id_number)
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    url = reverse("registry:person_edit", args=[newcomer.pk])
    form = client.get(url).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data["relation"] = "租客"
    assert client.post(url, data).status_code == 302
    newcomer.refresh_from_db()
    assert (newcomer.id_number_held, newcomer.relation) == (elsewhere.id_number, "租客")
    assert IdReconciliation.objects.filter(status="pending").count() == 1
    # searching for the number finds the household, in scope
    found = client.post(reverse("registry:household_list"), {"q": elsewhere.id_number}, follow=True)
    assert "HN-G1" in found.content.decode()
