"""API tokens die with what stood behind them: every path that changes a password (the user's
own change, an admin's reset, the bulk sheet's reset, the Django admin, set_password anywhere),
a deactivation (which a reactivation does not undo), a reset authenticator for the tokens made
with its codes. A user lists, revokes and renews their own tokens; an admin those of the users
they manage, nobody else's. Every use records when and from where."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.accounts.models import ApiToken, RevokeReason, Role, User
from doorstep.accounts.tokens import api_token_create
from doorstep.core.models import AuditEvent

from .sheets import write_csv
from .two_factor import api_key_for, confirmed_device, verify_session

PASSWORD = "test-password-123"


def me(key: str, **extra):
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", **extra).get("/api/me")


def still_answers(client) -> None:
    """After each refusal the server answers the next ordinary request."""
    assert client.get("/healthz").status_code == 200


@pytest.fixture
def worker(user_for):
    return user_for(Role.GRID_WORKER, "G1")


@pytest.fixture
def admin(client_for):
    return client_for(Role.COMMUNITY_ADMIN, "C1")


def test_the_users_own_password_change_revokes_their_tokens(worker):
    _token, key = api_token_create(user=worker, name="phone")
    assert me(key).status_code == 200
    client = Client()
    client.force_login(worker)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-pass-4567",
            "new_password2": "a-new-pass-4567",
        },
    )
    assert response.status_code == 302
    assert me(key).status_code == 401
    token = ApiToken.objects.get()
    assert token.revoked_reason == RevokeReason.PASSWORD
    event = AuditEvent.objects.get(action="api_token.revoke_all")
    assert event.detail == {"tokens": 1, "reason": "password"}
    # the tokens page says why, and a renewal does not bring it back
    page = client.get(reverse("accounts:tokens")).content.decode()
    assert "密码已修改" in page
    client.post(reverse("accounts:tokens"), {"token": token.pk, "action": "renew"})
    assert me(key).status_code == 401
    still_answers(client)


def test_any_set_password_revokes_the_tokens(worker):
    """The Django admin, `changepassword`, a script: they all go through set_password."""
    _token, key = api_token_create(user=worker, name="phone")
    worker.set_password("another-pass-890")
    worker.save()
    assert me(key).status_code == 401


def test_a_hash_upgrade_at_login_is_no_password_change(worker, settings):
    """Django rehashes a password when its hasher changes; that keeps the tokens."""
    _token, key = api_token_create(user=worker, name="phone")
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    assert worker.check_password(PASSWORD)  # rehashed and saved with PBKDF2
    worker.refresh_from_db()
    assert worker.password.startswith("pbkdf2_")
    assert me(key).status_code == 200


def test_an_admin_reset_gives_a_new_password_once_and_revokes_tokens(admin, worker):
    _token, key = api_token_create(user=worker, name="phone")
    session = Client()
    session.force_login(worker)
    url = reverse("accounts:user_detail", args=[worker.pk])
    response = admin.post(url, {"action": "password"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="new-password"' in body
    worker.refresh_from_db()
    password = body.split('id="new-password"')[1].split("<code>")[1].split("</code>")[0]
    assert worker.check_password(password)
    assert me(key).status_code == 401
    assert session.get("/").status_code == 302  # the worker's session ended too
    event = AuditEvent.objects.get(action="user.password_reset")
    assert (event.user, event.object_id) == (admin.user, str(worker.pk))
    # the password is shown only in that answer
    assert password not in admin.get(url).content.decode()


def test_the_bulk_sheet_resets_managed_accounts_only(admin, worker, user_for, tmp_path):
    _token, key = api_token_create(user=worker, name="phone")
    elsewhere = user_for(Role.GRID_WORKER, "G3")  # another community
    _token, other_key = api_token_create(user=elsewhere, name="phone")
    sheet = write_csv(
        tmp_path / "reset.csv",
        [
            [worker.username, "", "网格员", "", "", "是"],
            [elsewhere.username, "", "网格员", "", "", "是"],
        ],
        header=["用户名", "姓名", "角色", "区域代码", "手机号", "重置密码"],
    )
    with open(sheet, "rb") as handle:
        response = admin.post(reverse("accounts:users_import"), {"file": handle})
    result = response.context["result"]
    assert [row[:2] for row in result.reset] == [(2, worker.username)]
    assert [row for row, _reason in result.rejected] == [3]
    worker.refresh_from_db()
    assert worker.check_password(result.reset[0][2])
    assert me(key).status_code == 401
    assert me(other_key).status_code == 200  # not theirs to reset
    elsewhere.refresh_from_db()
    assert elsewhere.check_password(PASSWORD)


def test_deactivation_revokes_for_good(admin, worker):
    _token, key = api_token_create(user=worker, name="phone")
    url = reverse("accounts:user_detail", args=[worker.pk])
    assert admin.post(url, {"action": "deactivate"}).status_code == 302
    assert me(key).status_code == 401
    assert admin.post(url, {"action": "reactivate"}).status_code == 302
    worker.refresh_from_db()
    assert worker.is_active
    assert me(key).status_code == 401
    assert ApiToken.objects.get().revoked_reason == RevokeReason.DEACTIVATED
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"user.deactivate", "user.reactivate", "api_token.revoke_all"} <= actions


def test_a_deactivation_by_another_path_revokes_at_the_next_use(worker):
    _token, key = api_token_create(user=worker, name="phone")
    User.objects.filter(pk=worker.pk).update(is_active=False)
    assert me(key).status_code == 401
    User.objects.filter(pk=worker.pk).update(is_active=True)
    assert me(key).status_code == 401
    assert ApiToken.objects.get().revoked_reason == RevokeReason.DEACTIVATED


def test_the_django_admin_deactivation_and_password_revoke(client_for, worker, user_for):
    staff = client_for(Role.COMMAND, "D", is_staff=True, is_superuser=True)
    _token, key = api_token_create(user=worker, name="phone")
    change = reverse("admin:accounts_user_change", args=[worker.pk])
    form = staff.get(change).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update(
        {
            "username": worker.username,
            "date_joined_0": "2026-01-01",
            "date_joined_1": "08:00:00",
            "role": worker.role,
            "jurisdiction_area": worker.jurisdiction_area_id,
        }
    )
    data.pop("is_active", None)
    data.pop("last_login", None)
    data.pop("password", None)
    response = staff.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert me(key).status_code == 401
    assert ApiToken.objects.get().revoked_reason == RevokeReason.DEACTIVATED
    # and a password set there
    other = user_for(Role.GRID_WORKER, "G1")
    _token, other_key = api_token_create(user=other, name="phone")
    # (UserAdmin names its password page after auth's User, whatever the user model)
    staff.post(
        reverse("admin:auth_user_password_change", args=[other.pk]),
        {
            "password1": "admin-set-pass-42",
            "password2": "admin-set-pass-42",
            "usable_password": "true",
        },
    )
    other.refresh_from_db()
    assert other.check_password("admin-set-pass-42")
    assert me(other_key).status_code == 401


def test_a_reset_authenticator_takes_the_tokens_made_with_its_codes(user_for):
    commander = user_for(Role.COMMAND, "D")
    key = api_key_for(commander, "大屏")
    assert me(key).status_code == 200
    out = StringIO()
    call_command("reset_two_factor", commander.username, stdout=out)
    assert "1" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=commander).exists()
    assert me(key).status_code == 401
    assert ApiToken.objects.get().revoked_reason == RevokeReason.AUTHENTICATOR
    assert AuditEvent.objects.filter(action="two_factor.reset").exists()
    # a new authenticator and a new token work; the old one stays dead
    new_key = api_key_for(commander, "大屏")
    assert me(new_key).status_code == 200
    assert me(key).status_code == 401


def test_a_device_replaced_behind_the_apps_back_also_stops_its_tokens(user_for):
    """Whatever path removes or replaces the authenticator (the Django admin, a script), a token
    made with the old one's code opens nothing."""
    commander = user_for(Role.COMMAND, "D")
    key = api_key_for(commander)
    TOTPDevice.objects.filter(user=commander).delete()
    confirmed_device(commander)  # a new one
    assert me(key).status_code == 401


