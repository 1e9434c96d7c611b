"""Printable paper through HTTP: the screening form of an assignment in walking order with members
pre-printed (IDs masked), and the notice slips with a QR code for the doors nobody opened."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.screening.models import Assignment, SelfReportToken
from doorstep.screening.services import assignment_create, campaign_enrol_households, visit_record
from tests.factories import HouseholdFactory, PersonFactory

from .conftest import knock, screened


@pytest.fixture
def stairwell(campaign, worker, households, areas, user_for):
    """G1 holds HN-G1 plus four households in two buildings, all given to the G1 worker."""
    made = [
        HouseholdFactory(grid=areas["G1"], building=building, unit="1", room=room, floor=floor)
        for building, room, floor in [("2", "301", 3), ("1", "502", 5), ("2", "101", 1)]
    ]
    made.append(HouseholdFactory(grid=areas["G1"], building="1", unit="1", room="201", floor=2))
    for household in made:
        PersonFactory(household=household, relation="户主", name=f"户主{household.room}")
        PersonFactory(household=household, relation="配偶", name=f"配偶{household.room}")
    campaign_enrol_households(campaign=campaign)
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment = assignment_create(user=admin, campaign=campaign, worker=worker, grid=areas["G1"])
    worker.full_name, worker.phone = "王网格", "13912345678"
    worker.save()
    return {"assignment": assignment, "made": made}


def as_user(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def forms_url(campaign, assignment):
    return reverse("screening:paper_forms", args=[campaign.pk, assignment.pk])


def slips_url(campaign, assignment):
    return reverse("screening:notice_slips", args=[campaign.pk, assignment.pk])


def printout(client, url, purpose="入户排查"):
    """A printout: the purpose form's POST (with the CSRF token) answers with the page."""
    return client.post(url, {"purpose": purpose})


def test_printing_asks_for_the_purpose_and_records_it(campaign, worker, stairwell):
    client = as_user(worker)
    for make, action in ((forms_url, "paper.forms"), (slips_url, "paper.slips")):
        url = make(campaign, stairwell["assignment"])
        asked = client.get(url)
        body = asked.content.decode()
        assert asked.status_code == 200 and 'id="purpose-form"' in body
        assert 'method="post"' in body and "csrfmiddlewaretoken" in body
        assert "户主" not in body  # nothing of the households before the purpose
        assert not AuditEvent.objects.filter(action=action).exists()
        assert printout(client, url).status_code == 200
        event = AuditEvent.objects.get(action=action)
        assert event.user == worker and event.purpose == "入户排查"


def test_a_purpose_in_a_link_prints_nothing_and_records_nothing(campaign, worker, stairwell):
    """A cross-site link with ?purpose= must not write an audit row with its text."""
    client = as_user(worker)
    for make in (forms_url, slips_url):
        url = make(campaign, stairwell["assignment"]) + "?purpose=攻击者的用途"
        response = client.get(url)
        assert response.status_code == 400
        assert "户主" not in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="paper.").exists()
    # and a POST without the CSRF token is refused before the view
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(worker)
    url = forms_url(campaign, stairwell["assignment"])
    assert strict.post(url, {"purpose": "攻击者的用途"}).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="paper.").exists()


def test_the_form_lists_households_in_walking_order_with_members_masked(
    campaign, worker, stairwell
):
    response = printout(as_user(worker), forms_url(campaign, stairwell["assignment"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "size: A4" in body and "break-after:page" in body
    # one section per building, households by building, floor, room
    assert re.findall(r'data-building="(\w*)"', body) == ["1", "2"]
    rooms = re.findall(r"户主(\d+)</td>", body)
    building_1 = [r for r in rooms if r in ("201", "502")]
    assert building_1 == ["201", "502"]
    assert rooms.index("101") < rooms.index("301")
    # members pre-printed, head first, ID numbers masked, phones absent
    for household in stairwell["made"]:
        head, spouse = household.persons.order_by("pk")
        assert body.index(head.name) < body.index(spouse.name)
        assert head.id_number not in body and head.phone not in body
        assert head.id_number[:6] + "********" + head.id_number[-4:] in body
    assert body.count('class="hh"') == 5


def test_slips_only_for_doors_not_yet_reached_with_a_qr_code(
    campaign, worker, stairwell, households
):
    made = stairwell["made"]
    # given one household screened and one nobody home
    visit_record(user=worker, campaign=campaign, visit=screened(made[0]))
    visit_record(user=worker, campaign=campaign, visit=knock(made[1]))
    # when the slips are printed
    response = printout(as_user(worker), slips_url(campaign, stairwell["assignment"]))
    body = response.content.decode()
    # then every household not screened has a slip with a QR code and its own link
    slips = re.findall(r'class="slip" data-household="(\d+)"', body)
    assert made[0].pk not in map(int, slips)
    assert set(map(int, slips)) == {h.pk for h in made[1:]} | {households["G1"].pk}
    assert body.count("<svg") == len(slips) == 4
    for household_id in slips:
        token = SelfReportToken.objects.get(campaign=campaign, household_id=household_id)
        assert f"/campaigns/r/{token.token}/" in body
    assert "王网格" in body and "13912345678" in body
    assert "size: A4" in body


def test_slips_of_a_closed_campaign_carry_no_code(campaign, worker, stairwell):
    campaign.closed_at = timezone.now()
    campaign.save()
    body = printout(as_user(worker), slips_url(campaign, stairwell["assignment"])).content.decode()
    assert "<svg" not in body
    assert not SelfReportToken.objects.exists()


def test_other_workers_and_communities_cannot_print_an_assignment(
    campaign, stairwell, user_for, client_for
):
    assignment = stairwell["assignment"]
    for client in (
        as_user(user_for(Role.GRID_WORKER, "G1")),  # another worker of the same grid
        client_for(Role.COMMUNITY_ADMIN, "C2"),
        client_for(Role.STREET_ADMIN, "S2"),
    ):
        assert printout(client, forms_url(campaign, assignment)).status_code == 404
        assert printout(client, slips_url(campaign, assignment)).status_code == 404
    assert not SelfReportToken.objects.exists()


def test_an_admin_prints_for_a_worker_of_their_community(campaign, stairwell, client_for):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert printout(client, forms_url(campaign, stairwell["assignment"])).status_code == 200
    assert printout(client, slips_url(campaign, stairwell["assignment"])).status_code == 200
    missing = reverse("screening:paper_forms", args=[campaign.pk, 999999])
    assert client.get(missing).status_code == 404
    assert Assignment.objects.count() == 1
