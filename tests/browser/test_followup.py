"""Follow-up on a phone (the worker's today page → one check, a slip refused in place) and the
evening entry of a day's paper sheet with the keyboard alone."""

import datetime
import re

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.followup import schedule
from doorstep.followup.models import Check, Monitoring
from doorstep.followup.services import ReasonInput, SourceInput, key_person_add

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def followed(households, user_for):
    """The G1 worker's two key persons, under monitoring since yesterday morning."""
    worker = user_for(Role.GRID_WORKER, "G1")
    yesterday = schedule.local_date(timezone.now()) - datetime.timedelta(days=1)
    key_persons = []
    for person in households["G1"].persons.order_by("pk"):
        key_persons.append(
            key_person_add(
                user=worker,
                person=person,
                reasons=[ReasonInput(kind="risk_area_arrival", exposure_date=yesterday)],
                source=SourceInput(kind="manual"),
                start_date=yesterday,
            )
        )
    Monitoring.objects.update(started_at=schedule.local_moment(yesterday, datetime.time(8)))
    return worker, key_persons


def no_sideways_scroll(page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 2, f"{what} scrolls sideways on a phone: {width}px"


def test_today_page_and_a_check_on_a_phone(new_page, live_server, login, followed, shot):
    worker, key_persons = followed
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    login(page, worker)
    page.goto(f"{live_server.url}/followup/today/")
    due = page.locator("#due li a")
    expect(due).to_have_count(2)
    expect(page.locator("#overdue")).to_contain_text("户主G1")  # yesterday's slots were missed
    no_sideways_scroll(page, "the today page")
    shot(page, "today")

    due.first.tap()
    expect(page).to_have_url(re.compile(rf"/key-persons/{key_persons[0].pk}/check/"))
    page.locator("#temperature").fill("365")
    page.locator("#save-check").tap()
    expect(page.locator("#check-error")).to_contain_text("36.5")
    no_sideways_scroll(page, "the check form with an error")
    shot(page, "check-error")
    assert Check.objects.count() == 0

    page.locator("#temperature").fill("36.5")
    page.locator("#save-check").tap()
    expect(page).to_have_url(re.compile(r"/followup/today/$"))
    expect(page.locator("#messages")).to_contain_text("户主G1")
    expect(page.locator("#due li a")).to_have_count(1)
    shot(page, "today-after")
    check = Check.objects.get()
    assert check.temperature == 36.5 and check.symptoms == [] and not check.late


def test_paper_sheet_with_the_keyboard_only(page, live_server, login, followed, shot):
    worker, key_persons = followed
    yesterday = schedule.local_date(timezone.now()) - datetime.timedelta(days=1)
    login(page, worker)
    page.goto(f"{live_server.url}/followup/paper/?day={yesterday.isoformat()}")
    keyboard = page.keyboard
    first = f"t-{key_persons[0].pk}-0"
    assert page.evaluate("document.activeElement.name") == first
    # morning, afternoon of the first person; then the second person's, with a slip
    for value in ("36.4", "x", "3.65", "36.7"):
        keyboard.type(value)
        keyboard.press("Tab")
    shot(page, "filled")
    page.locator(f"[name={first}]").focus()
    keyboard.press("Enter")  # Enter in any box saves the sheet
    expect(page.locator("#paper-result")).to_contain_text("3")
    expect(page.locator("#paper-result .errorlist")).to_contain_text("36.5")
    refused = page.locator(f"[name=t-{key_persons[1].pk}-0]")
    expect(refused).to_have_value("3.65")  # the refused box keeps what was typed
    shot(page, "saved")
    assert sorted(Check.objects.values_list("outcome", flat=True)) == [
        "measured",
        "measured",
        "unreachable",
    ]
    assert all(Check.objects.values_list("late", flat=True))