def test_the_django_admin_device_delete_revokes(client_for, user_for):
    staff = client_for(Role.COMMAND, "D", is_staff=True, is_superuser=True)
    commander = user_for(Role.COMMAND, "D")
    key = api_key_for(commander)
    device = TOTPDevice.objects.get(user=commander)
    url = reverse("admin:otp_totp_totpdevice_delete", args=[device.pk])
    assert staff.post(url, {"post": "yes"}).status_code == 302
    assert ApiToken.objects.get(user=commander).revoked_reason == RevokeReason.AUTHENTICATOR
    assert me(key).status_code == 401


def test_a_user_lists_revokes_and_renews_their_own_tokens(worker, user_for):
    lost, lost_key = api_token_create(user=worker, name="丢失的手机", days=3)
    kept, kept_key = api_token_create(user=worker, name="新手机", days=3)
    other_user = user_for(Role.GRID_WORKER, "G1")
    others, _key = api_token_create(user=other_user, name="别人的手机")
    client = Client()
    client.force_login(worker)
    page = client.get(reverse("accounts:tokens")).content.decode()
    assert "丢失的手机" in page and "新手机" in page and "别人的手机" not in page
    assert lost.prefix in page and lost_key not in page
    # revoke the lost phone
    response = client.post(reverse("accounts:tokens"), {"token": lost.pk, "action": "revoke"})
    assert response.status_code == 302
    assert me(lost_key).status_code == 401 and me(kept_key).status_code == 200
    # renew the other: another 30 days from now
    client.post(reverse("accounts:tokens"), {"token": kept.pk, "action": "renew"})
    kept.refresh_from_db()
    assert kept.expires_at - timezone.now() > timedelta(days=29)
    # someone else's token is not reachable from here
    refused = client.post(reverse("accounts:tokens"), {"token": others.pk, "action": "revoke"})
    assert refused.status_code == 404
    others.refresh_from_db()
    assert others.revoked_at is None
    still_answers(client)


