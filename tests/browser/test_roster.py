"""Browsing the roster as a community admin: scope, htmx search, masked identifiers, phones."""

import re

import pytest

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from tests.factories import HouseholdFactory, PersonFactory

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_WIDTH = 360


@pytest.fixture
def roster(households, areas):
    """The shared households (HN-G1…HN-G4) plus one in G2 whose head has a distinctive name."""
    household = HouseholdFactory(grid=areas["G2"], household_number="HN-OUYANG")
    head = PersonFactory(household=household, name="欧阳明", relation="户主", phone="13800138000")
    PersonFactory(household=household, name="欧阳小红", relation="女")
    return {"households": households, "ouyang": household, "head": head}


def rows(page):
    return page.locator("#household-table tbody tr")


def test_roster_scope_search_and_reveal(page, live_server, user_for, login, roster, shot):
    user = user_for(Role.COMMUNITY_ADMIN)  # C1: grids G1 and G2
    login(page, user)
    page.goto(f"{live_server.url}/roster/")
    expect(rows(page)).to_have_count(3)
    table = page.locator("#household-table")
    for visible in ("HN-G1", "HN-G2", "HN-OUYANG"):
        expect(table).to_contain_text(visible)
    for hidden in ("HN-G3", "HN-G4", "户主G3", "户主G4"):
        expect(table).not_to_contain_text(hidden)
    expect(table).to_contain_text("状元社区 第2网格")
    shot(page, "list")

    # The search form swaps only #rows (htmx): a marker set on window survives the search.
    page.evaluate("window.__noReload = true")
    search = page.locator("main input[type=search]")
    search.fill("欧阳")
    page.locator("main form button[type=submit]").click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("HN-OUYANG")
    expect(rows(page).first).to_contain_text("欧阳明")
    # The search went by POST: the address carries a token of this session, never the text.
    expect(page).to_have_url(re.compile(r"/roster/\?s=[\w-]+$"))
    assert page.evaluate("window.__noReload") is True
    shot(page, "search")
    # A full ID number: not in the address either; the box shows it masked after a reload.
    number = roster["ouyang"].persons.first().id_number
    by_name = page.url
    search.fill(number)
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(by_name)  # a search of its own, with a token of its own
    expect(rows(page).first).to_contain_text("HN-OUYANG")
    expect(page).to_have_url(re.compile(r"/roster/\?s=[\w-]+$"))
    assert number not in page.url
    page.reload()
    expect(rows(page).first).to_contain_text("HN-OUYANG")
    expect(page.locator("#searched")).to_contain_text(number[:6] + "********" + number[-4:])
    shot(page, "search-number")

    # A name from another community is not found, not even by an exact search.
    search.fill("户主G3")
    page.locator("main form button[type=submit]").click()
    expect(rows(page).first.locator("td.muted")).to_be_visible()  # "no households found"
    expect(rows(page)).to_have_count(1)
    expect(page.locator("#household-table")).not_to_contain_text("HN-G3")

    search.fill("欧阳")
    page.locator("main form button[type=submit]").click()
    expect(rows(page)).to_have_count(1)
    page.get_by_role("link", name="HN-OUYANG").click()
    expect(page).to_have_url(f"{live_server.url}/roster/households/{roster['ouyang'].pk}/")
    expect(page.locator("h1")).to_contain_text("HN-OUYANG")
    expect(page.locator(".breadcrumb")).to_contain_text("状元社区")

    head = roster["head"]
    id_cell = page.locator(f"#id-{head.pk}")
    phone_cell = page.locator(f"#phone-{head.pk}")
    expect(id_cell).to_contain_text("********")
    expect(id_cell).to_contain_text(head.id_number[:6])
    expect(id_cell).not_to_contain_text(head.id_number)
    expect(phone_cell).to_contain_text("138****8000")
    expect(page.locator("#members")).not_to_contain_text(head.id_number)
    expect(page.locator("#members")).not_to_contain_text("13800138000")
    shot(page, "detail-masked")

    id_cell.get_by_role("button").click()
    expect(id_cell.locator(".revealed")).to_have_text(head.id_number)
    phone_cell.get_by_role("button").click()
    expect(phone_cell.locator(".revealed")).to_have_text("13800138000")
    # The other member stays masked.
    other = roster["ouyang"].persons.exclude(pk=head.pk).get()
    expect(page.locator(f"#id-{other.pk}")).to_contain_text("********")
    shot(page, "detail-revealed")

    actions = set(
        AuditEvent.objects.filter(user=user, object_id=str(head.pk)).values_list(
            "action", flat=True
        )
    )
    assert {"person.reveal.id_number", "person.reveal.phone"} <= actions


def test_other_communitys_household_is_not_reachable(page, live_server, user_for, login, roster):
    login(page, user_for(Role.COMMUNITY_ADMIN))
    foreign = roster["households"]["G3"]
    response = page.goto(f"{live_server.url}/roster/households/{foreign.pk}/")
    assert response.status in (403, 404)
    expect(page.locator("body")).not_to_contain_text("户主G3")


def test_roster_list_fits_a_phone(new_page, live_server, user_for, login, roster, shot):
    page = new_page(viewport={"width": PHONE_WIDTH, "height": 740}, is_mobile=True, has_touch=True)
    login(page, user_for(Role.COMMUNITY_ADMIN))
    page.goto(f"{live_server.url}/roster/")
    expect(rows(page)).to_have_count(3)
    shot(page, "list")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH + 2, f"roster list scrolls sideways on a phone: {width}px"

    page.get_by_role("link", name="HN-OUYANG").click()
    expect(page.locator("#members")).to_be_visible()
    shot(page, "detail")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH + 2, f"household page scrolls sideways on a phone: {width}px"
