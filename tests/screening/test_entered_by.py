"""Who a page names for a visit: the worker who screened when they recorded it at the door, but
for a paper form typed in the evening or a sheet uploaded, the person who entered it ("entered
by X"): the visit records who typed it, not who knocked, and no page may say otherwise."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.screening import exports
from doorstep.screening.models import PersonCheck, VisitSource
from doorstep.screening.services import visit_record

from .conftest import screened

# The UI speaks Chinese by default: "entered by X" and "screened by X".
ENTERED, SCREENED = "由 王书记 录入", "已由 王书记 排查"


@pytest.fixture
def secretary(user_for):
    return user_for(Role.COMMUNITY_ADMIN, "C1", full_name="王书记")


@pytest.fixture
def worker_client(worker):
    client = Client()
    client.force_login(worker)
    return client


def field_row(client, campaign, household) -> str:
    page = client.get(reverse("screening:field_list", args=[campaign.pk])).content.decode()
    return re.search(rf'<li id="hh-{household.pk}".*?</li>', page, re.S).group(0)


@pytest.mark.parametrize("source", [VisitSource.EVENING, VisitSource.SHEET])
def test_a_typed_paper_form_says_entered_by_not_screened_by(
    worker_client, campaign, households, secretary, source
):
    # given the secretary typed a paper form of a household of the worker's grid
    household = households["G1"]
    visit = screened(household)
    visit.source = source
    visit_record(user=secretary, campaign=campaign, visit=visit)
    # when the worker opens their list
    row = field_row(worker_client, campaign, household)
    # then it names her as the one who entered it, never as the one who screened
    assert ENTERED in row
    assert SCREENED not in row


def test_a_visit_at_the_door_still_says_screened_by(worker_client, campaign, households, secretary):
    household = households["G1"]
    visit_record(user=secretary, campaign=campaign, visit=screened(household))
    row = field_row(worker_client, campaign, household)
    assert SCREENED in row and ENTERED not in row


def test_the_visit_history_says_who_entered_a_paper_form(
    worker_client, campaign, households, secretary
):
    household = households["G1"]
    visit = screened(household)
    visit.source = VisitSource.EVENING
    visit_record(user=secretary, campaign=campaign, visit=visit)
    page = worker_client.get(
        reverse("screening:visit", args=[campaign.pk, household.pk])
    ).content.decode()
    assert ENTERED in page


@pytest.fixture
def flagged_paper_form(campaign, households, secretary):
    visit = screened(households["G2"], temperature="38.6", temperature_recheck="38.4")
    visit.source = VisitSource.EVENING
    visit_record(user=secretary, campaign=campaign, visit=visit)
    return PersonCheck.objects.get(flagged=True)


def test_the_flagged_list_says_who_entered_a_paper_form(client_for, campaign, flagged_paper_form):
    client = client_for(Role.STREET_ADMIN, "S1")
    body = client.get(
        reverse("screening:flagged", args=[campaign.pk]), {"area": "C1"}
    ).content.decode()
    row = re.search(rf'<tr data-person="{flagged_paper_form.person_id}">.*?</tr>', body, re.S)
    assert ENTERED in row.group(0)


def test_the_flagged_export_says_who_entered_a_paper_form(campaign, flagged_paper_form):
    checks = PersonCheck.objects.filter(pk=flagged_paper_form.pk).select_related(
        "person", "visit", "visit__worker", "visit__household", "visit__household__grid"
    )
    (row,) = list(exports.flagged_rows(checks))
    assert row[-1] == ENTERED
