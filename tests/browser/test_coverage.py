"""Coverage in a browser: a street admin drills down from street to community to grid, opens
the list behind a number, and a worker prints the notice slips with their QR codes."""

import datetime
import re
import uuid

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening.models import RiskArea
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import (
    VisitInput,
    assignment_create,
    campaign_create,
    visit_record,
)
from tests.factories import HouseholdFactory, PersonFactory

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def knock(household, outcome="not_home", checks=()):
    return VisitInput(
        household_id=household.pk,
        outcome=outcome,
        visited_at=timezone.now() - datetime.timedelta(minutes=5),
        client_uuid=uuid.uuid4(),
        person_checks=list(checks),
    )


@pytest.fixture
def sweep(households, areas, user_for):
    """The district sweep; G1 has HN-G1 plus three more households, worked by 王网格."""
    RiskArea.objects.create(name="湖北")
    for room in ("201", "301", "401"):
        household = HouseholdFactory(grid=areas["G1"], building="3", room=room)
        PersonFactory(household=household, name=f"住户{room}", relation="户主")
    campaign = campaign_create(
        user=user_for(Role.COMMAND, "D"),
        name="全区拉网式摸排",
        scope_area=areas["D"],
        starts_at=timezone.now() - datetime.timedelta(days=1),
        deadline=timezone.now() + datetime.timedelta(days=2, hours=3),
    )
    worker = user_for(Role.GRID_WORKER, "G1", full_name="王网格", phone="13912345678")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment = assignment_create(user=admin, campaign=campaign, worker=worker, grid=areas["G1"])
    head = households["G1"].persons.order_by("pk")
    checks = [PersonCheckInput(person_id=p.pk, temperature="36.4") for p in head]
    visit_record(user=worker, campaign=campaign, visit=knock(households["G1"], "screened", checks))
    g1_rest = areas["G1"].households.exclude(pk=households["G1"].pk).order_by("pk")
    visit_record(user=worker, campaign=campaign, visit=knock(g1_rest[0]))
    return {"campaign": campaign, "worker": worker, "assignment": assignment}


def cell(page, row: str, column: str):
    return page.locator(f'tr[data-row="{row}"] td[data-col="{column}"] a')


def test_drill_down_from_street_to_grid_and_open_a_list(
    page, live_server, user_for, login, sweep, shot
):
    campaign = sweep["campaign"]
    login(page, user_for(Role.STREET_ADMIN, "S1"))
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    expect(page.locator("#countdown")).to_contain_text("2")
    expect(page.locator('tr[data-row="area-C1"]')).to_be_visible()
    expect(page.locator('tr[data-row="area-C3"]')).to_have_count(0)  # another street
    expect(cell(page, "total", "households")).to_have_text("6")
    expect(cell(page, "area-C1", "households")).to_have_text("5")
    shot(page, "street")

    page.locator('tr[data-row="area-C1"] a.drill').click()
    expect(page).to_have_url(re.compile(r"/coverage/\?area=C1$"))
    expect(cell(page, "area-G1", "screened")).to_have_text("1")
    expect(cell(page, "area-G1", "revisit")).to_have_text("1")
    expect(page.locator(f'tr[data-row="worker-{sweep["worker"].pk}"]')).to_contain_text("王网格")
    shot(page, "community")

    page.locator('tr[data-row="area-G1"] a.drill').click()
    expect(page).to_have_url(re.compile(r"\?area=G1$"))
    expect(page.locator(".breadcrumb")).to_contain_text("状元社区")
    cell(page, "total", "not_started").click()
    expect(page.locator("#gap-table tbody tr")).to_have_count(2)
    expect(page.locator("#gap-table")).to_contain_text("住户301")
    expect(page.locator("#gap-table")).to_contain_text("王网格")
    shot(page, "list")


def test_notice_slips_print_with_qr_codes(page, live_server, login, sweep, shot):
    campaign, assignment = sweep["campaign"], sweep["assignment"]
    login(page, sweep["worker"])
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/assignments/{assignment.pk}/slips/")
    page.fill("#purpose", "张贴告知单")  # printing personal data states its purpose first
    page.keyboard.press("Enter")
    slips = page.locator(".slip")
    expect(slips).to_have_count(3)  # the revisit and the two not started
    expect(slips.first.locator("svg")).to_be_visible()
    expect(slips.first).to_contain_text("王网格")
    expect(slips.first).to_contain_text("13912345678")
    assert page.locator(".slip svg").count() == 3
    box = slips.first.locator("svg").bounding_box()
    assert box["width"] > 60 and box["height"] > 60, box
    shot(page, "slips")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    shot(page, "slips-print")

    link = slips.first.locator(".url").inner_text()
    page.context.clear_cookies()
    page.goto(link)
    expect(page.locator("#self-report-form")).to_be_visible()
    expect(page.locator("#address")).to_be_visible()
    shot(page, "self-report")
