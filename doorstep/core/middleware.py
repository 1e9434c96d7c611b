"""Deny by default: every page needs a logged-in user unless its view is marked public."""

from urllib.parse import unquote_plus

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

from .logging import scrub


def public_view(view):
    """Mark a view as reachable without login (login page, self-report links, health check)."""
    view.doorstep_public = True
    return view


def exempt_from_login(request, view_func) -> bool:
    """Public views and static files: no login, hence no second factor either."""
    return getattr(view_func, "doorstep_public", False) or request.path_info.startswith(
        settings.STATIC_URL
    )


def next_target(request) -> str:
    """Where to come back after logging in (the `next` of a login or second-factor redirect):
    the page asked for, without its query when the query carries a long number (an ID number or
    a phone): that URL would be written into the access log of the redirect's request."""
    query = request.META.get("QUERY_STRING", "")
    if query and scrub(unquote_plus(query)) != unquote_plus(query):
        return request.path
    return request.get_full_path()


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
        return redirect_to_login(next_target(request))
