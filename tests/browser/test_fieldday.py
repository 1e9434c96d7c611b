"""Issue 14 in real Chromium: the phone flow of an all-well household of 3 counted in taps and
typed characters (list → household → saved → next household), and the evening entry of a
3-person all-well paper form counted in keystrokes. The counts are printed for the closing note."""

import datetime
import re

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening.codes import short_code
from doorstep.screening.models import HouseholdProgress, RiskArea, Visit
from doorstep.screening.services import assignment_create, campaign_create
from tests.factories import HouseholdFactory, PersonFactory

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def campaign(households, user_for):
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
def stairs(households, campaign, user_for, areas):
    """The worker of G1 holding G1: six households of three up one staircase (rooms 101-601)."""
    grid = households["G1"].grid
    made = []
    for floor in range(1, 7):
        household = HouseholdFactory(grid=grid, building="3", unit="1", room=f"{floor}01")
        household.floor = floor
        household.save()
        for n, relation in enumerate(("户主", "配偶", "子女")):
            PersonFactory(household=household, name=f"住户{floor}-{n}", relation=relation)
        made.append(household)
    from doorstep.screening.services import campaign_enrol_households

    campaign_enrol_households(campaign=campaign)
    worker = user_for(Role.GRID_WORKER, "G1")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment_create(user=admin, campaign=campaign, worker=worker, grid=areas["G1"])
    return worker, made


class Counter:
    """Every tap and every typed character goes through here, so the count is what a person
    would do, not what the test claims."""

    def __init__(self, page):
        self.page, self.taps, self.chars, self.keys = page, 0, 0, 0

    def tap(self, locator):
        locator.tap()
        self.taps += 1

    def type(self, text: str):
        self.page.keyboard.type(text)
        self.chars += len(text)
        self.keys += len(text)

    def press(self, key: str):
        self.page.keyboard.press(key)
        self.keys += 1


def in_viewport(page, selector: str) -> bool:
    return page.evaluate(
        """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
           return r.top >= 0 && r.bottom <= window.innerHeight; }""",
        selector,
    )


def test_an_all_well_household_of_three_on_a_phone_in_few_taps(
    new_page, live_server, login, campaign, stairs, shot
):
    worker, made = stairs
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(page, worker)
    # the worker is half-way up the stairs: floors 1-3 are done
    from doorstep.screening.services import visit_record
    from tests.screening.conftest import screened

    for household in made[:3]:
        visit_record(user=worker, campaign=campaign, visit=screened(household))
    fourth, fifth = made[3], made[4]
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/my/?f=open")
    count = Counter(page)

    count.tap(page.locator(f"#hh-{fourth.pk} a"))
    expect(page).to_have_url(re.compile(rf"/households/{fourth.pk}/visit/"))
    temperatures = page.locator(".member:not(.is-new) input[data-recheck]")
    expect(temperatures).to_have_count(3)
    count.tap(temperatures.first)
    for index in range(3):
        expect(temperatures.nth(index)).to_be_focused()
        count.type("365")
        # filled in and shown before saving
        expect(temperatures.nth(index)).to_have_value("36.5")
        expect(
            page.locator(f'[data-shows="{temperatures.nth(index).get_attribute("id")}"]')
        ).to_have_text("= 36.5 °C")
    shot(page, "filled")
    count.tap(page.locator("button[value=screened]"))
    expect(page).to_have_url(re.compile(rf"saved={fourth.pk}"))
    # "saved" is on screen without scrolling, and the next household is the fifth floor
    expect(page.locator("#saved")).to_be_visible()
    assert in_viewport(page, "#saved")
    expect(page.locator(f"#hh-{fifth.pk}")).to_have_class(re.compile("next"))
    shot(page, "saved")
    count.tap(page.locator("#next-up"))
    expect(page).to_have_url(re.compile(rf"/households/{fifth.pk}/visit/"))
    print(
        f"\nphone, all-well household of 3, list to next household: {count.taps} taps, "
        f"{count.chars} typed characters (budget 5 taps, 9 characters)"
    )
    assert count.taps <= 5 and count.chars <= 9
    visit = Visit.objects.get(household=fourth)
    assert sorted(str(c.temperature) for c in visit.checks.all()) == ["36.5", "36.5", "36.5"]


