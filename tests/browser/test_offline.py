"""The field pages without network (issue 14), in real Chromium: the worker's list and visit
forms kept by the service worker, visits kept in the IndexedDB outbox while offline, through a
reload and a closed browser (whose session ended with it: the worker logs in again), then sent on
reconnect: each lands exactly once, with the server's answer shown on it; one that someone
else's screening overtook is shown as a conflict."""

import contextlib
import datetime
import re
import uuid

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening.models import Campaign, HeldVisit, HouseholdProgress, RiskArea, Visit
from doorstep.screening.outbox import OutboxRecord, outbox_record
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import (
    VisitInput,
    assignment_create,
    campaign_create,
    campaign_enrol_households,
    visit_record,
)
from tests.factories import HouseholdFactory, PersonFactory

from .helpers import CHROMIUM_ARGS, PlaywrightError, chromium_path, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
TIMEOUT_MS = 20_000


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
def ten_households(households, areas, campaign):
    """G1's household and nine more in the same building, floor by floor, in the campaign."""
    homes = [households["G1"]]
    for n in range(9):
        home = HouseholdFactory(
            grid=areas["G1"],
            household_number=f"HN-G1-{n}",
            building="1",
            unit="1",
            room=f"{n + 2}01",
        )
        PersonFactory(household=home, name=f"住户{n}", relation="户主")
        homes.append(home)
    campaign_enrol_households(campaign=campaign)
    return homes


@pytest.fixture
def worker(user_for, campaign, areas, ten_households):
    user = user_for(Role.GRID_WORKER, "G1")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment_create(user=admin, campaign=campaign, worker=user, grid=areas["G1"])
    assert HouseholdProgress.objects.filter(assigned_to=user).count() == 10
    return user


@pytest.fixture
def phone_browser(browser, tmp_path):
    """A Chromium that keeps its profile (IndexedDB, the service worker, cookies) in a
    directory, so that closing it and opening it again is what a phone does."""
    contexts = []
    errors: list[str] = []

    def launch():
        context = browser.browser_type.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium_path(),
            args=CHROMIUM_ARGS,
            headless=True,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.pages[0] if context.pages else context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return context, page

    yield launch
    for context in contexts:
        with contextlib.suppress(PlaywrightError):  # closed by the test already
            context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


EVERYTHING = re.compile(r".*")


def no_signal(route) -> None:
    route.abort("internetdisconnected")


def go_offline(context) -> None:
    """No network for the pages and for the service worker: the context's offline switch, and
    every request the context sees (the service worker's own too) refused: under load a
    service worker (re)started while "offline" reached the server before the switch reached
    it (a test artefact: the phone's radio is off for every process)."""
    context.set_offline(True)
    context.route(EVERYTHING, no_signal)


def go_online(context) -> None:
    context.unroute(EVERYTHING, no_signal)
    context.set_offline(False)


def record_offline(page, base: str, campaign, home) -> None:
    page.goto(f"{base}/campaigns/{campaign.pk}/households/{home.pk}/visit/")
    for field in page.locator(".member:not(.is-new) input[data-recheck]").all():
        field.fill("36.6")
    page.locator("button[value=screened]").tap()
    expect(page).to_have_url(re.compile(rf"/my/\?queued={home.pk}"))


