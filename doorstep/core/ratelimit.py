"""Per-user rate limits on the endpoints that read personal data.

A leak rarely needs one forbidden request: it needs many allowed ones (paging through a list,
guessing a search piece by piece). Every read of a scoped endpoint counts against the caller's
budget, searches against a tighter one. Over budget → 429 with Retry-After, audited.
The counters live in the default cache, which is Redis in production (shared by every worker
process); django-ratelimit does the counting.
"""

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django_ratelimit.core import is_ratelimited

from .services import audit_write
from .urlaccess import SCOPED, access_class


def caller_key(group: str, request: HttpRequest) -> str:
    """The user for a session; the token for an API call (its user is known only after the
    API's own authentication, which runs after middleware); else the address."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "ip:" + request.META.get("REMOTE_ADDR", "")


def is_search(request: HttpRequest) -> bool:
    return request.method == "GET" and bool(request.GET.get("q", "").strip())


class PersonalDataRateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method not in ("GET", "HEAD"):
            return None  # writes are checked item by item; the budget guards reading
        match = request.resolver_match
        if access_class(match.view_name if match else None, view_func) != SCOPED:
            return None
        limits = [("scoped", settings.DOORSTEP_RATE_SCOPED)]
        if is_search(request):
            limits.append(("search", settings.DOORSTEP_RATE_SEARCH))
        for group, rate in limits:
            if is_ratelimited(
                request, group=f"doorstep:{group}", key=caller_key, rate=rate, increment=True
            ):
                return self.refuse(request, group, rate)
        return None

    def refuse(self, request: HttpRequest, group: str, rate: str) -> HttpResponse:
        audit_write(
            user=request.user,
            action="rate_limited",
            object_type="url",
            object_id=(request.resolver_match.view_name or "")[:64],
            request=request,
            detail={"limit": group, "rate": rate},
        )
        message = _("Too many requests: wait a minute, then try again.")
        if request.path_info.startswith("/api/"):
            response = JsonResponse({"detail": message}, status=429)
        else:
            response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = "60"
        return response
