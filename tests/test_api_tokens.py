"""API bearer tokens: a token of a user who logs in with two factors is made only against a
current code from their authenticator and expires; expired, revoked and pre-rule tokens answer 401
at once; a refused request for a token makes nothing."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from doorstep.accounts.models import ApiToken, Role
from doorstep.accounts.services import (
    TWO_FACTOR_TOKEN_MAX_DAYS,
    ApiTokenRefused,
    api_token_create,
)
from doorstep.core.models import AuditEvent

from .two_factor import confirmed_device, fresh_code, wrong_code


def me(key: str):
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/me")


@pytest.fixture
def commander(user_for):
    return user_for(Role.COMMAND, "D")


@pytest.fixture
def worker(user_for):
    return user_for(Role.GRID_WORKER, "G1")


def test_a_commander_token_with_a_current_code_works_and_expires_in_30_days(commander):
    device = confirmed_device(commander)
    before = timezone.now()
    token, key = api_token_create(user=commander, name="大屏", code=fresh_code(device))
    assert me(key).status_code == 200
    assert me(key).json()["username"] == commander.username
    lifetime = token.expires_at - before
    assert timedelta(days=TWO_FACTOR_TOKEN_MAX_DAYS) <= lifetime
    assert lifetime < timedelta(days=TWO_FACTOR_TOKEN_MAX_DAYS, minutes=1)
    event = AuditEvent.objects.get(action="api_token.create")
    assert event.detail == {"days": TWO_FACTOR_TOKEN_MAX_DAYS}


@pytest.mark.parametrize("code", ["", "wrong"], ids=["no code", "wrong code"])
def test_a_commander_token_without_the_right_code_is_refused_and_nothing_is_made(commander, code):
    device = confirmed_device(commander)
    with pytest.raises(ApiTokenRefused, match="验证码错误或未填写"):
        api_token_create(
            user=commander, name="x", code=wrong_code(device) if code == "wrong" else ""
        )
    assert not ApiToken.objects.exists()
    failure = AuditEvent.objects.get(action="api_token.create_failure")
    assert failure.object_id == str(device.pk)
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # the login back-off counts these too


def test_after_a_wrong_code_even_the_right_one_waits(commander):
    device = confirmed_device(commander)
    with pytest.raises(ApiTokenRefused):
        api_token_create(user=commander, name="x", code=wrong_code(device))
    with pytest.raises(ApiTokenRefused, match="请等待一分钟"):
        api_token_create(user=commander, name="x", code=fresh_code(device))
    assert not ApiToken.objects.exists()
    assert AuditEvent.objects.filter(action="api_token.create_throttled").count() == 1


def test_a_code_makes_one_token_only(commander):
    device = confirmed_device(commander)
    code = fresh_code(device)
    api_token_create(user=commander, name="first", code=code)
    with pytest.raises(ApiTokenRefused):
        api_token_create(user=commander, name="second", code=code)
    assert ApiToken.objects.count() == 1


def test_a_commander_without_an_authenticator_gets_no_token(commander):
    with pytest.raises(ApiTokenRefused, match="须先绑定身份验证器"):
        api_token_create(user=commander, name="x", code="123456")
    assert not ApiToken.objects.exists()


def test_staff_need_the_code_too(user_for):
    staff = user_for(Role.COMMUNITY_ADMIN, "C1", is_staff=True)
    with pytest.raises(ApiTokenRefused):
        api_token_create(user=staff, name="x")
    _token, key = api_token_create(user=staff, name="x", code=fresh_code(confirmed_device(staff)))
    assert me(key).status_code == 200


def test_a_commander_token_lasts_at_most_30_days(commander):
    device = confirmed_device(commander)
    with pytest.raises(ApiTokenRefused, match=str(TWO_FACTOR_TOKEN_MAX_DAYS)):
        api_token_create(
            user=commander, name="x", code=fresh_code(device), days=TWO_FACTOR_TOKEN_MAX_DAYS + 1
        )
    token, _key = api_token_create(user=commander, name="x", code=fresh_code(device), days=1)
    assert token.expires_at - timezone.now() <= timedelta(days=1)


def test_an_expired_token_answers_401(commander, worker):
    _token, command_key = api_token_create(
        user=commander, name="x", code=fresh_code(confirmed_device(commander))
    )
    _token, worker_key = api_token_create(user=worker, name="phone", days=7)
    assert me(command_key).status_code == me(worker_key).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert me(command_key).status_code == me(worker_key).status_code == 401


def test_a_worker_token_needs_no_code_and_expires_in_30_days_by_default(worker):
    before = timezone.now()
    token, key = api_token_create(user=worker, name="phone")
    assert timedelta(days=30) <= token.expires_at - before < timedelta(days=30, minutes=1)
    assert me(key).status_code == 200


def test_no_token_lasts_longer_than_90_days(worker):
    with pytest.raises(ApiTokenRefused, match="90"):
        api_token_create(user=worker, name="phone", days=91)
    assert not ApiToken.objects.exists()
    token, _key = api_token_create(user=worker, name="phone", days=90)
    assert token.expires_at - timezone.now() <= timedelta(days=90)


@pytest.mark.parametrize("days", [None, 90], ids=["default", "longest"])
def test_a_token_made_without_a_code_stops_when_its_user_needs_two_factors(worker, days):
    """A token made before the rule, or before the user became command staff, is not a way
    around the second factor, however long it was made to last."""
    _token, key = api_token_create(user=worker, name="phone", days=days)
    assert me(key).status_code == 200
    worker.role = Role.COMMAND
    worker.save(update_fields=["role"])
    assert me(key).status_code == 401


def test_a_token_made_before_the_rule_is_refused(commander):
    """Tokens of command users from before this rule have no code behind them."""
    token, key = api_token_create(
        user=commander, name="x", code=fresh_code(confirmed_device(commander))
    )
    ApiToken.objects.filter(pk=token.pk).update(made_with_second_factor=False)
    assert me(key).status_code == 401


def test_no_token_lasts_less_than_a_day(worker):
    with pytest.raises(ApiTokenRefused):
        api_token_create(user=worker, name="phone", days=0)
    assert not ApiToken.objects.exists()


def test_the_command_asks_a_commander_for_the_code(commander):
    device = confirmed_device(commander)
    with pytest.raises(CommandError, match="验证码错误或未填写") as refused:
        call_command("create_api_token", commander.username, stdout=StringIO())
    assert refused.value.returncode == 2
    assert not ApiToken.objects.exists()
    device.refresh_from_db()
    device.throttle_reset()  # the missing code counted as a wrong one: past its back-off
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_token", commander.username, "--code", fresh_code(device), stdout=out, stderr=err
    )
    key = out.getvalue().strip()
    assert key.startswith("dst_")
    assert "expires" in err.getvalue()
    assert me(key).status_code == 200
