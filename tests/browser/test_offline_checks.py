"""The follow-up's due checks without network (issue 14, point 7), in real Chromium: the
worker's today page and the check form of each key person due are kept by the follow-up's
service worker (as rendered online), checks saved offline go to the same IndexedDB outbox as
visits (kind "check"), survive a reload, hold logging out back, and land exactly once when the
signal comes back, each with the server's answer shown. Also: a proxy answering 502/503/504 for
the server keeps the form on the phone instead of losing it."""

import datetime
import re

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.followup import schedule
from doorstep.followup.models import Check, CheckSubmission, Monitoring
from doorstep.followup.services import ReasonInput, SourceInput, key_person_add
from tests.factories import PersonFactory

from .helpers import expect
from .test_offline import TIMEOUT_MS, go_offline, go_online, phone_browser  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TODAY = "/followup/today/"


@pytest.fixture
def three_due(households, user_for):
    """The G1 worker's three key persons, under monitoring since yesterday morning: each has a
    check due now."""
    worker = user_for(Role.GRID_WORKER, "G1")
    home = households["G1"]
    PersonFactory(household=home, name="租客G1", relation="其他")
    yesterday = schedule.local_date(timezone.now()) - datetime.timedelta(days=1)
    key_persons = [
        key_person_add(
            user=worker,
            person=person,
            reasons=[ReasonInput(kind="risk_area_arrival", exposure_date=yesterday)],
            source=SourceInput(kind="manual"),
            start_date=yesterday,
        )
        for person in home.persons.order_by("pk")
    ]
    Monitoring.objects.update(started_at=schedule.local_moment(yesterday, datetime.time(8)))
    assert len(key_persons) == 3
    return worker, key_persons


def ready_offline(page, base: str, count: int) -> None:
    page.goto(base + TODAY)
    expect(page.locator("#due li a")).to_have_count(count)
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    expect(page.locator("#outbox-state")).to_have_text("可离线使用")


def check_offline(page, base: str, key_person, temperature: str) -> None:
    page.goto(f"{base}/followup/key-persons/{key_person.pk}/check/")
    page.locator("#temperature").fill(temperature)
    page.locator("#save-check").tap()
    expect(page).to_have_url(re.compile(rf"{TODAY}\?queued={key_person.pk}"))


