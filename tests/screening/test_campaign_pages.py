"""Campaign pages through HTTP: the list (scope, countdown, coverage), creating a campaign within
the jurisdiction with only the questions its purpose needs, and the risk areas."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.screening.models import Campaign, HouseholdProgress, RiskArea
from doorstep.screening.services import campaign_create, visit_record

from .conftest import screened

LIST_URL = "/campaigns/"
NEW_URL = "/campaigns/new/"


def local_input(value: datetime.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def form_data(**overrides) -> dict:
    now = timezone.now()
    data = {
        "name": "状元社区拉网式摸排",
        "kind": "sweep",
        "scope_area": "C1",
        "starts_at": local_input(now),
        "deadline": local_input(now + datetime.timedelta(days=3)),
        "max_attempts": "3",
        "lookback_days": "14",
        "questions": ["temperature"],
    }
    data.update(overrides)
    return data


def test_urls_are_where_the_design_says():
    assert reverse("screening:campaign_list") == LIST_URL
    assert reverse("screening:campaign_create") == NEW_URL
    assert reverse("screening:risk_areas") == "/campaigns/risk-areas/"
    assert reverse("screening:self_report", args=["abc"]) == "/campaigns/r/abc/"


def test_the_list_shows_visible_campaigns_with_countdown_and_coverage(
    client_for, campaign, worker, households, user_for, areas
):
    # given the district sweep with one of four households screened, and a campaign of street S2
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    other = campaign_create(
        user=user_for(Role.STREET_ADMIN, "S2"),
        name="朝阳街道摸排",
        scope_area=areas["S2"],
        deadline=timezone.now() + datetime.timedelta(hours=5),
    )
    # when the community admin of C1 opens the list (in English)
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    body = client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # then the district sweep is there with its countdown and C1's coverage (1 of 2 closed)
    assert f'data-campaign="{campaign.pk}"' in body
    assert "全区拉网式摸排" in body
    assert "1 days" in body or "2 days" in body
    assert "50.0%" in body and "(1/2)" in body
    # and the other street's campaign is not
    assert f'data-campaign="{other.pk}"' not in body and "朝阳街道摸排" not in body


def test_a_campaign_past_its_deadline_says_so(client_for, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        deadline=timezone.now() - datetime.timedelta(hours=1)
    )
    client = client_for(Role.COMMAND, "D")
    body = client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "countdown past" in body and "past the deadline" in body
    body = client.get(reverse("screening:coverage", args=[campaign.pk])).content.decode()
    assert 'class="countdown past"' in body


def test_a_grid_worker_sees_the_coverage_of_their_own_assignment(client_for, campaign, areas):
    client = client_for(Role.GRID_WORKER, "G1")  # holds no households of the campaign
    body = client.get(LIST_URL).content.decode()
    assert f'data-campaign="{campaign.pk}"' in body and "(0/0)" in body


def test_a_community_admin_creates_a_campaign_with_only_the_questions_needed(
    client_for, households
):
    # given the community admin of C1
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert client.get(NEW_URL).status_code == 200
    # when they create a sweep of C1 asking only for the temperature
    response = client.post(NEW_URL, form_data())
    # then the campaign exists with that one question, its households enrolled, and audited
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("screening:campaign_detail", args=[campaign.pk])
    assert campaign.questions == ["temperature"]
    assert campaign.scope_area.code == "C1" and campaign.created_by == client.user
    assert timezone.localtime(campaign.deadline).tzinfo is not None
    enrolled = HouseholdProgress.objects.filter(campaign=campaign)
    assert {p.grid.code for p in enrolled} == {"G1", "G2"}
    assert AuditEvent.objects.filter(action="campaign.create", user=client.user).count() == 1


def test_no_question_at_all_is_allowed(client_for, households):
    client = client_for(Role.STREET_ADMIN, "S1")
    client.post(NEW_URL, form_data(scope_area="S1", questions=[]))
    assert Campaign.objects.get().questions == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope_area": "C2"},  # another community
        {"scope_area": "S1"},  # the street above
        {"scope_area": "G4"},  # another street's grid
        {"deadline": local_input(timezone.now() - datetime.timedelta(days=1))},
        {"questions": ["temperature", "income"]},
        {"name": ""},
    ],
)
def test_a_bad_campaign_is_refused_and_nothing_written(client_for, households, overrides):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    response = client.post(NEW_URL, form_data(**overrides))
    assert response.status_code == 200  # the form again, with the error
    assert b"errorlist" in response.content
    assert Campaign.objects.count() == 0 and HouseholdProgress.objects.count() == 0
    assert not AuditEvent.objects.filter(action="campaign.create").exists()


@pytest.mark.parametrize("role, area", [(Role.GRID_WORKER, "G1"), (Role.CLINIC_STAFF, None)])
def test_only_admins_may_create_campaigns(client_for, households, role, area):
    client = client_for(role, area)
    assert client.get(NEW_URL).status_code == 403
    assert client.post(NEW_URL, form_data(scope_area="G1")).status_code == 403
    assert Campaign.objects.count() == 0
    assert b"/campaigns/new/" not in client.get(LIST_URL).content


def test_the_command_sets_the_risk_areas(client_for, campaign):
    client = client_for(Role.COMMAND, "D")
    response = client.post(reverse("screening:risk_areas"), {"names": "湖北\n温州，  \n"})
    assert response.status_code == 200
    assert set(RiskArea.objects.filter(active=True).values_list("name", flat=True)) == {
        "湖北",
        "温州",
    }
    assert AuditEvent.objects.filter(action="risk_areas.set").count() == 1


def test_others_read_the_risk_areas_but_cannot_change_them(client_for, campaign):
    client = client_for(Role.STREET_ADMIN, "S1")
    body = client.get(reverse("screening:risk_areas")).content.decode()
    assert "湖北" in body and 'name="names"' not in body
    response = client.post(reverse("screening:risk_areas"), {"names": "温州"})
    assert response.status_code == 403
    assert list(RiskArea.objects.filter(active=True).values_list("name", flat=True)) == ["湖北"]
    assert not AuditEvent.objects.filter(action="risk_areas.set").exists()
