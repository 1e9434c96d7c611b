"""Two-factor helpers for tests: a confirmed authenticator, the codes it would show, and a
session already verified by it (what logging in with password and code leaves behind)."""

import time

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import hotp
from django_otp.plugins.otp_totp.models import TOTPDevice

from doorstep.accounts.selectors import (
    TOTP_DEVICE_NAME,
    totp_device_confirmed,
    two_factor_required,
)
from doorstep.accounts.services import api_token_create


def confirmed_device(user) -> TOTPDevice:
    """The user's authenticator, as if they had enrolled it."""
    return totp_device_confirmed(user) or TOTPDevice.objects.create(
        user=user, name=TOTP_DEVICE_NAME, confirmed=True
    )


def _step_now(device: TOTPDevice) -> int:
    return (int(time.time()) - device.t0) // device.step + device.drift


def _code_at(device: TOTPDevice, step: int) -> str:
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


def fresh_code(device: TOTPDevice) -> str:
    """A code the server accepts now: the current step's, or the next step's when the current
    one was already used (django-otp accepts one step either side, and never a step twice)."""
    device.refresh_from_db()
    return _code_at(device, max(_step_now(device), device.last_t + 1))


def wrong_code(device: TOTPDevice) -> str:
    """Six digits that no step near now would accept."""
    device.refresh_from_db()
    now = _step_now(device)
    near = {_code_at(device, step) for step in range(now - 3, now + 4)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in near)


def verify_session(client, user) -> TOTPDevice:
    """Mark the client's (logged-in) session as verified by the user's authenticator."""
    device = confirmed_device(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


def api_key_for(user, name: str = "test") -> str:
    """A bearer key for any user: made with a code from their authenticator when they log in
    with two factors (as `create_api_token` asks for it)."""
    code = fresh_code(confirmed_device(user)) if two_factor_required(user) else ""
    return api_token_create(user=user, name=name, code=code)[1]
