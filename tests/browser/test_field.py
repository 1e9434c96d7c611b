"""The field flow on a phone (list → household → one tap → back to the list) and the evening
entry done with the keyboard alone."""

import datetime
import re

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening.models import HouseholdProgress, RiskArea, Visit
from doorstep.screening.services import assignment_create, campaign_create

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def campaign(households, user_for):
    """As in tests/screening: a district sweep opened a day ago (fixtures of a sibling package
    are not visible here)."""
    RiskArea.objects.create(name="湖北")
    commander = user_for(Role.COMMAND, "D")
    return campaign_create(
        user=commander,
        name="全区拉网式摸排",
        scope_area=commander.jurisdiction_area,
        starts_at=timezone.now() - datetime.timedelta(days=1),
        deadline=timezone.now() + datetime.timedelta(days=2),
    )


@pytest.fixture
def worker(user_for, campaign, areas):
    user = user_for(Role.GRID_WORKER, "G1")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment_create(user=admin, campaign=campaign, worker=user, grid=areas["G1"])
    return user


def no_sideways_scroll(page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 2, f"{what} scrolls sideways on a phone: {width}px"


def test_field_flow_on_a_phone(new_page, live_server, login, worker, campaign, households, shot):
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(page, worker)
    household = households["G1"]
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/my/")
    row = page.locator(f"#hh-{household.pk}")
    expect(row).to_have_attribute("data-state", "not_started")
    expect(page.locator("#field-list")).not_to_contain_text("HN-G2")
    no_sideways_scroll(page, "the worker's list")
    shot(page, "list")

    row.locator("a").tap()
    expect(page).to_have_url(re.compile(rf"/households/{household.pk}/visit/"))
    cards = page.locator(".member:not(.is-new)")
    expect(cards).to_have_count(2)
    expect(page.locator("input[data-recheck]").first).to_be_visible()
    no_sideways_scroll(page, "the visit form")
    shot(page, "visit-form")

    # a slip of the decimal point is caught next to the field, values kept
    first = cards.first.locator("input[data-recheck]")
    first.fill("3.65")
    cards.nth(1).locator("input[data-recheck]").fill("36.6")
    page.locator("button[value=screened]").tap()
    expect(cards.first.locator(".field-error")).to_contain_text("36.5")
    expect(cards.nth(1).locator("input[data-recheck]")).to_have_value("36.6")
    no_sideways_scroll(page, "the visit form with an error")
    shot(page, "visit-error")
    assert Visit.objects.count() == 0

    first.fill("36.5")
    page.locator("button[value=screened]").tap()
    expect(page).to_have_url(re.compile(rf"/campaigns/{campaign.pk}/my/\?"))
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator(f"#hh-{household.pk}")).to_have_attribute("data-state", "screened")
    no_sideways_scroll(page, "the list after saving")
    shot(page, "list-after")
    progress = HouseholdProgress.objects.get(campaign=campaign, household=household)
    assert progress.state == "screened" and Visit.objects.get().checks.count() == 2


def focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_evening_entry_with_the_keyboard_only(
    page, live_server, login, user_for, campaign, households, shot
):
    login(page, user_for(Role.COMMUNITY_ADMIN, "C1"))
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/entry/")
    keyboard = page.keyboard
    assert focused_id(page) == "number"
    day = timezone.localdate() - datetime.timedelta(days=1)

    # household HN-G2: everyone present and well
    keyboard.type("HN-G2")
    keyboard.press("Enter")
    expect(page.locator("#entry-form")).to_be_visible()
    expect(page.locator("#entry-members")).to_contain_text("户主G2")
    expect(page.locator("#outcome")).to_be_focused()
    keyboard.press("Tab")
    assert focused_id(page) == "visited_at"
    keyboard.type(f"{day:%Y-%m-%d} 09:30")
    keyboard.press("Enter")  # Enter moves on like Tab
    assert focused_id(page).endswith("-temperature")
    keyboard.type("365")  # fills in 36.5 and moves to the next person's temperature
    assert focused_id(page).endswith("-temperature")
    keyboard.type("36.8")
    keyboard.press("Enter")  # → not measured (stays empty)
    keyboard.press("Enter")  # → presence (stays "present")
    keyboard.press("Enter")  # → symptom codes
    keyboard.type("2")
    keyboard.press("Alt+m")  # → the visit's notes
    assert focused_id(page) == "entry-notes"
    keyboard.type("纸质表第3页")
    shot(page, "filled")
    keyboard.press("Enter")  # the last field saves
    expect(page.locator("#entry-saved")).to_contain_text("HN-G2")
    expect(page.locator("#number")).to_be_focused()
    shot(page, "saved")
    visit = Visit.objects.get()
    assert visit.source == "evening" and visit.notes == "纸质表第3页"
    assert timezone.localtime(visit.visited_at).strftime("%Y-%m-%d %H:%M") == (
        f"{day:%Y-%m-%d} 09:30"
    )
    assert sorted(c.symptoms for c in visit.checks.all()) == [[], ["cough"]]

    # household HN-G1: a slip is refused in place and the cursor waits on it
    keyboard.type("HN-G1")
    keyboard.press("Enter")
    expect(page.locator("#outcome")).to_be_focused()
    keyboard.press("Tab")
    keyboard.type(f"{day:%Y-%m-%d} 10:15")
    keyboard.press("Enter")
    keyboard.type("3.65")
    keyboard.press("Alt+s")
    error = page.locator("#entry-form .field-error")
    expect(error).to_contain_text("36.5")
    expect(page.locator("#entry-form input[inputmode=decimal]").first).to_be_focused()
    shot(page, "slip")
    keyboard.type("365")  # the slip was selected: typing replaces it, then moves on
    keyboard.type("365")
    keyboard.press("Enter")  # on Save
    expect(page.locator("#entry-saved")).to_contain_text("HN-G1")
    expect(page.locator("#number")).to_be_focused()
    assert Visit.objects.count() == 2
