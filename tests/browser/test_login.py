"""Logging in and out through the real forms (django-axes sees a real request)."""

import re

import pytest

from doorstep.accounts.models import Role

from .helpers import PASSWORD, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_wrong_password_then_login_and_logout(page, live_server, user_for, shot):
    user = user_for(Role.COMMUNITY_ADMIN)  # jurisdiction C1 状元社区
    login_url = f"{live_server.url}/accounts/login/"

    # A page behind login sends the visitor to the form, remembering where they were going.
    page.goto(f"{live_server.url}/roster/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/roster/$"))

    page.fill("#id_username", user.username)
    page.fill("#id_password", "not-the-password")
    page.locator("main form button[type=submit]").click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text(re.compile(r"\S"))
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("#id_password")).to_be_visible()
    expect(page.locator("header nav")).to_have_count(0)  # still anonymous
    shot(page, "wrong-password")

    page.goto(login_url)
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("main")).to_contain_text("状元社区")
    expect(page.locator("main")).to_contain_text(user.jurisdiction_area.code)
    expect(page.locator("header nav")).to_contain_text(user.username)
    shot(page, "overview")

    page.locator("header form[action='/accounts/logout/'] button[type=submit]").click()
    expect(page).to_have_url(login_url)
    expect(page.locator("#id_username")).to_be_visible()
    expect(page.locator("header nav")).to_have_count(0)
    shot(page, "logged-out")

    # The session is really gone: the overview asks for a login again.
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))


def test_login_follows_next(page, live_server, user_for):
    user = user_for(Role.GRID_WORKER)  # G1
    page.goto(f"{live_server.url}/roster/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/roster/")
    expect(page.locator("#household-table")).to_be_visible()


def test_repeated_failures_lock_the_account(page, live_server, user_for, shot):
    """django-axes: after 5 failures even the right password is refused."""
    user = user_for(Role.COMMUNITY_ADMIN)
    for _attempt in range(5):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "wrong-password-again")
        page.locator("main form button[type=submit]").click()
        expect(page.get_by_role("alert")).to_be_visible()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page).not_to_have_url(f"{live_server.url}/")
    expect(page.locator("header nav")).to_have_count(0)
    shot(page, "locked")
