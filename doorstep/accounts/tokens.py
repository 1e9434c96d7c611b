"""API bearer tokens: made, used, renewed and revoked.

A token is a credential of its own, so it lives by the same rules as a login:
- every token expires (API_TOKEN_DAYS by default, at most API_TOKEN_MAX_DAYS; a user who must log
  in with two factors gets one only against a current code from their authenticator, for at
  most TWO_FACTOR_TOKEN_MAX_DAYS), and is renewed from the tokens page by a logged-in user;
- a password change by any path revokes the user's tokens: Django tells every password validator
  of a changed password (`password_changed`, from `User.save()` after `set_password`, which the
  user's own change, an admin's reset, the bulk sheet, the Django admin and `changepassword`
  all go through; not a hash upgrade at login), and `RevokeTokensOnPasswordChange` is one;
- a deactivated user's tokens are revoked (`user_deactivate`, the Django admin; and at the first
  use of one that escaped, as answering 401 was already the rule);
- a token made with a code lives as long as the authenticator that gave the code: a reset
  authenticator (deleted device) takes its tokens along (`made_with_device` is then NULL);
- every use records when and from where (at most every few minutes, to keep requests light).
"""

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.core.services import audit_write, client_ip

from .models import ApiToken, RevokeReason, User
from .selectors import totp_device_confirmed, two_factor_required, users_managed_by

API_TOKEN_DAYS = 30
API_TOKEN_MAX_DAYS = 90
# A two-factor user's token is made against a code (as a verified session would be) and does not
# outlive this many days.
TWO_FACTOR_TOKEN_MAX_DAYS = 30
LAST_USE_EVERY_SECONDS = 300


class ApiTokenRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _max_days(user: User) -> int:
    return TWO_FACTOR_TOKEN_MAX_DAYS if two_factor_required(user) else API_TOKEN_MAX_DAYS


