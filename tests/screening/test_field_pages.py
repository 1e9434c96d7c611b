"""The phone pages of a grid worker: the list in walking order and the visit form."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.registry.models import Person
from doorstep.screening.models import HouseholdProgress, PersonCheck, Visit
from doorstep.screening.services import self_report_submit, self_report_token_for
from tests.factories import HouseholdFactory

from .conftest import knock


@pytest.fixture
def worker_client(worker):
    client = Client()
    client.force_login(worker)
    client.user = worker
    return client


def visit_url(campaign, household):
    return reverse("screening:visit", args=[campaign.pk, household.pk])


def form_of(client, campaign, household) -> dict:
    """What the rendered form would send untouched: the hidden UUID and every member present."""
    body = client.get(visit_url(campaign, household)).content.decode()
    client_uuid = re.search(r'name="client_uuid" value="([^"]+)"', body).group(1)
    data = {"client_uuid": client_uuid, "f": "all", "notes": ""}
    for person in household.persons.order_by("pk"):
        data[f"p{person.pk}-presence"] = "present"
        data[f"p{person.pk}-temperature"] = "36.6"
    return data


def progress_of(campaign, household):
    return HouseholdProgress.objects.get(campaign=campaign, household=household)


def test_the_list_shows_only_my_households_in_walking_order(worker_client, campaign, households):
    # given a second household in G1, on a lower floor of the same building
    lower = HouseholdFactory(grid=households["G1"].grid, building="1", unit="1", room="101")
    from doorstep.screening.services import campaign_enrol_households

    campaign_enrol_households(campaign=campaign)
    HouseholdProgress.objects.filter(household=lower).update(assigned_to=worker_client.user)
    households["G1"].floor, lower.floor = 5, 1
    households["G1"].save()
    lower.save()
    # when the worker opens their list
    response = worker_client.get(reverse("screening:field_list", args=[campaign.pk]))
    body = response.content.decode()
    # then it shows their two households, lower floor first, and nobody else's
    assert response.status_code == 200
    assert "HN-G1" in body and "HN-G2" not in body and "HN-G3" not in body
    assert body.index(f'id="hh-{lower.pk}"') < body.index(f'id="hh-{households["G1"].pk}"')
    assert "户主G1" in body
    assert re.search(r"<b>2</b>", body)


def test_the_visit_form_has_one_card_per_member_and_a_fresh_uuid(
    worker_client, campaign, households
):
    household = households["G1"]
    first = worker_client.get(visit_url(campaign, household)).content.decode()
    second = worker_client.get(visit_url(campaign, household)).content.decode()
    for person in household.persons.all():
        assert f'id="card-p{person.pk}"' in first
        assert person.name in first
    assert 'inputmode="decimal"' in first
    uuid_re = r'name="client_uuid" value="([^"]+)"'
    assert re.search(uuid_re, first).group(1) != re.search(uuid_re, second).group(1)
    for word in ("screened", "not_home", "refused", "vacant", "moved"):
        assert f'name="outcome" value="{word}"' in first


def test_screened_is_recorded_and_back_to_the_list_at_the_next_household(
    worker_client, campaign, households
):
    household = households["G1"]
    data = form_of(worker_client, campaign, household) | {"outcome": "screened"}
    response = worker_client.post(visit_url(campaign, household), data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("screening:field_list", args=[campaign.pk]))
    assert f"saved={household.pk}" in response["Location"]
    visit = Visit.objects.get()
    assert (visit.outcome, visit.source, visit.worker) == ("screened", "field", worker_client.user)
    assert PersonCheck.objects.filter(visit=visit).count() == 2
    assert progress_of(campaign, household).state == "screened"
    page = worker_client.get(response["Location"]).content.decode()
    assert 'data-state="screened"' in page and 'id="saved"' in page


def test_a_double_submit_is_one_visit(worker_client, campaign, households):
    household = households["G1"]
    data = form_of(worker_client, campaign, household) | {"outcome": "screened"}
    first = worker_client.post(visit_url(campaign, household), data)
    again = worker_client.post(visit_url(campaign, household), data)
    assert first.status_code == again.status_code == 302
    assert Visit.objects.count() == 1 and PersonCheck.objects.count() == 2


def test_a_temperature_slip_is_shown_next_to_the_field_and_nothing_is_lost(
    worker_client, campaign, households
):
    household = households["G1"]
    person = household.persons.order_by("pk").first()
    data = form_of(worker_client, campaign, household) | {
        "outcome": "screened",
        f"p{person.pk}-temperature": "365",
        "notes": "楼道有狗",
    }
    response = worker_client.post(visit_url(campaign, household), data)
    body = response.content.decode()
    assert response.status_code == 422
    error = re.search(rf'id="p{person.pk}-temperature-error">([^<]+)<', body)
    assert error and "36.5" in error.group(1)
    assert f'name="p{person.pk}-temperature" value="365"' in body
    assert 'value="楼道有狗"' in body and data["client_uuid"] in body
    assert Visit.objects.count() == 0 and PersonCheck.objects.count() == 0


def test_nobody_home_queues_a_revisit_shown_in_the_revisit_filter(
    worker_client, campaign, households
):
    household = households["G1"]
    data = form_of(worker_client, campaign, household) | {"outcome": "not_home"}
    assert worker_client.post(visit_url(campaign, household), data).status_code == 302
    visit = Visit.objects.get()
    assert visit.outcome == "not_home" and visit.checks.count() == 0
    body = worker_client.get(
        reverse("screening:field_list", args=[campaign.pk]) + "?f=revisit"
    ).content.decode()
    assert "HN-G1" in body and 'data-state="revisit"' in body


def test_someone_away_and_someone_new_at_the_door(worker_client, campaign, households):
    household = households["G1"]
    spouse = household.persons.order_by("pk").last()
    data = form_of(worker_client, campaign, household) | {
        "outcome": "screened",
        f"p{spouse.pk}-presence": "out_of_town",
        f"p{spouse.pk}-temperature": "",
        f"p{spouse.pk}-whereabouts": "湖北武汉",
        "n0-name": "李新来",
        "n0-relation": "租客",
        "n0-temperature": "36.4",
    }
    assert worker_client.post(visit_url(campaign, household), data).status_code == 302
    newcomer = Person.objects.get(name="李新来")
    assert newcomer.is_new and newcomer.household == household
    away = PersonCheck.objects.get(person=spouse)
    assert away.presence == "out_of_town" and "risk_area" in away.flags


def test_a_household_outside_the_assignment_is_404_and_nothing_written(
    worker_client, campaign, households
):
    for key in ("G2", "G3"):
        household = households[key]
        assert worker_client.get(visit_url(campaign, household)).status_code == 404
        data = {"outcome": "screened", "client_uuid": "7d0f5b5e-8a9e-4a3b-9a43-0d6f3c1f0c11"}
        assert worker_client.post(visit_url(campaign, household), data).status_code == 404
    assert Visit.objects.count() == 0 and Person.objects.count() == 8


def test_users_outside_the_campaign_or_without_area_get_404(client_for, campaign, households):
    url = visit_url(campaign, households["G1"])
    my_list = reverse("screening:field_list", args=[campaign.pk])
    for role, area in ((Role.COMMUNITY_ADMIN, "C2"), (Role.CHECKPOINT_OFFICER, None)):
        client = client_for(role, area)
        assert client.get(url).status_code == 404
        assert client.post(url, {"outcome": "vacant"}).status_code == 404
    # the other community's admin sees the district campaign, with nothing of theirs on it
    body = client_for(Role.COMMUNITY_ADMIN, "C2").get(my_list).content.decode()
    assert "HN-G1" not in body and "户主G1" not in body
    # an account without an area does not even see the campaign
    assert client_for(Role.CHECKPOINT_OFFICER, None).get(my_list).status_code == 404
    assert Visit.objects.count() == 0


def test_a_pending_self_report_is_verified_from_the_household_page(
    client_for, worker_client, campaign, households
):
    household = households["G1"]
    token = self_report_token_for(campaign=campaign, household_id=household.pk)
    visit, _created = self_report_submit(token=token.token, visit=knock(household, "screened"))
    assert progress_of(campaign, household).state == "self_reported"
    page = worker_client.get(visit_url(campaign, household)).content.decode()
    verify = reverse("screening:visit_verify", args=[campaign.pk, household.pk, visit.pk])
    assert verify in page
    # someone of another community cannot verify it
    outsider = client_for(Role.COMMUNITY_ADMIN, "C2")
    assert outsider.post(verify).status_code == 404
    visit.refresh_from_db()
    assert visit.verified_at is None
    # the worker can
    assert worker_client.post(verify).status_code == 302
    visit.refresh_from_db()
    assert visit.verified_by == worker_client.user
    assert progress_of(campaign, household).state == "screened"


def test_the_community_admin_may_record_in_their_jurisdiction(client_for, campaign, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    household = households["G2"]
    data = form_of(client, campaign, household) | {"outcome": "refused"}
    assert client.post(visit_url(campaign, household), data).status_code == 302
    assert Visit.objects.get().outcome == "refused"
    page = client.get(visit_url(campaign, household)).content.decode()
    previous = page.split('id="previous-visits"')[1]
    assert str(Visit.objects.get().get_outcome_display()) in previous