def test_ten_visits_offline_through_a_reload_and_a_closed_browser_land_exactly_once(
    phone_browser, live_server, login, worker, campaign, ten_households, user_for, shot
):
    base = live_server.url
    list_url = f"{base}/campaigns/{campaign.pk}/my/"
    context, page = phone_browser()
    login(page, worker)
    # given the worker opened their list once online: the pages are kept for offline use
    page.goto(list_url)
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    assert int(page.locator("#outbox-state").get_attribute("data-precached")) == 10
    expect(page.locator("#outbox-state")).to_have_text("可离线使用")
    expect(page.locator("#outbox-count")).to_have_text("0")
    shot(page, "online-ready")

    # when the signal goes and the worker records ten visits
    go_offline(context)
    for n, home in enumerate(ten_households):
        record_offline(page, base, campaign, home)
        expect(page.locator("#outbox-count")).to_have_text(str(n + 1))
    expect(page.locator("#outbox-note")).to_contain_text("已存在手机上")
    expect(page.locator("#outbox-badge")).to_contain_text("10")
    shot(page, "ten-waiting")
    assert Visit.objects.count() == 0

    # and reloads the page offline: the list and the ten records are still there
    page.reload()
    expect(page.locator("#field-list")).to_contain_text("HN-G1-8")
    expect(page.locator("#outbox-count")).to_have_text("10")
    expect(page.locator("#outbox-records li")).to_have_count(10)
    expect(page.locator(f"#hh-{ten_households[3].pk} .on-phone")).to_be_visible()

    # and cannot log out while they wait (the question is dismissed: nothing happens)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("header form[action$='/logout/'] button").click(no_wait_after=True)
    for _tick in range(100):
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked and "还没有发送" in asked[0] and "(10)" in asked[0]
    page.wait_for_timeout(300)  # a logout would be on its way now
    expect(page.locator("#outbox-count")).to_have_text("10")
    assert page.url.startswith(list_url)

    # meanwhile the community admin screens the fifth household at its door
    overtaken = ten_households[4]
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    visit_record(
        user=admin,
        campaign=campaign,
        visit=VisitInput(
            household_id=overtaken.pk,
            outcome="screened",
            visited_at=timezone.now(),
            client_uuid=uuid.uuid4(),
            person_checks=[
                PersonCheckInput(person_id=p.pk, temperature="36.5")
                for p in overtaken.persons.all()
            ],
        ),
    )

    # and the phone is closed and opened again, still without signal
    context.close()
    context, page = phone_browser()
    go_offline(context)
    page.goto(list_url)
    expect(page.locator("#outbox-count")).to_have_text("10")
    shot(page, "reopened-offline")
    assert Visit.objects.filter(worker=worker).count() == 0

    # then on reconnecting the phone asks for a login (the session ended with the browser),
    # keeping every record
    go_online(context)
    expect(page.locator("#outbox-note")).to_contain_text("重新登录")
    expect(page.locator("#outbox-count")).to_have_text("10")
    assert Visit.objects.filter(worker=worker).count() == 0
    # and once logged in, the first page sends them all, and each is answered
    login(page, worker)
    expect(page.locator("#outbox-badge")).to_have_text(re.compile(r"\s0$"), timeout=TIMEOUT_MS)
    page.goto(list_url)
    expect(page.locator("#outbox-count")).to_have_text("0")
    records = page.locator("#outbox-records li")
    expect(records).to_have_count(10)
    expect(page.locator("#outbox-records li[data-status=created]")).to_have_count(9)
    conflict = page.locator(f"#outbox-records li[data-household='{overtaken.pk}']")
    expect(conflict).to_have_attribute("data-status", "conflict")
    expect(conflict.locator(".answer")).to_have_text("冲突")
    expect(conflict).to_contain_text("已有他人")
    shot(page, "answers")

    # all ten landed exactly once: nine visits of the worker, one held for the admin
    mine = Visit.objects.filter(worker=worker)
    assert mine.count() == 9
    assert len({v.client_uuid for v in mine}) == 9
    assert set(mine.values_list("household_id", flat=True)) == {
        h.pk for h in ten_households if h != overtaken
    }
    held = HeldVisit.objects.get()
    assert (held.household_id, held.worker_id, held.reason) == (
        overtaken.pk,
        worker.pk,
        "screened_by_other",
    )
    # and sending again ("同步") changes nothing
    page.locator("#outbox-sync").click()
    page.wait_for_timeout(500)
    assert Visit.objects.filter(worker=worker).count() == 9 and HeldVisit.objects.count() == 1
    assert Visit.objects.count() == 10


def test_without_a_service_worker_the_pages_work_online_and_say_offline_is_unavailable(
    new_page, live_server, login, worker, campaign, ten_households, shot
):
    # an in-app webview without service workers: the API is not there at all
    page = new_page(viewport=PHONE, service_workers="block")
    page.add_init_script("delete Navigator.prototype.serviceWorker;")
    login(page, worker)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_text("离线不可用")
    home = ten_households[0]
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/households/{home.pk}/visit/")
    expect(page.locator("#outbox-state")).to_have_text("离线不可用")
    for field in page.locator(".member:not(.is-new) input[data-recheck]").all():
        field.fill("36.6")
    page.locator("button[value=screened]").click()
    expect(page).to_have_url(re.compile(r"/my/\?"))
    shot(page, "no-service-worker")
    assert Visit.objects.filter(worker=worker, household=home).count() == 1


