"""Fixtures for driving Debian's Chromium through Playwright's sync API against `live_server`.

Chromium is started once for the package (not per test): a new browser context per test keeps
cookies apart. Without Chromium or Playwright every test here is skipped with a reason that says
what to install, and under `make test` (DOORSTEP_REQUIRE_BROWSER=1) fails instead.
"""

import os
import re

import pytest

from doorstep.accounts.selectors import two_factor_required

from ..two_factor import confirmed_device, fresh_code
from .helpers import (
    CHROMIUM_ARGS,
    PASSWORD,
    SCREENSHOT_DIR,
    chromium_path,
    expect,
    safe_name,
    skip_reason,
    sync_playwright,
)

DEFAULT_TIMEOUT_MS = 10_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so the page fixture can screenshot a failure."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter):
    """Say why browser tests were skipped even under -q (which hides skip reasons)."""
    reason = skip_reason()
    if reason and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line(f"browser tests skipped: {reason}", yellow=True)


@pytest.fixture(scope="package")
def browser():
    reason = skip_reason()
    if reason and os.environ.get("DOORSTEP_REQUIRE_BROWSER") == "1":
        # make test: a browser test that cannot run fails (scripts/ensure-browser installs
        # Chromium first where it can), it is never skipped
        pytest.fail(f"browser tests cannot run: {reason}")
    if reason:
        pytest.skip(reason)
    # The sync API keeps an asyncio loop running in this thread; Django would then refuse ORM
    # calls from the test body (factories, assertions). The live server runs in its own thread.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def new_page(browser, request):
    """Open a page in a fresh context (own cookies); JavaScript errors fail the test."""
    for stale in SCREENSHOT_DIR.glob(f"{safe_name(request.node.name)}-*.png"):
        stale.unlink()  # screenshots of an earlier run of this test would mislead a reviewer
    contexts = []

    def make(**context_options):
        options = {
            "locale": "zh-CN",
            "timezone_id": "Asia/Shanghai",
            "viewport": {"width": 1280, "height": 900},
            "accept_downloads": True,
        }
        options.update(context_options)
        context = browser.new_context(**options)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        return page

    yield make
    failed = getattr(request.node, "report_call", None)
    for index, context in enumerate(contexts):
        for page in context.pages:
            if failed is not None and failed.failed:
                page.screenshot(
                    path=SCREENSHOT_DIR / f"{safe_name(request.node.name)}-failed-{index}.png",
                    full_page=True,
                )
        errors = [e for page in context.pages for e in page.js_errors]
        context.close()
        assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def shot(request):
    """shot(page, "step") saves var/screenshots/<test-name>-<step>.png (full page)."""

    def take(page, step: str):
        path = SCREENSHOT_DIR / f"{safe_name(request.node.name)}-{safe_name(step)}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture
def login(live_server):
    """Log a user in through the real form and wait for the overview page. Command and admin
    accounts also type the code of their (already enrolled) authenticator, as people do."""

    def do(page, user, password: str = PASSWORD):
        device = confirmed_device(user) if two_factor_required(user) else None
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.locator("main form button[type=submit]").click()
        if device is not None:
            expect(page).to_have_url(re.compile(r"/accounts/two-factor/\?next="))
            page.fill("#id_code", fresh_code(device))
            page.locator("#two-factor-form button[type=submit]").click()
        expect(page).to_have_url(re.compile(re.escape(live_server.url) + r"/(\?.*)?$"))
        return page

    return do
