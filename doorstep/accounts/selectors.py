"""Accounts reads: who must prove a second factor, and the one TOTP device that proves it."""

from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Role, User

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
