"""The trust pages in real Chromium: a community secretary works through the ID numbers to
reconcile (the worker who recorded them saw nothing unusual), a worker revokes the token of a
lost phone, an admin resets a worker's password. Screenshots under var/screenshots/."""

import re

import pytest

from doorstep.accounts.models import ApiToken, Role
from doorstep.accounts.tokens import api_token_create
from doorstep.registry.models import IdReconciliation, Person
from doorstep.registry.services import person_create
from tests.factories import unique_id_number

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def held_case(households, user_for):
    """A newcomer in HN-G1 recorded by the street admin with the number of a G4 resident."""
    recorder = user_for(Role.STREET_ADMIN, "S1")
    holder = households["G4"].persons.first()
    person = person_create(
        user=recorder,
        household_id=households["G1"].pk,
        data={
            "name": "王新来",
            "id_type": "resident_id",
            "id_number": holder.id_number,
            "residency": "temporary",
            "status": "active",
        },
    )
    return person, holder


def test_a_secretary_corrects_a_wrong_number(page, live_server, user_for, login, held_case, shot):
    person, holder = held_case
    secretary = user_for(Role.COMMUNITY_ADMIN, "C1")
    login(page, secretary)
    # the household shows the newcomer's number masked like any other, marked for the secretary
    page.goto(f"{live_server.url}/roster/households/{person.household_id}/")
    masked = holder.id_number[:6] + "********" + holder.id_number[-4:]
    expect(page.locator("#members")).to_contain_text(masked)
    expect(page.locator("#members .pill", has_text="待核对")).to_be_visible()
    shot(page, "household")
    page.locator("header.top nav").get_by_role("link", name="待核对").click()
    expect(page.locator("#cases")).to_contain_text("王新来")
    expect(page.locator("#cases")).to_contain_text(masked)
    shot(page, "list")
    page.get_by_role("link", name="处理").click()
    # the other record lies in another street: not shown, and no move from here
    expect(page.locator("#holder")).to_contain_text("辖区外")
    expect(page.locator("#decide-moved")).to_be_disabled()
    assert holder.name not in page.content()
    shot(page, "case")
    right = unique_id_number()
    page.fill("#id_number", right)
    page.locator("#decide-corrected").click()
    expect(page).to_have_url(re.compile(r"/roster/reconciliations/$"))
    expect(page.locator("#cases")).to_contain_text("没有待核对的记录")
    shot(page, "done")
    person.refresh_from_db()
    assert (person.id_number, person.id_number_held) == (right, None)
    assert IdReconciliation.objects.get().status == "corrected"


def test_the_command_moves_the_same_person_here(
    page, live_server, user_for, login, held_case, shot
):
    person, holder = held_case
    login(page, user_for(Role.COMMAND, "D"))
    page.goto(f"{live_server.url}/roster/reconciliations/")
    page.get_by_role("link", name="处理").click()
    expect(page.locator("#holder")).to_contain_text(holder.name)
    expect(page.locator("#holder")).to_contain_text("HN-G4")
    shot(page, "case")
    page.locator("#decide-moved").click()
    expect(page).to_have_url(re.compile(r"/roster/reconciliations/$"))
    holder.refresh_from_db()
    assert holder.household_id == person.household_id
    assert not Person.objects.filter(pk=person.pk).exists()


def test_a_worker_revokes_a_lost_phone_and_renews_the_other(
    page, live_server, user_for, login, shot
):
    worker = user_for(Role.GRID_WORKER, "G1")
    lost, _key = api_token_create(user=worker, name="丢失的手机", days=5)
    kept, _key = api_token_create(user=worker, name="新手机", days=5)
    login(page, worker)
    page.locator("header.top nav").get_by_role("link", name="API令牌").click()
    table = page.locator("#tokens")
    expect(table).to_contain_text("丢失的手机")
    expect(table).to_contain_text(lost.prefix)
    shot(page, "tokens")
    page.locator(f"#token-{lost.pk} button[value=revoke]").click()
    expect(page.locator(f"#token-{lost.pk}")).to_contain_text("本人已吊销")
    page.locator(f"#token-{kept.pk} button[value=renew]").click()
    expect(page.locator(".notice")).to_contain_text("已续期")
    shot(page, "revoked")
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert lost.revoked_at is not None and kept.revoked_at is None
    assert (kept.expires_at - kept.created_at).days >= 29


def test_a_secretary_resets_a_workers_password(page, live_server, user_for, login, shot):
    secretary = user_for(Role.COMMUNITY_ADMIN, "C1")
    worker = user_for(Role.GRID_WORKER, "G2", full_name="赵网格")
    api_token_create(user=worker, name="手机")
    login(page, secretary)
    page.locator("header.top nav").get_by_role("link", name="账号").click()
    expect(page.locator("#users")).to_contain_text(worker.username)
    shot(page, "users")
    page.get_by_role("link", name=worker.username).click()
    page.locator("#reset-password").click()
    notice = page.locator("#new-password")
    expect(notice).to_be_visible()
    password = notice.locator("code").inner_text()
    shot(page, "reset")
    worker.refresh_from_db()
    assert worker.check_password(password)
    assert ApiToken.objects.get(user=worker).revoked_reason == "password"
