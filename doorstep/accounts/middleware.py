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

TWO_FACTOR_STEPS = frozenset(
    {
        "accounts:two_factor_verify",
        "accounts:two_factor_enrol",
        "accounts:logout",
        "set_language",
    }
)
PASSWORD_CHANGE_STEPS = TWO_FACTOR_STEPS | {
    "accounts:password_change",
    "accounts:password_change_done",
}


class _HeldAtStepsMiddleware:
    """A logged-in account held at a few steps until it has done them: pages redirect there,
    the session API answers 403 (bearer-token requests carry no session and are not
    concerned), htmx is told to load the whole step page."""

    steps: frozenset[str] = frozenset()

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def held(self, user) -> bool:
        raise NotImplementedError

    def api_refusal(self) -> str:
        raise NotImplementedError

    def target(self, request) -> str:
        raise NotImplementedError

    def process_view(self, request, view_func, view_args, view_kwargs):
        if exempt_from_login(request, view_func):
            return None  # public pages show no personal data to anybody
        if not self.held(request.user):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in self.steps:
            return None
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": self.api_refusal()}, status=403)
        target = self.target(request)
        if getattr(request, "htmx", False):
            # htmx would swap the step page into a fragment; make it load the whole page.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)


class TwoFactorRequiredMiddleware(_HeldAtStepsMiddleware):
    """After django-otp's OTPMiddleware (which sets `user.is_verified()`) and after the
    login-by-default middleware (anonymous visitors were already sent to the login page)."""

    steps = TWO_FACTOR_STEPS

    def held(self, user) -> bool:
        return two_factor_required(user) and not two_factor_verified(user)

    def api_refusal(self) -> str:
        return _("Two-factor verification required.")

    def target(self, request) -> str:
        next_page = urlencode({"next": next_target(request)})
        return f"{reverse('accounts:two_factor_verify')}?{next_page}"


class PasswordChangeRequiredMiddleware(_HeldAtStepsMiddleware):
    """After the two-factor middleware: a command account proves its second factor first, then
    changes the password its admin handed over."""

    steps = PASSWORD_CHANGE_STEPS

    def held(self, user) -> bool:
        return bool(user.is_authenticated and getattr(user, "must_change_password", False))

    def api_refusal(self) -> str:
        return _("Change the password you were given before going on.")

    def target(self, request) -> str:
        return reverse("accounts:password_change")
