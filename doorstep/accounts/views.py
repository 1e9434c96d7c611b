import tempfile
from base64 import b32encode
from pathlib import Path
from textwrap import wrap
from urllib.parse import urlencode

import segno
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from doorstep.core.middleware import public_view
from doorstep.core.sheets.reading import UnreadableFile
from doorstep.core.uploads import upload_refusal
from doorstep.core.urlaccess import AUTHENTICATED, SCOPED, access

from .forms import TwoFactorCodeForm
from .managed import user_active_set, user_password_reset
from .models import RevokeReason, Role
from .selectors import (
    access_managed_user,
    api_tokens_of,
    roles_assignable_by,
    totp_device_confirmed,
    two_factor_required,
    two_factor_verified,
    users_managed_by,
)
from .services import (
    TwoFactorOutcome,
    may_manage_users,
    password_changed_by_owner,
    totp_device_start_enrolment,
    two_factor_enrol_confirm,
    two_factor_verify,
    user_update,
    users_import,
)
from .tokens import api_token_renew, api_token_revoke, api_tokens_revoke_all, token_dead_reason

DEAD_LABELS = {**dict(RevokeReason.choices), "expired": gettext_lazy("expired")}

login_view = public_view(
    auth_views.LoginView.as_view(
        template_name="accounts/login.html", redirect_authenticated_user=True
    )
)
logout_view = auth_views.LogoutView.as_view()


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = "/accounts/password/done/"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["must_change"] = self.request.user.must_change_password
        return context

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed_by_owner(user=self.request.user, request=self.request)
        return response


password_change_view = PasswordChangeView.as_view()
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
        if reason := upload_refusal(request):
            context["error"] = reason
            return render(request, "accounts/users_import.html", context, status=413)
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


# -- API tokens and the accounts an admin manages ---------------------------------------------
def _token_rows(tokens) -> list[dict]:
    now = timezone.now()
    rows = []
    for token in tokens:
        dead = token_dead_reason(token, now=now)
        label = DEAD_LABELS.get(dead, "") if dead else ""
        rows.append({"token": token, "live": not dead, "state": label or _("active")})
    return rows


def _token_of(tokens, token_id: str):
    token = tokens.filter(pk=token_id).first() if token_id.isdigit() else None
    if token is None:
        raise Http404
    return token


@access(AUTHENTICATED)
@never_cache
def tokens_view(request):
    """Your own API tokens (a field phone, a dashboard): when each was made and last used (and
    from where), when it expires; revoke one (a lost phone) or renew it for another stretch."""
    user = request.user
    tokens = api_tokens_of(user).select_related("user")
    if request.method == "POST":
        token = _token_of(tokens, request.POST.get("token", ""))
        action = request.POST.get("action")
        if action == "revoke":
            api_token_revoke(actor=user, token=token, request=request)
            messages.success(request, _("The token %(t)s no longer works.") % {"t": token})
        elif action == "renew":
            try:
                api_token_renew(actor=user, token=token, request=request)
            except PermissionDenied:
                messages.error(request, _("A revoked token cannot be renewed."))
            else:
                messages.success(request, _("The token %(t)s was renewed.") % {"t": token})
        return redirect("accounts:tokens")
    return render(request, "accounts/tokens.html", {"rows": _token_rows(tokens)})


@access(SCOPED)
def users_view(request):
    """The accounts this admin manages, with what each may need: a new password, its tokens
    revoked, deactivation."""
    admin = request.user
    if not may_manage_users(admin):
        raise PermissionDenied
    live = Q(api_tokens__revoked_at__isnull=True, api_tokens__expires_at__gt=timezone.now())
    users = users_managed_by(admin).annotate(live_tokens=Count("api_tokens", filter=live))
    page = Paginator(
        users.order_by("-is_active", "jurisdiction_area__path", "role", "username"), 100
    ).get_page(request.GET.get("page"))
    return render(request, "accounts/users.html", {"page": page})


@access(SCOPED)
@never_cache
def user_detail_view(request, user_id: int):
    admin = request.user
    # Someone they do not manage (or who manages nobody) looks exactly like nobody.
    user = access_managed_user(admin, user_id)
    tokens = api_tokens_of(user).select_related("user")
    password = ""
    edit_errors: dict[str, list[str]] = {}
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "edit":
            try:
                user_update(
                    admin=admin,
                    user=user,
                    full_name=request.POST.get("full_name", ""),
                    phone=request.POST.get("phone", ""),
                    role=request.POST.get("role", ""),
                    area_code=request.POST.get("area_code", ""),
                    request=request,
                )
            except ValidationError as error:
                edit_errors = error.message_dict
                user.refresh_from_db()
            else:
                messages.success(request, _("Saved."))
                return redirect("accounts:user_detail", user_id=user.pk)
        elif action == "revoke":
            api_token_revoke(
                actor=admin, token=_token_of(tokens, request.POST.get("token", "")), request=request
            )
            messages.success(request, _("The token no longer works."))
        elif action == "revoke_all":
            count = api_tokens_revoke_all(
                user=user, reason=RevokeReason.ADMIN, actor=admin, request=request
            )
            messages.success(request, _("%(n)d tokens revoked.") % {"n": count})
        elif action == "password":
            password = user_password_reset(admin=admin, user=user, request=request)
        elif action in ("deactivate", "reactivate"):
            user_active_set(admin=admin, user=user, active=action == "reactivate", request=request)
            messages.success(request, _("Saved."))
        else:
            return HttpResponseBadRequest(_("unknown action"))
        if not password and not edit_errors:
            return redirect("accounts:user_detail", user_id=user.pk)
    roles = dict(Role.choices)
    context = {
        "account": user,
        "rows": _token_rows(tokens),
        "password": password,
        "edit_errors": edit_errors,
        "typed": request.POST if edit_errors else {},
        "roles": [(role, roles[role]) for role in roles_assignable_by(admin)],
    }
    status = 400 if edit_errors else 200
    return render(request, "accounts/user_detail.html", context, status=status)
