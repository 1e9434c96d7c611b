"""A fever in a visit typed by someone other than the household's grid worker (a community admin's
evening entry or sheet upload, an admin verifying a self-report): the key person follow-up makes
is the household's grid worker's, so it is on their today page."""

from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.followup.models import KeyPerson
from doorstep.followup.services import ReasonInput, SourceInput, key_person_add
from doorstep.registry.models import Person
from doorstep.screening.models import HouseholdProgress, Visit

from ..screening import conftest as screening_fixtures
from . import test_sweep_link as sweep_fixtures
from .conftest import today
from .test_sweep_link import assert_followed, entry_form, head, login, visit_record_fever

# The fixtures this module borrows (named again as parameters below).
campaign = screening_fixtures.campaign
worker = screening_fixtures.worker
on_commit = sweep_fixtures.on_commit


def test_the_evening_entry_gives_the_key_person_to_the_households_worker(
    client_for, worker, campaign, households, on_commit, user_for
):
    user_for(Role.GRID_WORKER, "G1")  # another account of the grid: the assignment decides
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    household = households["G1"]
    person = head(household)
    data = entry_form(admin, campaign, household.household_number)
    data[f"p{person.pk}-temperature"] = "38.9"
    data[f"p{person.pk}-temperature_recheck"] = "38.7"
    with on_commit():
        answer = admin.post(
            reverse("screening:entry", args=[campaign.pk]), data, HTTP_HX_REQUEST="true"
        )
    assert answer.status_code == 200
    visit = Visit.objects.get()
    key_person, _referral = assert_followed(person, visit=visit, user=admin.user)
    assert key_person.worker == worker
    today_page = login(worker).get(reverse("followup:today"))
    assert today_page.status_code == 200 and person.name in today_page.content.decode()
    # among the new key persons assigned to the worker (rows rendered by the view)
    link = reverse("followup:key_person", args=[key_person.pk])
    assert any(f'href="{link}"' in str(row) for row in today_page.context["new"])


def test_without_an_assignment_the_grids_one_worker_account_is_responsible(
    campaign, households, user_for, on_commit
):
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    account = user_for(Role.GRID_WORKER, "G1")
    user_for(Role.GRID_WORKER, "G2")  # another grid's worker is nobody's choice here
    assert not HouseholdProgress.objects.filter(
        household=households["G1"], assigned_to__isnull=False
    ).exists()
    visit_record_fever(admin, campaign, households["G1"], on_commit)
    assert KeyPerson.objects.get(person=head(households["G1"])).worker == account


def test_two_accounts_in_the_grid_and_no_assignment_leave_it_to_the_admin(
    campaign, households, user_for, on_commit
):
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    user_for(Role.GRID_WORKER, "G1")
    user_for(Role.GRID_WORKER, "G1")
    visit_record_fever(admin, campaign, households["G1"], on_commit)
    assert KeyPerson.objects.get(person=head(households["G1"])).worker is None


def test_a_worker_moved_to_another_grid_is_no_longer_the_households(
    worker, campaign, households, areas, user_for, on_commit
):
    worker.jurisdiction_area = areas["G2"]
    worker.save(update_fields=["jurisdiction_area"])
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    visit_record_fever(admin, campaign, households["G1"], on_commit)
    assert KeyPerson.objects.get(person=head(households["G1"])).worker is None


def test_the_grid_workers_own_visit_and_an_existing_record_keep_their_worker(
    worker, campaign, households, user_for, on_commit
):
    visit_record_fever(worker, campaign, households["G1"], on_commit)
    key_person = KeyPerson.objects.get(person=head(households["G1"]))
    assert key_person.worker == worker
    # a later admin visit adds its source; the record keeps its worker
    KeyPerson.objects.filter(pk=key_person.pk).update(worker=None)
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    visit_record_fever(admin, campaign, households["G1"], on_commit)
    key_person.refresh_from_db()
    assert key_person.sources.count() == 2 and key_person.worker is None


def test_by_hand_an_admin_names_no_worker_and_a_worker_elsewhere_is_refused(
    households, areas, user_for
):
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    person = head(households["G2"])
    made = key_person_add(
        user=admin,
        person=person,
        reasons=[ReasonInput(kind="fever_symptoms", exposure_date=today())],
        source=SourceInput(kind="manual", reference="热线"),
    )
    assert made.worker is None
    stranger = user_for(Role.GRID_WORKER, "G3")  # community C2
    other = Person.objects.filter(household=households["G2"]).exclude(pk=person.pk).get()
    try:
        key_person_add(
            user=admin,
            person=other,
            reasons=[ReasonInput(kind="fever_symptoms", exposure_date=today())],
            source=SourceInput(kind="manual"),
            worker=stranger,
        )
    except Exception as error:
        assert getattr(error, "field", "") == "worker"
    else:
        raise AssertionError("a worker of another community was accepted")
    assert not KeyPerson.objects.filter(person=other).exists()
