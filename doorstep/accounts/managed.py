"""What is done to an account by someone who manages it: a new password, deactivation and
reactivation, a reset authenticator. Each is audited; each takes the account's API tokens with it
(a password change through RevokeTokensOnPasswordChange, the others here)."""

import secrets

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.core.services import audit_write

from .models import RevokeReason, User
from .selectors import users_managed_by
from .tokens import api_tokens_revoke_all


def _check_manages(admin: User, user: User) -> None:
    if not users_managed_by(admin).filter(pk=user.pk).exists():
        raise PermissionDenied


def new_password() -> str:
    """A first or reset password, shown once to the admin who hands it over."""
    return secrets.token_urlsafe(9)


@transaction.atomic
def user_password_reset(*, admin: User, user: User, request: HttpRequest | None = None) -> str:
    """Give a managed account a new random password (shown once). Its sessions end (Django
    checks a session against the password) and its API tokens are revoked."""
    _check_manages(admin, user)
    password = new_password()
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    audit_write(user=admin, action="user.password_reset", obj=user, request=request)
    return password


@transaction.atomic
def user_active_set(
    *, admin: User, user: User, active: bool, request: HttpRequest | None = None
) -> User:
    """Deactivate (its sessions and tokens stop at once, the tokens for good) or reactivate a
    managed account."""
    _check_manages(admin, user)
    if user.is_active == active:
        return user
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        api_tokens_revoke_all(
            user=user, reason=RevokeReason.DEACTIVATED, actor=admin, request=request
        )
    audit_write(
        user=admin,
        action="user.reactivate" if active else "user.deactivate",
        obj=user,
        request=request,
    )
    return user


def user_deactivated(*, user: User, actor: User | None, request: HttpRequest | None = None) -> int:
    """An account was deactivated elsewhere (the Django admin): its tokens go for good."""
    return api_tokens_revoke_all(
        user=user, reason=RevokeReason.DEACTIVATED, actor=actor, request=request
    )


@transaction.atomic
def two_factor_reset(*, user: User, actor: User | None, request: HttpRequest | None = None) -> int:
    """A lost or replaced phone: the account's authenticators are removed (the next login
    enrols a new one) and every token made with a code from them is revoked. Returns the number
    of devices removed. For staff (the Django admin) and the `reset_two_factor` command."""
    devices = TOTPDevice.objects.filter(user=user)
    removed = devices.count()
    api_tokens_revoke_all(
        user=user,
        reason=RevokeReason.AUTHENTICATOR,
        actor=actor,
        request=request,
        second_factor_only=True,
    )
    devices.delete()
    audit_write(
        user=actor,
        action="two_factor.reset",
        obj=user,
        request=request,
        detail={"devices": removed},
    )
    return removed
