"""The accounts page edits the accounts an admin manages (name, phone, role, jurisdiction) and
nothing else; a password someone else chose (a first one from the sheet, an admin's reset) holds
its account at the password change until the owner picks their own."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from doorstep.accounts.models import Role, User
from doorstep.core.models import AuditEvent

from .sheets import write_csv

PASSWORD = "test-password-123"


@pytest.fixture
def worker(user_for):
    return user_for(Role.GRID_WORKER, "G1", full_name="王一", phone="13800138000")


@pytest.fixture
def admin(client_for):
    return client_for(Role.COMMUNITY_ADMIN, "C1")


def edit(client, user, **fields):
    data = {"action": "edit", "full_name": "", "phone": "", "role": "", "area_code": ""}
    data.update(fields)
    return client.post(reverse("accounts:user_detail", args=[user.pk]), data)


def snapshot(user: User) -> tuple:
    user.refresh_from_db()
    return (user.full_name, user.phone, user.role, user.jurisdiction_area_id)


def test_an_admin_moves_a_worker_to_another_grid_and_renames_them(admin, worker, areas):
    response = edit(admin, worker, full_name="王二", role=Role.GRID_WORKER, area_code="G2")
    assert response.status_code == 302
    assert snapshot(worker) == ("王二", "13800138000", Role.GRID_WORKER, areas["G2"].pk)
    event = AuditEvent.objects.get(action="user.update")
    assert event.user == admin.user
    assert event.detail["after"] == {"role": "grid_worker", "area": "G2"}


def test_the_edit_form_never_shows_the_phone_in_full(admin, worker):
    body = admin.get(reverse("accounts:user_detail", args=[worker.pk])).content.decode()
    assert "13800138000" not in body
    assert 'id="edit-account"' in body and "138****8000" in body


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"role": Role.COMMUNITY_ADMIN, "area_code": "C1"}, "role", "不能授予"),
        ({"role": Role.GRID_WORKER, "area_code": "G3"}, "area_code", "G3"),  # another community
        ({"role": Role.GRID_WORKER, "area_code": "C1"}, "area_code", "层级"),  # wrong level
        ({"role": Role.GRID_WORKER, "area_code": "G1", "phone": "12345"}, "phone", "11位"),
    ],
)
def test_a_refused_edit_says_where_keeps_what_was_typed_and_changes_nothing(
    admin, worker, fields, field, error
):
    before = snapshot(worker)
    response = edit(admin, worker, full_name="改过的名字", **fields)
    assert response.status_code == 400
    body = response.content.decode()
    # the message itself says what is wrong (not the typed value echoed in its input)
    message = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', body)
    assert message is not None and error in message[1], body[-2000:]
    assert 'value="改过的名字"' in body  # what was typed is still there
    assert snapshot(worker) == before
    assert not AuditEvent.objects.filter(action="user.update").exists()


def test_an_area_of_another_street_is_answered_as_one_that_does_not_exist(admin, worker):
    answers = []
    for code in ("G4", "NOPE"):  # G4 exists, in the other street
        body = edit(admin, worker, role=Role.GRID_WORKER, area_code=code).content.decode()
        message = re.search(r'id="area_code-error"[^>]*>([^<]*)<', body)
        assert message is not None
        answers.append(message[1].replace(code, "X"))
    assert answers[0] == answers[1]


def test_an_account_the_admin_does_not_manage_cannot_be_edited(admin, user_for, areas):
    elsewhere = user_for(Role.GRID_WORKER, "G3", full_name="外人")
    peer = user_for(Role.COMMUNITY_ADMIN, "C1", full_name="同级")
    for user in (elsewhere, peer):
        before = snapshot(user)
        response = edit(admin, user, full_name="x", role=Role.GRID_WORKER, area_code="G1")
        assert response.status_code == 404
        assert snapshot(user) == before


def test_a_command_account_gives_area_less_roles_without_an_area(client_for, user_for):
    command = client_for(Role.COMMAND, "D")
    worker = user_for(Role.GRID_WORKER, "G4")
    response = edit(command, worker, full_name="卡口王", role=Role.CHECKPOINT_OFFICER)
    assert response.status_code == 302
    assert snapshot(worker)[2:] == (Role.CHECKPOINT_OFFICER, None)


def _login(username: str, password: str) -> Client:
    client = Client()
    response = client.post(reverse("accounts:login"), {"username": username, "password": password})
    assert response.status_code == 302
    return client


def test_a_first_password_from_the_sheet_must_be_changed_before_anything_else(admin, tmp_path):
    sheet = write_csv(
        tmp_path / "new.csv",
        [["zhang3", "张三", "网格员", "G1", ""]],
        header=["用户名", "姓名", "角色", "区域代码", "手机号"],
    )
    with open(sheet, "rb") as handle:
        result = admin.post(reverse("accounts:users_import"), {"file": handle}).context["result"]
    [(_row, username, first_password)] = result.created
    client = _login(username, first_password)
    change = reverse("accounts:password_change")
    assert client.get("/").url == change
    assert client.get("/api/me").status_code == 403
    page = client.get(change)
    assert page.status_code == 200 and 'id="must-change"' in page.content.decode()
    response = client.post(
        change,
        {
            "old_password": first_password,
            "new_password1": "my-own-pass-4567",
            "new_password2": "my-own-pass-4567",
        },
    )
    assert response.status_code == 302
    assert not User.objects.get(username=username).must_change_password
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action="user.password_change").count() == 1


def test_an_admin_reset_holds_the_account_at_the_password_change(admin, worker):
    response = admin.post(reverse("accounts:user_detail", args=[worker.pk]), {"action": "password"})
    body = response.content.decode()
    password = body.split('id="new-password"')[1].split("<code>")[1].split("</code>")[0]
    worker.refresh_from_db()
    assert worker.must_change_password
    client = _login(worker.username, password)
    assert client.get(reverse("screening:campaign_list")).url == reverse("accounts:password_change")
    # Logging out still works for a held account.
    assert client.post(reverse("accounts:logout")).status_code == 302


def test_an_account_that_chose_its_own_password_is_not_held(worker):
    client = _login(worker.username, PASSWORD)
    assert client.get("/").status_code == 200