def test_with_the_service_worker_in_charge_an_online_visit_is_saved_at_once(
    phone_browser, live_server, login, worker, campaign, ten_households, shot
):
    # given the pages are kept for offline use (the service worker controls them)
    _context, page = phone_browser()
    login(page, worker)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    home = ten_households[2]
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/households/{home.pk}/visit/")
    assert page.evaluate("!!navigator.serviceWorker.controller")
    # when the worker saves a visit with signal
    for field in page.locator(".member:not(.is-new) input[data-recheck]").all():
        field.fill("36.6")
    page.locator("button[value=screened]").tap()
    # then it goes straight to the server, as without a service worker; nothing waits
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#outbox-count")).to_have_text("0")
    shot(page, "saved-online")
    assert Visit.objects.filter(worker=worker, household=home).count() == 1


def test_a_replay_after_the_campaign_closed_stays_on_the_phone_until_dismissed(
    phone_browser, live_server, login, worker, campaign, ten_households, shot
):
    base = live_server.url
    context, page = phone_browser()
    login(page, worker)
    page.goto(f"{base}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    # given a visit recorded offline, and the campaign closed before the signal came back
    context.set_offline(True)
    home = ten_households[1]
    record_offline(page, base, campaign, home)
    expect(page.locator("#outbox-count")).to_have_text("1")
    Campaign.objects.filter(pk=campaign.pk).update(closed_at=timezone.now())
    # when the phone reconnects
    context.set_offline(False)
    # then the record is refused with the reason, nothing is written, and it stays shown
    record = page.locator(f"#outbox-records li[data-household='{home.pk}']")
    expect(record).to_have_attribute("data-status", "rejected")
    expect(record).to_contain_text("排查任务")
    expect(page.locator("#outbox-count")).to_have_text("0")
    shot(page, "refused-after-close")
    assert not Visit.objects.filter(household=home).exists()
    # and logging out is refused until the worker has read it
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("header form[action$='/logout/'] button").click(no_wait_after=True)
    for _tick in range(100):
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked and "拒绝" in asked[0]
    # and once dismissed it is gone from the phone, and logging out works
    record.locator(".outbox-dismiss").click()
    expect(page.locator("#outbox-records li")).to_have_count(0)
    page.reload()
    expect(page.locator("#outbox-records li")).to_have_count(0)
    page.locator("header form[action$='/logout/'] button").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    assert page.evaluate("caches.keys()") == [
        name for name in page.evaluate("caches.keys()") if "field-pages" not in name
    ]


def test_the_community_admin_accepts_a_held_visit_as_the_workers(
    new_page, live_server, login, worker, campaign, ten_households, user_for, shot
):
    # given a record that arrived after the household was given to another worker of the grid
    home = ten_households[6]
    form = [["f", "all"], ["notes", ""]]
    for person in home.persons.order_by("pk"):
        form += [[f"p{person.pk}-presence", "present"], [f"p{person.pk}-temperature", "36.8"]]
    form.append(["outcome", "screened"])
    HouseholdProgress.objects.filter(household=home).update(
        assigned_to=user_for(Role.GRID_WORKER, "G1")
    )
    answer = outbox_record(
        user=worker,
        campaign=campaign,
        record=OutboxRecord(
            client_uuid=uuid.uuid4(),
            household_id=home.pk,
            visited_at=timezone.now() - datetime.timedelta(hours=1),
            form=[(name, value) for name, value in form],
        ),
    )
    assert answer.status == "held"
    # when the community admin opens the campaign and its holding list
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, admin)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/")
    page.locator("#held-link").click()
    row = page.locator("#held-visits tbody tr").first
    expect(row).to_contain_text(home.household_number)
    expect(row).to_contain_text("36.8")
    expect(row).to_contain_text("该户在此期间已分给他人")
    shot(page, "held-list")
    # and accepts it
    row.locator("button[value=accept]").click()
    expect(page.locator("main")).to_contain_text("已接收")
    shot(page, "accepted")
    # then it is the original worker's visit, at the time of the visit
    visit = Visit.objects.get(household=home)
    assert visit.worker == worker
    assert HeldVisit.objects.get().state == "accepted"


