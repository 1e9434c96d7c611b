"""Two-factor login in Chromium: a command user enrols an authenticator on first login (QR code
and typed key), then gives a code on the next login. The pages run under the site's CSP."""

import re
from base64 import b32encode
from datetime import timedelta

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.accounts.models import Role

from ..two_factor import fresh_code, wrong_code
from .helpers import PASSWORD, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def password_step(page, live_server, user):
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.locator("main form button[type=submit]").click()


def test_command_user_enrols_then_verifies(page, live_server, user_for, shot):
    commander = user_for(Role.COMMAND, "D")
    csp_reports = []
    page.on(
        "console",
        lambda message: (
            csp_reports.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    # First login: the password is not enough, the roster waits behind enrolment.
    page.goto(f"{live_server.url}/roster/")
    password_step(page, live_server, commander)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/enrol/\?next=%2Froster%2F$"))
    qr = page.locator("#two-factor-qr")
    expect(qr).to_be_visible()
    assert page.evaluate("document.getElementById('two-factor-qr').naturalWidth") > 0
    device = TOTPDevice.objects.get(user=commander, confirmed=False)
    typed_key = page.locator("#two-factor-secret").inner_text().replace(" ", "")
    assert typed_key == b32encode(device.bin_key).decode()
    shot(page, "enrol")

    # Other pages stay closed while enrolment is unfinished.
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/enrol/\?next=%2F$"))

    page.fill("#id_code", wrong_code(device))
    page.locator("#two-factor-form button[type=submit]").click()
    expect(page.get_by_role("alert")).to_be_visible()
    shot(page, "enrol-wrong-code")
    # As if the user took a few seconds to read the message: past the device's back-off window
    # (one second after one wrong code), which test_two_factor.py checks on its own.
    device.refresh_from_db()
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=device.throttling_failure_timestamp - timedelta(minutes=1)
    )

    page.fill("#id_code", fresh_code(device))
    page.locator("#two-factor-form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.locator("header nav")).to_contain_text(commander.username)
    device.refresh_from_db()
    assert device.confirmed
    shot(page, "enrolled")

    page.locator("header form[action='/accounts/logout/'] button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")

    # Next login: a code from the same app.
    page.goto(f"{live_server.url}/roster/")
    password_step(page, live_server, commander)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/\?next=%2Froster%2F$"))
    expect(page.locator("#id_code")).to_be_focused()
    shot(page, "verify")
    page.fill("#id_code", fresh_code(device))
    page.locator("#two-factor-form button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/roster/")
    expect(page.locator("#household-table")).to_be_visible()
    shot(page, "roster")
    assert csp_reports == []


def test_grid_worker_goes_straight_in(page, live_server, user_for):
    worker = user_for(Role.GRID_WORKER, "G1")
    page.goto(f"{live_server.url}/accounts/login/")
    password_step(page, live_server, worker)
    expect(page).to_have_url(f"{live_server.url}/")
    assert not TOTPDevice.objects.filter(user=worker).exists()