def test_admins_manage_only_the_accounts_below_them_in_their_jurisdiction(client_for, user_for):
    community = client_for(Role.COMMUNITY_ADMIN, "C1")
    mine = user_for(Role.GRID_WORKER, "G2")
    peer = user_for(Role.COMMUNITY_ADMIN, "C1")
    elsewhere = user_for(Role.GRID_WORKER, "G3")
    checkpoint = user_for(Role.CHECKPOINT_OFFICER, None)
    listed = community.get(reverse("accounts:users")).content.decode()
    assert mine.username in listed
    for user in (peer, elsewhere, checkpoint):
        assert user.username not in listed
        url = reverse("accounts:user_detail", args=[user.pk])
        assert community.get(url).status_code == 404
        assert community.post(url, {"action": "password"}).status_code == 404
        user.refresh_from_db()
        assert user.check_password(PASSWORD)
    command = client_for(Role.COMMAND, "D")
    assert command.get(reverse("accounts:user_detail", args=[checkpoint.pk])).status_code == 200
    assert command.get(reverse("accounts:user_detail", args=[peer.pk])).status_code == 200
    worker = client_for(Role.GRID_WORKER, "G1")
    assert worker.get(reverse("accounts:users")).status_code == 403


def test_an_admin_revokes_a_managed_users_token(admin, user_for):
    mine = user_for(Role.GRID_WORKER, "G2")
    token, key = api_token_create(user=mine, name="phone")
    url = reverse("accounts:user_detail", args=[mine.pk])
    assert "phone" in admin.get(url).content.decode()
    assert admin.post(url, {"action": "revoke", "token": token.pk}).status_code == 302
    assert me(key).status_code == 401
    assert ApiToken.objects.get().revoked_reason == RevokeReason.ADMIN


@pytest.mark.parametrize(
    ("proxies", "headers", "recorded"),
    [
        (0, {"REMOTE_ADDR": "203.0.113.5"}, "203.0.113.5"),
        # without a configured proxy, a forged header is ignored
        (0, {"REMOTE_ADDR": "203.0.113.5", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "203.0.113.5"),
        # behind one proxy, the address it saw (whatever the client wrote before it)
        (
            1,
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7"},
            "198.51.100.7",
        ),
    ],
)
def test_the_last_use_is_recorded_with_the_real_address(
    worker, settings, proxies, headers, recorded
):
    settings.DOORSTEP_PROXY_COUNT = proxies
    token, key = api_token_create(user=worker, name="phone")
    assert token.last_used_at is None
    assert me(key, **headers).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_ip == recorded


def test_tokens_of_two_factor_users_are_renewed_only_from_a_verified_session(user_for):
    commander = user_for(Role.COMMAND, "D")
    key = api_key_for(commander)
    token = ApiToken.objects.get(user=commander)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() + timedelta(days=1))
    half = Client()
    half.force_login(commander)  # password only: the second factor is owed
    response = half.post(reverse("accounts:tokens"), {"token": token.pk, "action": "renew"})
    assert response.status_code == 302 and "two-factor" in response["Location"]
    token.refresh_from_db()
    assert token.expires_at - timezone.now() < timedelta(days=2)
    verify_session(half, commander)
    half.post(reverse("accounts:tokens"), {"token": token.pk, "action": "renew"})
    token.refresh_from_db()
    assert token.expires_at - timezone.now() > timedelta(days=29)
    assert me(key).status_code == 200