def test_three_checks_offline_through_a_reload_land_exactly_once(
    phone_browser,  # noqa: F811
    live_server,
    login,
    three_due,
    shot,
):
    worker, key_persons = three_due
    base = live_server.url
    context, page = phone_browser()
    login(page, worker)
    # given the worker opened today's page once online: it and the check forms are kept
    ready_offline(page, base, 3)
    assert int(page.locator("#outbox-state").get_attribute("data-precached")) == 3
    expect(page.locator("#outbox-count")).to_have_text("0")

    # when the signal goes and the worker records the three due checks
    go_offline(context)
    temperatures = ["36.4", "36.7", "38.6"]
    for n, (key_person, temperature) in enumerate(zip(key_persons, temperatures, strict=True)):
        check_offline(page, base, key_person, temperature)
        expect(page.locator("#outbox-count")).to_have_text(str(n + 1))
    expect(page.locator("#outbox-note")).to_contain_text("已存在手机上")
    expect(page.locator("#outbox-badge")).to_contain_text("3")
    shot(page, "three-waiting")
    assert not Check.objects.exists()

    # and reloads the today page offline: the page and the three records are still there
    page.reload()
    expect(page.locator("#due li a")).to_have_count(3)
    expect(page.locator("#outbox-count")).to_have_text("3")
    expect(page.locator("#outbox-records li[data-status=unsent]")).to_have_count(3)
    expect(page.locator("#outbox-records")).to_contain_text("38.6 °C")
    expect(page.locator("#due .on-phone")).to_have_count(3)

    # and cannot log out while they wait (the question is dismissed: nothing happens)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("header form[action$='/logout/'] button").click(no_wait_after=True)
    for _tick in range(100):
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked and "(3)" in asked[0]
    expect(page.locator("#outbox-count")).to_have_text("3")

    # then on reconnecting each is sent and answered on the phone
    go_online(context)
    expect(page.locator("#outbox-count")).to_have_text("0", timeout=TIMEOUT_MS)
    expect(page.locator("#outbox-records li[data-status=created]")).to_have_count(3)
    expect(page.locator("#outbox-records li .answer").first).to_have_text("已保存")
    shot(page, "answers")
    # all three landed exactly once, as the worker's, with the times saved on the phone
    checks = Check.objects.order_by("monitoring__key_person_id")
    assert [str(c.temperature) for c in checks] == temperatures
    assert [c.monitoring.key_person_id for c in checks] == [kp.pk for kp in key_persons]
    assert all(c.entered_by_id == worker.pk and c.method == "visit" for c in checks)
    assert all(abs(timezone.now() - c.measured_at) < datetime.timedelta(minutes=10) for c in checks)
    assert CheckSubmission.objects.count() == 3
    # and sending again ("同步") changes nothing
    page.locator("#outbox-sync").click()
    page.wait_for_timeout(500)
    assert Check.objects.count() == 3 and CheckSubmission.objects.count() == 3
    # and with nothing waiting, the worker can log out
    for uuid_text in page.locator("#outbox-records li").evaluate_all(
        "rows => rows.map(r => r.dataset.uuid)"
    ):
        page.locator(f"#outbox-records li[data-uuid='{uuid_text}'] .outbox-dismiss").click()
    page.locator("header form[action$='/logout/'] button").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    # and the pages kept for offline use (key persons' names) went with the session
    assert not [name for name in page.evaluate("caches.keys()") if "field-pages" in name]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_proxy_answering_5xx_keeps_the_form_on_the_phone(
    phone_browser,  # noqa: F811
    live_server,
    login,
    three_due,
    status,
):
    worker, key_persons = three_due
    base = live_server.url
    context, page = phone_browser()
    login(page, worker)
    ready_offline(page, base, 3)
    key_person = key_persons[0]
    page.goto(f"{base}/followup/key-persons/{key_person.pk}/check/")
    assert page.evaluate("!!navigator.serviceWorker.controller")
    form_uuid = page.locator("#check-form input[name=client_uuid]").input_value()

    # given a proxy in front of the server that answers 5xx for the check's post (the post
    # itself is made by the service worker: routed at the context, which sees its requests)
    # and for the outbox's sending
    seen: list[str] = []

    def gateway(route):
        seen.append(route.request.method)
        route.fulfill(status=status, body="Bad gateway", content_type="text/plain")

    context.route(re.compile(rf".*/followup/key-persons/{key_person.pk}/check/$"), gateway)
    outbox_api = re.compile(r".*/checks/outbox$")
    context.route(outbox_api, lambda route: route.fulfill(status=status, body="gateway"))
    # when the worker saves the check
    page.locator("#temperature").fill("36.8")
    page.locator("#save-check").tap()
    # then it is kept on the phone under the form's UUID, not lost with an error page
    expect(page).to_have_url(re.compile(rf"{TODAY}\?queued={key_person.pk}"))
    assert "POST" in seen  # the proxy did answer the service worker's post
    record = page.locator(f"#outbox-records li[data-uuid='{form_uuid}']")
    expect(record).to_have_attribute("data-status", "unsent")
    assert not Check.objects.exists()
    # and once the server is reachable again, it is sent and lands once
    context.unroute(re.compile(rf".*/followup/key-persons/{key_person.pk}/check/$"))
    context.unroute(outbox_api)
    page.locator("#outbox-sync").click()
    expect(record).to_have_attribute("data-status", "created")
    assert str(Check.objects.get().temperature) == "36.8"
    assert str(CheckSubmission.objects.get().client_uuid) == form_uuid


def test_a_check_of_a_key_person_reassigned_meanwhile_is_shown_held_and_leaves_the_outbox(
    phone_browser,  # noqa: F811
    live_server,
    login,
    three_due,
    user_for,
):
    """Issue 14, point 7: the check is never dropped; the phone says the community holds it."""
    from doorstep.followup.models import HeldCheck
    from doorstep.followup.services import key_person_reassign

    worker, key_persons = three_due
    base = live_server.url
    context, page = phone_browser()
    login(page, worker)
    ready_offline(page, base, 3)
    # given a check saved offline on the stairs
    go_offline(context)
    check_offline(page, base, key_persons[0], "36.9")
    expect(page.locator("#outbox-count")).to_have_text("1")
    # while the secretary gives that key person to another worker
    secretary = user_for(Role.COMMUNITY_ADMIN, "C1")
    key_person_reassign(
        user=secretary, key_person=key_persons[0], worker=user_for(Role.GRID_WORKER, "G2")
    )
    # when the signal comes back
    go_online(context)
    expect(page.locator("#outbox-count")).to_have_text("0", timeout=TIMEOUT_MS)
    # then the record says the community holds it, with why, and it is kept on the server
    record = page.locator("#outbox-records li[data-status=held]")
    expect(record).to_have_count(1)
    expect(record.locator(".answer")).to_have_text("待社区处理（包片已调整）")
    expect(record.locator(".why")).to_contain_text("社区干部决定")
    held = HeldCheck.objects.get()
    assert (held.sender_id, held.key_person_id) == (worker.pk, key_persons[0].pk)
    assert held.state == "held"
    assert not Check.objects.exists()
    # and it counts as landed: once seen, the worker may log out
    record.locator(".outbox-dismiss").click()
    page.locator("header form[action$='/logout/'] button").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