def test_a_fever_reading_on_the_phone_asks_a_second_before_saving(
    new_page, live_server, login, campaign, stairs, shot
):
    worker, made = stairs
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(page, worker)
    household = made[0]
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/households/{household.pk}/visit/")
    temperatures = page.locator(".member:not(.is-new) input[data-recheck]")
    temperatures.first.tap()
    page.keyboard.type("384")
    recheck = page.locator(".member:not(.is-new) .recheck input").first
    expect(recheck).to_be_visible()
    expect(recheck).to_be_focused()
    page.keyboard.type("382")
    temperatures.nth(1).tap()
    page.keyboard.type("365")
    page.keyboard.type("366")
    shot(page, "recheck")
    page.locator("button[value=screened]").tap()
    alert = page.locator("#flagged-now")
    expect(alert).to_contain_text("住户1-0")
    expect(alert).to_contain_text("38.2")
    # and what follow-up did at once (issue 10 point 5): key person, referral
    expect(alert).to_contain_text("已列为重点人员")
    expect(alert).to_contain_text("已开发热门诊转诊")
    shot(page, "flagged")
    assert (
        HouseholdProgress.objects.get(campaign=campaign, household=household).persons_flagged == 1
    )


def test_a_three_person_paper_form_in_the_evening_in_few_keystrokes(
    page, live_server, login, user_for, campaign, stairs, shot
):
    _worker, made = stairs
    login(page, user_for(Role.COMMUNITY_ADMIN, "C1"))
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/entry/")
    household = made[0]
    code = short_code(HouseholdProgress.objects.get(campaign=campaign, household=household).pk)
    written = timezone.localtime() - datetime.timedelta(hours=1)
    count = Counter(page)
    expect(page.locator("#number")).to_be_focused()
    count.type(code)
    count.press("Enter")
    expect(page.locator("#entry-members")).to_contain_text("住户1-0")
    expect(page.locator("#outcome")).to_be_focused()
    count.press("Enter")  # outcome stays "screened"
    expect(page.locator("#visited_at")).to_be_focused()
    count.type(written.strftime("%H%M"))
    count.press("Enter")
    for _person in range(3):
        count.type("365")
    shot(page, "filled")
    count.press("Enter")  # the cursor waits on Save after the last temperature
    expect(page.locator("#entry-saved")).to_contain_text(household.household_number)
    print(f"\nevening entry, 3-person all-well paper form: {count.keys} keystrokes (budget 30)")
    assert count.keys <= 30
    visit = Visit.objects.get(household=household)
    assert visit.source == "evening" and visit.checks.count() == 3

    # the same paper typed again is recognised, not saved twice
    expect(page.locator("#number")).to_be_focused()  # the save hands the cursor back
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(page.locator("#outcome")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.type(written.strftime("%H%M"))
    page.keyboard.press("Enter")
    page.keyboard.type("365365365")
    page.keyboard.press("Enter")
    expect(page.locator("#entry-saved")).to_contain_text("已录入过")
    assert Visit.objects.filter(household=household).count() == 1
    shot(page, "typed-twice")

    # a slip comes back with its text selected, Alt+S saves; a nobody-home form saves at once
    second = made[1]
    expect(page.locator("#number")).to_be_focused()
    page.keyboard.type(second.household_number)
    page.keyboard.press("Enter")
    expect(page.locator("#outcome")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.type(written.strftime("%H%M"))
    page.keyboard.press("Enter")
    page.keyboard.type("3.65")
    page.keyboard.press("Alt+s")
    expect(page.locator("#entry-form .field-error").first).to_contain_text("36.5")
    # the page's script selects the field once the answer is in place: wait for it, then look
    page.wait_for_function(
        "(() => { const el = document.activeElement; return el && el.id.endsWith('-temperature')"
        " && el.value.length > 0 && el.selectionStart === 0"
        " && el.selectionEnd === el.value.length; })()"
    )
    selected = page.evaluate(
        "(() => { const el = document.activeElement; return [el.id, el.selectionStart, "
        "el.selectionEnd, el.value.length]; })()"
    )
    assert selected[0].endswith("-temperature") and selected[1] == 0 and selected[2] == selected[3]
    shot(page, "slip-selected")
    third = made[2]
    page.keyboard.press("Alt+n")
    expect(page.locator("#number")).to_be_focused()
    page.keyboard.press("Control+a")
    page.keyboard.type(third.household_number)
    page.keyboard.press("Enter")
    expect(page.locator("#outcome")).to_be_focused()
    page.locator("#outcome").select_option("not_home")
    page.keyboard.press("Enter")
    page.keyboard.type(written.strftime("%H%M"))
    page.keyboard.press("Enter")  # saves at once: nobody was seen
    expect(page.locator("#entry-saved")).to_contain_text(third.household_number)
    assert Visit.objects.get(household=third).outcome == "not_home"


def test_the_coverage_table_fits_a_phone_with_the_closure_first(
    new_page, live_server, login, user_for, campaign, stairs, shot
):
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(page, user_for(Role.COMMUNITY_ADMIN, "C1"))
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/coverage/")
    row = page.locator("#coverage-areas tbody tr").first
    expect(row).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 2, f"the coverage page scrolls sideways: {width}px"
    closed = row.locator('td[data-col="closed_percent"]').bounding_box()
    total = row.locator('td[data-col="households"]').bounding_box()
    assert closed["y"] < total["y"], "the closure figure comes first on a phone"
    expect(row.locator('td[data-col="closed_percent"]')).to_be_visible()
    shot(page, "coverage-phone")


def test_the_phone_fills_in_only_the_readings_the_server_accepts(
    new_page, live_server, login, campaign, stairs, monkeypatch
):
    """The accepted range comes from the server (data-low / data-high), not from the script: with
    a range of 35.0-40.0, "345" is left as typed for the server to name, "365" is filled in."""
    from decimal import Decimal

    from doorstep.screening.forms import MemberCard

    monkeypatch.setattr(MemberCard, "temperature_range", (Decimal("35.0"), Decimal("40.0")))
    worker, made = stairs
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(page, worker)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/households/{made[0].pk}/visit/")
    temperatures = page.locator(".member:not(.is-new) input[data-recheck]")
    temperatures.first.tap()
    page.keyboard.type("345")
    expect(temperatures.first).to_have_value("345")
    expect(temperatures.first).to_be_focused()
    temperatures.nth(1).tap()
    page.keyboard.type("365")
    expect(temperatures.nth(1)).to_have_value("36.5")


def test_a_person_found_at_the_door_is_typed_in_at_night(
    page, live_server, login, user_for, campaign, stairs
):
    """The "(new)" rows are folded away (an all-roster form keeps its keystrokes); opened, a
    newcomer's row is typed like the others and the person joins the roster flagged new."""
    from doorstep.registry.models import Person

    _worker, made = stairs
    household = made[0]
    login(page, user_for(Role.COMMUNITY_ADMIN, "C1"))
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/entry/")
    page.keyboard.type(household.household_number)
    page.keyboard.press("Enter")
    expect(page.locator("#outcome")).to_be_focused()
    page.keyboard.press("Enter")
    written = timezone.localtime() - datetime.timedelta(hours=1)
    page.keyboard.type(written.strftime("%H%M"))
    page.keyboard.press("Enter")
    page.keyboard.type("365365365")
    expect(page.locator("[data-save]")).to_be_focused()  # the folded rows are skipped
    page.locator("#entry-newcomers summary").click()
    page.locator("#n0-name").fill("门口新来的")
    page.locator("#n0-temperature").click()
    page.keyboard.type("366")
    expect(page.locator("#n0-temperature")).to_have_value("36.6")
    page.keyboard.press("Alt+s")
    expect(page.locator("#entry-saved")).to_contain_text(household.household_number)
    newcomer = Person.objects.get(name="门口新来的")
    assert newcomer.is_new and newcomer.household_id == household.pk
    assert Visit.objects.get(household=household).checks.count() == 4
