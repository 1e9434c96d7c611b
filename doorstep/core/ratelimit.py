"""Per-user budgets on everything that touches personal data.

A leak rarely needs one forbidden request: it needs many allowed ones (paging through a list,
guessing a search piece by piece, revealing number after number, probing with writes that are
refused). Four budgets, each counted per caller (the user of a session, the API token, else the
real client address) in the default cache, which is Redis in production so that every worker
process shares the counts; django-ratelimit does the counting:

- SCOPED: every request to a scoped endpoint, reads and writes alike (DOORSTEP_RATE_SCOPED);
- SEARCH: every search of the roster (DOORSTEP_RATE_SEARCH);
- REVEAL: every reveal of a full number, every export and printout (DOORSTEP_RATE_REVEAL);
- REFUSED: every refused write (DOORSTEP_RATE_REFUSED): a write answered 4xx, or one that a
  service refused inside an answer that is itself a 200 (an item of a batch, an htmx form).

Over a budget the request is answered 429 with Retry-After, and audited (`rate_limited`). A
refused write is audited too (`write.refused`). The API for other apps:

- `@spends(REVEAL)` (or SEARCH) on a view: each POST to it spends one of that budget first;
- `write_refused(request, reason=...)` where a write is refused without a 4xx answer;
  it returns False once the budget is spent, and `refusals_left(request)` says whether another
  write may still be tried (a batch stops there);
- `too_many(request, budget)` answers the 429 (page or API alike).
"""

import hashlib

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django_ratelimit.core import get_usage

from .clientip import client_ip_address
from .services import audit_write
from .urlaccess import SCOPED, access_class

SCOPED_READS, SEARCH, REVEAL, REFUSED = "scoped", "search", "reveal", "refused"
BUDGET_SETTINGS = {
    SCOPED_READS: "DOORSTEP_RATE_SCOPED",
    SEARCH: "DOORSTEP_RATE_SEARCH",
    REVEAL: "DOORSTEP_RATE_REVEAL",
    REFUSED: "DOORSTEP_RATE_REFUSED",
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def caller_key(group: str, request: HttpRequest) -> str:
    """The user of a session; the token of an API call (its user is known only after the API's
    own authentication, which runs after middleware, so the API marks a request it authenticated
    by token and the count stays on the token); else the real client address."""
    header = request.headers.get("Authorization", "")
    by_token = header.lower().startswith("bearer ") and (
        getattr(request, "doorstep_bearer", False) or not request.user.is_authenticated
    )
    if by_token:
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return "ip:" + (client_ip_address(request) or "")


def rate_of(budget: str) -> str:
    return getattr(settings, BUDGET_SETTINGS[budget])


def _usage(request: HttpRequest, budget: str, *, increment: bool) -> dict:
    return get_usage(
        request,
        group=f"doorstep:{budget}",
        key=caller_key,
        rate=rate_of(budget),
        increment=increment,
    )


def budget_spend(request: HttpRequest, budget: str) -> bool:
    """Count one against the budget; False when that one was over it."""
    return not _usage(request, budget, increment=True)["should_limit"]


def budget_left(request: HttpRequest, budget: str) -> bool:
    """Whether one more would still be inside the budget (counts nothing)."""
    usage = _usage(request, budget, increment=False)
    return usage["count"] < usage["limit"]


def spends(budget: str):
    """Mark a view whose POST spends one of `budget` (REVEAL for reveals, exports and
    printouts; SEARCH for a search form) before the view runs."""
    if budget not in BUDGET_SETTINGS:
        raise ValueError(budget)

    def mark(view):
        view.doorstep_spends = budget
        return view

    return mark


def refusals_left(request: HttpRequest | None) -> bool:
    return request is None or budget_left(request, REFUSED)


def write_refused(request: HttpRequest | None, *, reason: str) -> bool:
    """A write this request asked for was refused: audit it and count it against the budget of
    refused writes. `reason` names the kind of refusal (a status, a field), never a value the
    caller sent. Returns False once the budget is spent."""
    if request is None:
        return True
    request.doorstep_refusals = getattr(request, "doorstep_refusals", 0) + 1
    _audit_url(request, "write.refused", {"reason": reason[:100]})
    return budget_spend(request, REFUSED)


def _audit_url(request: HttpRequest, action: str, detail: dict) -> None:
    """An audit row about the URL the request asked for (by its name, never its query)."""
    match = getattr(request, "resolver_match", None)
    audit_write(
        user=request.user,
        action=action,
        object_type="url",
        object_id=((match.view_name if match else "") or "")[:64],
        request=request,
        detail=detail,
    )


def too_many(request: HttpRequest, budget: str) -> HttpResponse:
    """429 with Retry-After, audited; JSON for the API, text for pages."""
    _audit_url(request, "rate_limited", {"limit": budget, "rate": rate_of(budget)})
    message = _("Too many requests: wait a while, then try again.")
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(_retry_after(rate_of(budget)))
    return response


def _retry_after(rate: str) -> int:
    """Seconds until a fixed window of this rate ("600/m", "100/h") starts again, at most."""
    unit = rate.partition("/")[2] or "m"
    digits = "".join(ch for ch in unit if ch.isdigit())
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(unit[-1:], 60)
    return seconds * (int(digits) if digits else 1)


class PersonalDataRateLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            getattr(request, "doorstep_scoped_write", False)
            and 400 <= response.status_code < 500
            and response.status_code != 429
            and not getattr(request, "doorstep_refusals", 0)
            # A request without valid credentials was refused before any write was tried (and
            # must not be a way to fill the audit trail).
            and request.user.is_authenticated
        ):
            write_refused(request, reason=f"status {response.status_code}")
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if access_class(match.view_name if match else None, view_func) != SCOPED:
            return None
        budgets = [SCOPED_READS]
        special = getattr(view_func, "doorstep_spends", None)
        if special and request.method == "POST":
            budgets.append(special)
        for budget in budgets:
            if not budget_spend(request, budget):
                return too_many(request, budget)
        if request.method in WRITE_METHODS:
            if not refusals_left(request):
                return too_many(request, REFUSED)
            request.doorstep_scoped_write = True
        return None