def test_a_visit_kept_offline_keeps_the_forms_client_uuid(
    phone_browser, live_server, login, worker, campaign, ten_households
):
    base = live_server.url
    context, page = phone_browser()
    login(page, worker)
    page.goto(f"{base}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    home = ten_households[3]
    page.goto(f"{base}/campaigns/{campaign.pk}/households/{home.pk}/visit/")
    form_uuid = page.locator("#visit-form input[name=client_uuid]").input_value()
    assert form_uuid
    # when the post gets no answer, the outbox keeps it under the form's own UUID (a post
    # that did land is then answered as the same visit, not recorded twice)
    context.set_offline(True)
    for field in page.locator(".member:not(.is-new) input[data-recheck]").all():
        field.fill("36.6")
    page.locator("button[value=screened]").tap()
    expect(page).to_have_url(re.compile(rf"/my/\?queued={home.pk}"))
    expect(page.locator(f"#outbox-records li[data-household='{home.pk}']")).to_have_attribute(
        "data-uuid", form_uuid
    )
    context.set_offline(False)
    record = page.locator(f"#outbox-records li[data-household='{home.pk}']")
    expect(record).to_have_attribute("data-status", "created")
    assert str(Visit.objects.get(household=home).client_uuid) == form_uuid


def phone_record(campaign_id: int, home, **extra) -> dict:
    form = [["f", "all"], ["notes", ""]]
    for person in home.persons.order_by("pk"):
        form += [[f"p{person.pk}-presence", "present"], [f"p{person.pk}-temperature", "36.7"]]
    form.append(["outcome", "screened"])
    return {
        "client_uuid": str(uuid.uuid4()),
        "campaign_id": campaign_id,
        "household_id": home.pk,
        "visited_at": (timezone.now() - datetime.timedelta(minutes=5)).isoformat(),
        "form": form,
        "label": home.household_number,
        "status": "unsent",
        "message": "",
        "created_at": 1,
        **extra,
    }


def put_records(page, *records) -> None:
    page.evaluate(
        "records => Promise.all(records.map(r => window.DoorstepOutbox.put(r)))", list(records)
    )


def test_a_chunk_the_server_refuses_is_kept_as_refused_and_the_next_chunk_is_sent(
    phone_browser, live_server, login, worker, campaign, ten_households
):
    _context, page = phone_browser()
    login(page, worker)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    # given a record of a campaign the server no longer has (sent first) and a good one
    gone = phone_record(0, ten_households[0])
    good = phone_record(campaign.pk, ten_households[1])
    put_records(page, gone, good)
    # when the phone sends them
    page.evaluate("window.DoorstepOffline.sync()")
    page.reload()
    # then the refused one is kept, refused with the reason, and the good one still landed
    refused = page.locator(f"#outbox-records li[data-uuid='{gone['client_uuid']}']")
    expect(refused).to_have_attribute("data-status", "rejected")
    expect(refused.locator(".why")).to_contain_text("服务器拒绝")
    landed = page.locator(f"#outbox-records li[data-uuid='{good['client_uuid']}']")
    expect(landed).to_have_attribute("data-status", "created")
    expect(page.locator("#outbox-count")).to_have_text("0")
    assert Visit.objects.filter(client_uuid=good["client_uuid"]).count() == 1
    # and once dismissed, nothing stops the worker from logging out
    refused.locator(".outbox-dismiss").click()
    landed.locator(".outbox-dismiss").click()
    page.locator("header form[action$='/logout/'] button").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_a_refused_conflict_is_not_taken_for_landed_and_logout_waits_for_it(
    phone_browser, live_server, login, worker, campaign, ten_households
):
    _context, page = phone_browser()
    login(page, worker)
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    # given a record whose UUID the server already has for another visit of the worker's
    home = ten_households[2]
    first = phone_record(campaign.pk, home)
    outbox_record(
        user=worker,
        campaign=campaign,
        record=OutboxRecord(
            client_uuid=uuid.UUID(first["client_uuid"]),
            household_id=home.pk,
            visited_at=timezone.now() - datetime.timedelta(minutes=30),
            form=[(n, v) for n, v in first["form"]],
        ),
    )
    reused = {**first, "form": [[n, "36.9" if "temperature" in n else v] for n, v in first["form"]]}
    put_records(page, reused)
    page.evaluate("window.DoorstepOffline.sync()")
    page.reload()
    row = page.locator(f"#outbox-records li[data-uuid='{first['client_uuid']}']")
    expect(row).to_have_attribute("data-status", "conflict")
    # then logging out is refused until the worker has read it (it is not on the server)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator("header form[action$='/logout/'] button").click(no_wait_after=True)
    for _tick in range(100):
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked and "拒绝" in asked[0]
    assert page.evaluate("window.DoorstepOutbox.all().then(rows => rows.length)") == 1
    assert Visit.objects.filter(household=home).count() == 1 and not HeldVisit.objects.exists()


def test_a_second_user_on_the_phone_neither_sends_nor_sees_the_firsts_records_or_pages(
    phone_browser, live_server, login, worker, campaign, ten_households, user_for
):
    base = live_server.url
    context, page = phone_browser()
    login(page, worker)
    page.goto(f"{base}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    # given a visit recorded offline by the worker, whose session then ends without logout
    context.set_offline(True)
    home = ten_households[5]
    record_offline(page, base, campaign, home)
    expect(page.locator("#outbox-count")).to_have_text("1")
    # (the session ends before the signal comes back: back online with the session, the page
    # would rightly send the record as the worker's at once)
    context.clear_cookies()
    context.set_offline(False)
    # (the page sends at once on reconnect and, refused for want of a session, reads a fresh
    # token from a page: that read sets the phone's CSRF cookie; a login form fetched before it
    # lands would carry a token of the cookie it replaces, so the login waits for the attempt)
    expect(page.locator("#outbox-note")).to_have_text(
        re.compile(r"请重新登录后发送|Log in again to send")
    )
    # when another worker logs in on the same phone
    other = user_for(Role.GRID_WORKER, "G1")
    login(page, other)
    page.goto(f"{base}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    page.evaluate("window.DoorstepOffline.sync()")
    # then the first worker's record is neither sent under their session nor shown to them
    expect(page.locator("#outbox-count")).to_have_text("0")
    expect(page.locator("#outbox-records li")).to_have_count(0)
    assert not Visit.objects.filter(household=home).exists()
    stored = page.evaluate("window.DoorstepOutbox.all()")
    assert [(r["user_id"], r["status"]) for r in stored] == [(worker.pk, "unsent")]
    # and the pages kept for the first worker (residents' names) are gone
    page.wait_for_function(
        "caches.open('doorstep-field-pages-v1').then(c => c.keys())"
        ".then(keys => !keys.some(k => k.url.includes('/households/')))"
    )
    # and once the first worker logs in again, their record is sent as theirs
    context.clear_cookies()
    login(page, worker)
    page.goto(f"{base}/campaigns/{campaign.pk}/my/")
    record = page.locator(f"#outbox-records li[data-household='{home.pk}']")
    # (sent from the first page after the login; this page may have sent it again)
    expect(record).to_have_attribute("data-status", re.compile("created|duplicate"))
    assert Visit.objects.get(household=home).worker == worker


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_visit_answered_5xx_by_a_proxy_is_kept_on_the_phone_and_lands_once(
    phone_browser, live_server, login, worker, campaign, ten_households, status
):
    base = live_server.url
    context, page = phone_browser()
    login(page, worker)
    page.goto(f"{base}/campaigns/{campaign.pk}/my/")
    expect(page.locator("#outbox-state")).to_have_attribute("data-precached", re.compile(r"\d+"))
    home = ten_households[7]
    page.goto(f"{base}/campaigns/{campaign.pk}/households/{home.pk}/visit/")
    assert page.evaluate("!!navigator.serviceWorker.controller")
    form_uuid = page.locator("#visit-form input[name=client_uuid]").input_value()
    # given a proxy in front of the server answering 5xx for the visit's post (the post is the
    # service worker's own request: the context's route sees it) and for the outbox's sending
    seen: list[str] = []
    visit_url = re.compile(rf".*/households/{home.pk}/visit/$")

    def gateway(route):
        if route.request.method != "POST":
            route.continue_()
            return
        seen.append(route.request.method)
        route.fulfill(status=status, body="gateway", content_type="text/plain")

    context.route(visit_url, gateway)
    outbox_api = re.compile(r".*/visits/outbox$")
    context.route(outbox_api, lambda route: route.fulfill(status=status, body="gateway"))
    # when the worker saves the visit
    for field in page.locator(".member:not(.is-new) input[data-recheck]").all():
        field.fill("36.6")
    page.locator("button[value=screened]").tap()
    # then the form is kept on the phone under its own UUID, not lost with an error page
    expect(page).to_have_url(re.compile(rf"/my/\?queued={home.pk}"))
    assert seen == ["POST"]
    record = page.locator(f"#outbox-records li[data-uuid='{form_uuid}']")
    expect(record).to_have_attribute("data-status", "unsent")
    assert not Visit.objects.filter(household=home).exists()
    # and once the server answers again, it is sent and lands once
    context.unroute(visit_url)
    context.unroute(outbox_api)
    page.locator("#outbox-sync").click()
    expect(record).to_have_attribute("data-status", "created")
    assert [str(v.client_uuid) for v in Visit.objects.filter(household=home)] == [form_uuid]
