"""Accounts reads: who must prove a second factor, and the one TOTP device that proves it."""

from django.db.models import Q, QuerySet
from django.http import Http404
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.core.db import prefix_q

from .models import AREA_LESS_ROLES, AREA_ROLE_LEVELS, ROSTER_MANAGER_ROLES, ApiToken, Role, User

# One authenticator per account: enrolment creates it under this name, verification uses it.
TOTP_DEVICE_NAME = "authenticator"


def two_factor_required(user: User) -> bool:
    """Command staff see the whole district, and staff reach the Django admin: a stolen password
    alone must not be enough for them."""
    return bool(
        user.is_authenticated
        and user.is_active
        and (user.role == Role.COMMAND or user.is_staff or user.is_superuser)
    )


def two_factor_verified(user: User) -> bool:
    """Whether this request's session was verified by the user's device (set by django-otp's
    OTPMiddleware; a user object that never went through it is not verified)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def totp_device_confirmed(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, or None while they have not enrolled one."""
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_device_pending(user: User) -> TOTPDevice | None:
    """The authenticator shown during enrolment and not yet confirmed with a code."""
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()


def users_managed_by(admin: User) -> QuerySet[User]:
    """The accounts an admin manages (resets a password, revokes tokens, deactivates): those of
    a lower rank inside the admin's jurisdiction; for the command also the roles that have no
    area (only the command manages those). Never staff or superusers (the Django admin's
    business), never the admin's peers."""
    if (
        not admin.is_authenticated
        or not admin.is_active
        or admin.role not in ROSTER_MANAGER_ROLES
        or admin.jurisdiction_area is None
    ):
        return User.objects.none()
    level = AREA_ROLE_LEVELS[admin.role]
    below = [role for role, lower in AREA_ROLE_LEVELS.items() if lower > level]
    managed = Q(role__in=below) & prefix_q("jurisdiction_area__path", admin.jurisdiction_area.path)
    if admin.role == Role.COMMAND:
        managed |= Q(role__in=AREA_LESS_ROLES, jurisdiction_area__isnull=True)
    return (
        User.objects.filter(managed, is_staff=False, is_superuser=False)
        .exclude(pk=admin.pk)
        .select_related("jurisdiction_area")
    )


def roles_assignable_by(admin: User) -> list[str]:
    """The roles an admin may give an account they manage: those below their own rank, and for
    the command the roles without an area (the same accounts `users_managed_by` lets them
    manage, so that an edit never moves an account out of its admin's hands unnoticed)."""
    if not admin.is_authenticated or admin.role not in ROSTER_MANAGER_ROLES:
        return []
    level = AREA_ROLE_LEVELS[Role(admin.role)]
    roles = [role.value for role, lower in AREA_ROLE_LEVELS.items() if lower > level]
    if admin.role == Role.COMMAND:
        roles += [role.value for role in AREA_LESS_ROLES]
    return roles


def access_managed_user(admin: User, user_id) -> User:
    try:
        return users_managed_by(admin).get(pk=user_id)
    except (User.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """A user's tokens, newest first (the caller has checked it may see them: the user
    themselves, or an admin through access_managed_user)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def grid_workers(grid_id: int) -> QuerySet[User]:
    """The active grid workers of a grid (the accounts whose jurisdiction is that grid)."""
    return User.objects.filter(
        role=Role.GRID_WORKER, is_active=True, jurisdiction_area_id=grid_id
    ).order_by("full_name", "username")
