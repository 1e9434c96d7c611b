"""Login, lockout, password change, and accounts created in bulk from a sheet."""

import pytest
from django.test import Client
from django.urls import reverse

from doorstep.accounts.models import Role, User

from .sheets import write_csv


@pytest.fixture
def login_client():
    return Client(REMOTE_ADDR="10.0.0.8")


def login(client, username, password):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def test_login_and_logout(user_for, login_client):
    user = user_for(Role.COMMUNITY_ADMIN, "C1")
    response = login(login_client, user.username, "test-password-123")
    assert response.status_code == 302 and response["Location"] == "/"
    assert login_client.get("/").status_code == 200
    assert login_client.post(reverse("accounts:logout")).status_code == 302
    assert login_client.get("/").status_code == 302


def test_unknown_user_and_wrong_password_get_the_same_answer(user_for, login_client):
    user = user_for()
    wrong = login(login_client, user.username, "nope-nope-nope")
    unknown = login(Client(REMOTE_ADDR="10.0.0.9"), "nobody-here", "nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.content.decode().replace(user.username, "X").count('role="alert"') == 1
    assert unknown.content.decode().count('role="alert"') == 1


def test_repeated_failures_lock_the_account_even_for_the_right_password(user_for, login_client):
    user = user_for()
    for _ in range(5):
        login(login_client, user.username, "wrong-password-x")
    response = login(login_client, user.username, "test-password-123")
    assert response.status_code in (403, 429)
    assert login_client.get("/").status_code == 302  # still not logged in


def test_a_deactivated_user_loses_access_at_once(client_for):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert client.get("/").status_code == 200
    User.objects.filter(pk=client.user.pk).update(is_active=False)
    assert client.get("/").status_code == 302


def test_password_change(client_for):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "test-password-123",
            "new_password1": "Jialing-river-2026",
            "new_password2": "Jialing-river-2026",
        },
    )
    assert response.status_code == 302
    client.user.refresh_from_db()
    assert client.user.check_password("Jialing-river-2026")


def test_bulk_accounts_from_a_sheet(client_for, areas, tmp_path):
    client = client_for(Role.STREET_ADMIN, "S1")
    path = write_csv(
        tmp_path / "users.csv",
        [
            ["wang", "王网格", "网格员", "G1", "13800138000"],
            ["li", "李书记", "社区", "C2", ""],
            ["zhao", "赵", "网格员", "G4", ""],  # grid in another street
            ["sun", "孙", "网格员", "C1", ""],  # a community is not a grid
            ["qian", "钱", "厨师", "G1", ""],  # unknown role
            ["wang", "王二", "网格员", "G2", ""],  # username taken in this sheet
            ["zhou", "周", "网格员", "G2", "1380013800"],  # phone of 10 digits
        ],
        header=["用户名", "姓名", "角色", "区域代码", "手机号"],
    )
    with open(path, "rb") as handle:
        response = client.post(reverse("accounts:users_import"), {"file": handle})
    result = response.context["result"]
    assert [row for row, _u, _p in result.created] == [2, 3]
    assert [row for row, _reason in result.rejected] == [4, 5, 6, 7, 8]
    wang = User.objects.get(username="wang")
    assert (wang.role, wang.jurisdiction_area, wang.phone) == (
        Role.GRID_WORKER,
        areas["G1"],
        "13800138000",
    )
    password = result.created[0][2]
    fresh = Client(REMOTE_ADDR="10.0.0.7")
    assert login(fresh, "wang", password).status_code == 302
    assert not User.objects.filter(username__in=["zhao", "sun", "qian", "zhou"]).exists()


def test_grid_workers_cannot_create_accounts(client_for, tmp_path):
    client = client_for(Role.GRID_WORKER, "G1")
    assert client.get(reverse("accounts:users_import")).status_code == 403


def test_ui_is_chinese_by_default_and_english_on_request(client_for):
    client = Client()
    body = client.get(reverse("accounts:login")).content.decode()
    assert 'lang="zh-hans"' in body
    client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"})
    assert 'lang="en"' in client.get(reverse("accounts:login")).content.decode()


def test_roles_without_an_area_get_none_from_a_sheet(client_for, areas, tmp_path):
    """A checkpoint account given a community by a sheet could browse that community's roster."""
    client = client_for(Role.STREET_ADMIN, "S1")
    path = write_csv(
        tmp_path / "users.csv",
        [
            ["gate", "卡口甲", "卡口", "C1", ""],
            ["clinic", "医生甲", "发热门诊", "G1", ""],
            ["school", "学校甲", "单位", "S1", ""],
            ["gate2", "卡口乙", "卡口", "", ""],
        ],
        header=["用户名", "姓名", "角色", "区域代码", "手机号"],
    )
    with open(path, "rb") as handle:
        result = client.post(reverse("accounts:users_import"), {"file": handle}).context["result"]
    assert [row for row, _u, _p in result.created] == [5]
    assert [row for row, _reason in result.rejected] == [2, 3, 4]
    assert all("区域代码" in reason or "area" in reason for _row, reason in result.rejected)
    assert User.objects.get(username="gate2").jurisdiction_area is None
    assert not User.objects.filter(username__in=["gate", "clinic", "school"]).exists()


def test_the_database_refuses_an_area_for_those_roles(user_for, areas):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    gate = user_for(Role.CHECKPOINT_OFFICER, None)
    gate.jurisdiction_area = areas["C1"]
    with pytest.raises(ValidationError):
        gate.full_clean()  # what the Django admin's form runs: an error on the form, no 500
    with pytest.raises(IntegrityError), transaction.atomic():
        gate.save()
    # and a role changed to one without an area keeps none either
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    admin.role = Role.CLINIC_STAFF
    with pytest.raises(IntegrityError), transaction.atomic():
        admin.save()