def api_token_create(
    *, user: User, name: str, code: str = "", days: int | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`; the plain key is returned once and never stored. It expires
    after `days` (API_TOKEN_DAYS by default, at most `_max_days`). For a user who needs two
    factors (two_factor_required) it needs `code` from their confirmed authenticator. Raises
    ApiTokenRefused, with nothing made."""
    if days is not None and days < 1:
        raise ApiTokenRefused(_("a token must last at least one day"))
    limit = _max_days(user)
    if days is not None and days > limit:
        raise ApiTokenRefused(
            _("a token of this account lasts at most %(days)d days") % {"days": limit}
        )
    days = days or min(API_TOKEN_DAYS, limit)
    device = None
    if two_factor_required(user):
        refusal = _token_code_refusal(user=user, code=code)
        if refusal:
            raise ApiTokenRefused(refusal)
        device = totp_device_confirmed(user)
    key = "dst_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100],
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            prefix=key[:10],
            expires_at=timezone.now() + timedelta(days=days),
            made_with_second_factor=device is not None,
            made_with_device=device,
        )
        audit_write(user=user, action="api_token.create", obj=token, detail={"days": days})
    return token, key


@transaction.atomic
def _token_code_refusal(*, user: User, code: str) -> str:
    """Why `code` does not prove the authenticator, or "" when it does. The device's back-off
    applies as at login; a wrong code is audited (the device, never the code). Returns instead of
    raising so that the failure count and the audit row are kept."""
    device = totp_device_confirmed(user)
    if device is None:
        return _("this account must enrol an authenticator (two-factor login) first")
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    allowed, _reason = device.verify_is_allowed()
    if not allowed:
        audit_write(user=user, action="api_token.create_throttled", obj=device)
        return _("too many wrong codes: wait a minute and try again")
    if not device.verify_token(code.replace(" ", "")):
        audit_write(
            user=user,
            action="api_token.create_failure",
            obj=device,
            detail={"failures": device.throttling_failure_count},
        )
        return _("the code from the authenticator is wrong or missing")
    return ""


def token_dead_reason(token: ApiToken, *, now=None) -> str:
    """Why this token opens nothing now ("" when it is live): revoked (with its reason),
    expired, its user deactivated, or a two-factor user's token that no live code stands
    behind (made before the rule, before the user became command staff, or its authenticator
    reset)."""
    now = now or timezone.now()
    user = token.user
    if token.revoked_at is not None:
        return token.revoked_reason or RevokeReason.OWNER
    if not user.is_active:
        return RevokeReason.DEACTIVATED
    if two_factor_required(user):
        device = totp_device_confirmed(user) if token.made_with_second_factor else None
        if device is None or device.pk != token.made_with_device_id:
            return RevokeReason.AUTHENTICATOR
    if token.expires_at <= now:
        return "expired"
    return ""


def api_token_user(key: str, request: HttpRequest | None = None) -> User | None:
    """The active user behind a bearer key, or None (unknown, revoked, expired, user
    deactivated, a two-factor user's token without a live code behind it). A token found dead
    for a reason that outlasts the moment (deactivation, a reset authenticator) is revoked now,
    so that it stays dead. A live one records its use."""
    token = (
        ApiToken.objects.select_related("user", "user__jurisdiction_area")
        .filter(key_hash=hashlib.sha256(key.encode()).hexdigest(), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    dead = token_dead_reason(token, now=now)
    if dead in (RevokeReason.DEACTIVATED, RevokeReason.AUTHENTICATOR):
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=dead
        )
    if dead:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > (
        LAST_USE_EVERY_SECONDS
    ):
        ApiToken.objects.filter(pk=token.pk).update(
            last_used_at=now, last_used_ip=client_ip(request)
        )
    return token.user


def _may_act_on(actor: User, token: ApiToken) -> bool:
    return token.user_id == actor.pk or users_managed_by(actor).filter(pk=token.user_id).exists()


@transaction.atomic
def api_token_revoke(
    *, actor: User, token: ApiToken, request: HttpRequest | None = None
) -> ApiToken:
    """Revoke one token: by its owner (a lost phone) or an admin who manages the owner."""
    if not _may_act_on(actor, token):
        raise PermissionDenied
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_reason = (
            RevokeReason.OWNER if actor.pk == token.user_id else RevokeReason.ADMIN
        )
        token.save(update_fields=["revoked_at", "revoked_reason"])
        audit_write(
            user=actor,
            action="api_token.revoke",
            obj=token,
            request=request,
            detail={"owner": token.user_id, "reason": token.revoked_reason},
        )
    return token


@transaction.atomic
def api_token_renew(
    *, actor: User, token: ApiToken, request: HttpRequest | None = None
) -> ApiToken:
    """Another API_TOKEN_DAYS (at most the account's limit) from now, for a live token of the
    actor's own: renewing takes a login (and, for two-factor users, a verified session)."""
    if token.user_id != actor.pk:
        raise PermissionDenied
    if token_dead_reason(token) not in ("", "expired"):
        raise PermissionDenied
    token.expires_at = timezone.now() + timedelta(days=min(API_TOKEN_DAYS, _max_days(actor)))
    token.save(update_fields=["expires_at"])
    audit_write(user=actor, action="api_token.renew", obj=token, request=request)
    return token


def api_tokens_revoke_all(
    *,
    user: User,
    reason: str,
    actor: User | None = None,
    request: HttpRequest | None = None,
    second_factor_only: bool = False,
) -> int:
    """Revoke every live token of `user` (those made with a code only, for a reset
    authenticator); one audit row says how many and why."""
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if second_factor_only:
        live = live.filter(Q(made_with_second_factor=True) | Q(made_with_device__isnull=False))
    count = live.update(revoked_at=timezone.now(), revoked_reason=reason)
    if count:
        audit_write(
            user=actor or user,
            action="api_token.revoke_all",
            object_type="accounts.user",
            object_id=user.pk,
            request=request,
            detail={"tokens": count, "reason": reason},
        )
    return count


class RevokeTokensOnPasswordChange:
    """A password validator that validates nothing: Django calls `password_changed` of every
    validator in AUTH_PASSWORD_VALIDATORS when a user is saved after `set_password`, whichever
    path changed it. A password change is exactly when a stolen device's token must stop."""

    def validate(self, password, user=None):
        return None

    def get_help_text(self) -> str:
        return ""

    def password_changed(self, password, user=None):
        if user is not None and user.pk is not None:
            api_tokens_revoke_all(user=user, reason=RevokeReason.PASSWORD)
