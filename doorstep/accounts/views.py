import tempfile
from base64 import b32encode
from pathlib import Path
from textwrap import wrap
from urllib.parse import urlencode

import segno
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from doorstep.core.middleware import public_view
from doorstep.core.sheets.reading import UnreadableFile

from .forms import TwoFactorCodeForm
from .selectors import totp_device_confirmed, two_factor_required, two_factor_verified
from .services import (
    TwoFactorOutcome,
    may_manage_users,
    totp_device_start_enrolment,
    two_factor_enrol_confirm,
    two_factor_verify,
    users_import,
)

login_view = public_view(
    auth_views.LoginView.as_view(
        template_name="accounts/login.html", redirect_authenticated_user=True
    )
)
logout_view = auth_views.LogoutView.as_view()
password_change_view = auth_views.PasswordChangeView.as_view(
    template_name="accounts/password_change.html", success_url="/accounts/password/done/"
)
password_change_done_view = auth_views.PasswordChangeDoneView.as_view(
    template_name="accounts/password_change_done.html"
)


def users_import_view(request):
    """Create accounts in bulk from a sheet (admins of street, community, command)."""
    if not may_manage_users(request.user):
        raise PermissionDenied
    context = {"result": None, "error": ""}
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["error"] = _("choose a file")
        else:
            with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix) as handle:
                for chunk in upload.chunks():
                    handle.write(chunk)
                handle.flush()
                try:
                    context["result"] = users_import(
                        admin=request.user, path=Path(handle.name), request=request
                    )
                except UnreadableFile as error:
                    context["error"] = str(error)
    return render(request, "accounts/users_import.html", context)


def _two_factor_messages() -> dict[TwoFactorOutcome, str]:
    return {
        TwoFactorOutcome.WRONG_CODE: _(
            "That code is not right. Check that your phone's clock is correct and enter the"
            " newest code."
        ),
        TwoFactorOutcome.THROTTLED: _(
            "Too many wrong codes in a row: wait a little, then enter the newest code."
        ),
    }


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


@never_cache
def two_factor_verify_view(request):
    """Second step of logging in for command and admin accounts: the code from their app."""
    user = request.user
    next_url = _next_url(request)
    if not two_factor_required(user) or two_factor_verified(user):
        return redirect(next_url)
    if totp_device_confirmed(user) is None:
        return redirect(_with_next("accounts:two_factor_enrol", next_url))
    form = TwoFactorCodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        outcome = two_factor_verify(request=request, user=user, code=form.cleaned_data["code"])
        if outcome == TwoFactorOutcome.VERIFIED:
            return redirect(next_url)
        if outcome == TwoFactorOutcome.LOCKED_OUT:
            return get_lockout_response(request, None, {"username": user.get_username()})
        error = _two_factor_messages()[outcome]
    context = {"form": form, "error": error, "next": next_url}
    return render(request, "accounts/two_factor_verify.html", context)


@never_cache
def two_factor_enrol_view(request):
    """First login of a command or admin account: scan the secret into an authenticator app and
    prove it with a code. Only while the account has no confirmed device."""
    user = request.user
    next_url = _next_url(request)
    if not two_factor_required(user) or two_factor_verified(user):
        return redirect(next_url)
    if totp_device_confirmed(user) is not None:
        return redirect(_with_next("accounts:two_factor_verify", next_url))
    device = totp_device_start_enrolment(user=user, request=request)
    form = TwoFactorCodeForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        outcome = two_factor_enrol_confirm(
            request=request, user=user, code=form.cleaned_data["code"]
        )
        if outcome == TwoFactorOutcome.VERIFIED:
            return redirect(next_url)
        if outcome == TwoFactorOutcome.LOCKED_OUT:
            return get_lockout_response(request, None, {"username": user.get_username()})
        error = _two_factor_messages()[outcome]
    context = {
        "form": form,
        "error": error,
        "next": next_url,
        # An image in a data URI: the page's CSP allows data: images and no inline script.
        "qr_data_uri": segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2),
        "secret_groups": wrap(b32encode(device.bin_key).decode(), 4),
    }
    return render(request, "accounts/two_factor_enrol.html", context)
