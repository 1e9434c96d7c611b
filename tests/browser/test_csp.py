"""The Content Security Policy in a real browser: every page people use runs its scripts (htmx,
the nonce-carrying inline scripts, our static behaviour file) with nothing refused, and an
injected inline script is refused."""

import re

import pytest

from doorstep.accounts.models import Role
from doorstep.screening.models import Assignment, RiskArea
from doorstep.screening.services import assignment_create
from tests.factories import open_district_campaign

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def csp_violations(page) -> list[str]:
    return [m for m in page.console_log if "Content Security Policy" in m]


@pytest.fixture
def watched_page(new_page):
    page = new_page()
    page.console_log = []
    page.on("console", lambda message: page.console_log.append(message.text))
    return page


@pytest.fixture
def campaign(households, user_for, areas):
    RiskArea.objects.create(name="湖北")
    commander = user_for(Role.COMMAND, "D")
    campaign = open_district_campaign(commander, "全区拉网式摸排")
    return campaign


def test_pages_run_their_scripts_under_the_policy(
    watched_page, live_server, login, user_for, campaign, households, areas, shot
):
    page = watched_page
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    worker = user_for(Role.GRID_WORKER, "G1")
    assignment_create(user=admin, campaign=campaign, worker=worker, grid=areas["G1"])
    assignment = Assignment.objects.get(campaign=campaign, worker=worker)
    login(page, admin)

    response = page.goto(f"{live_server.url}/roster/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy

    # The language switch (was an inline onchange handler) still submits its form.
    page.select_option("select[name=language]", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The evening entry page: its keyboard script carries the nonce and runs (Enter moves on).
    response = page.goto(f"{live_server.url}/campaigns/{campaign.pk}/entry/")
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"]).group(1)
    assert page.locator(f'script[nonce="{nonce}"]').count() == 0  # browsers hide the attribute
    assert page.evaluate("document.scripts[document.scripts.length - 1].nonce") == nonce
    page.keyboard.type("HN-G2")
    page.keyboard.press("Enter")
    expect(page.locator("#entry-form")).to_be_visible()

    # Paper forms: the print button works without an inline handler.
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/assignments/{assignment.pk}/forms/")
    page.fill("#purpose", "入户排查")
    page.keyboard.press("Enter")
    expect(page.locator("[data-print]").first).to_be_visible()
    page.evaluate("window.printed = 0; window.print = function () { window.printed += 1; }; 0")
    page.locator("[data-print]").first.click()
    assert page.evaluate("window.printed") == 1

    # The API docs (Swagger UI served from our own static files) render.
    page.goto(f"{live_server.url}/api/docs")
    expect(page.locator("#swagger-ui .swagger-ui")).to_be_visible()
    shot(page, "api-docs")
    assert csp_violations(page) == []


def test_an_injected_inline_script_is_refused(watched_page, live_server, login, user_for):
    page = watched_page
    login(page, user_for(Role.COMMUNITY_ADMIN, "C1"))
    page.goto(f"{live_server.url}/roster/")
    # What a stored-XSS payload would do once it reached the DOM: an inline script without the
    # response's nonce.
    page.evaluate(
        "var s = document.createElement('script');"
        " s.textContent = 'window.injected = true';"
        " document.body.appendChild(s);"
    )
    assert page.evaluate("window.injected === true") is False
    assert any(re.search("Content Security Policy", m) for m in page.console_log)
