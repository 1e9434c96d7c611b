"""Deny by default: every page needs a logged-in user unless its view is marked public."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login


def public_view(view):
    """Mark a view as reachable without login (login page, self-report links, health check)."""
    view.doorstep_public = True
    return view


class LoginRequiredByDefaultMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "doorstep_public", False):
            return None
        path = request.path_info
        if path.startswith(settings.STATIC_URL) or path.startswith("/api/"):
            # The API authenticates itself (session or token) and answers 401, not a redirect.
            return None
        if request.user.is_authenticated:
            return None
        return redirect_to_login(request.get_full_path())
