"""Two-factor login: a command or admin account whose session has not yet been verified by its
authenticator reaches only the steps that verify it (and logging out, and the language switch).
A first or reset password: the account reaches only the password change until its owner has
chosen one.
"""

from urllib.parse import urlencode

from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from doorstep.core.middleware import exempt_from_login, next_target

from .selectors import two_factor_required, two_factor_verified

TWO_FACTOR_STEPS = {
    "accounts:two_factor_verify",
    "accounts:two_factor_enrol",
    "accounts:logout",
    "set_language",
}


class TwoFactorRequiredMiddleware:
    """After django-otp's OTPMiddleware (which sets `user.is_verified()`) and after the
    login-by-default middleware (anonymous visitors were already sent to the login page)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if exempt_from_login(request, view_func):
            return None  # public pages show no personal data to anybody
        user = request.user
        if not two_factor_required(user) or two_factor_verified(user):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in TWO_FACTOR_STEPS:
            return None
        if request.path_info.startswith("/api/"):
            # A session half-way through logging in must not read the API either; bearer-token
            # requests carry no session and are not concerned.
            return JsonResponse({"detail": _("Two-factor verification required.")}, status=403)
        target = (
            f"{reverse('accounts:two_factor_verify')}?{urlencode({'next': next_target(request)})}"
        )
        if getattr(request, "htmx", False):
            # htmx would swap the verify page into a fragment; make it load the whole page.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)


PASSWORD_CHANGE_STEPS = TWO_FACTOR_STEPS | {
    "accounts:password_change",
    "accounts:password_change_done",
}


class PasswordChangeRequiredMiddleware:
    """After the two-factor middleware: a command account proves its second factor first, then
    changes the password its admin handed over."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if exempt_from_login(request, view_func):
            return None
        user = request.user
        if not user.is_authenticated or not getattr(user, "must_change_password", False):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in PASSWORD_CHANGE_STEPS:
            return None
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {"detail": _("Change the password you were given before going on.")}, status=403
            )
        target = reverse("accounts:password_change")
        if getattr(request, "htmx", False):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)
