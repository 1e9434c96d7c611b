"""Deny by default: every page needs a logged-in user unless its view is marked public."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login


def public_view(view):
    """Mark a view as reachable without login (login page, self-report links, health check)."""
    view.doorstep_public = True
    return view


def exempt_from_login(request, view_func) -> bool:
    """Public views and static files: no login, hence no second factor either."""
    return getattr(view_func, "doorstep_public", False) or request.path_info.startswith(
        settings.STATIC_URL
    )


class LoginRequiredByDefaultMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if exempt_from_login(request, view_func):
            return None
        if request.path_info.startswith("/api/"):
            # The API authenticates itself (session or token) and answers 401, not a redirect.
            return None
        if request.user.is_authenticated:
            return None
        return redirect_to_login(request.get_full_path())
