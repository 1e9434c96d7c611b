"""Every export of personal data states its purpose, and the purpose goes into the audit.

A download or printout link first answers a short form asking why; the form sends the purpose
back to the same URL by POST, with the CSRF token, and only that POST makes the file or the page
(a printout is rendered as the answer to the POST). A purpose in a URL is ignored: a link from
another site cannot write an audit row with its own text, nor make the export. Each export
spends one of the reveal budget (core/ratelimit.py REVEAL).

Use `purpose_or_answer` in every view that exports or prints personal data.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .ratelimit import REVEAL, budget_spend, too_many

PURPOSE_MAX_LENGTH = 200


def export_purpose(request: HttpRequest) -> str:
    """The purpose sent with the request's form (POST only), trimmed; "" when none."""
    if request.method != "POST":
        return ""
    value = request.POST.get("purpose") or ""
    return " ".join(value.split())[:PURPOSE_MAX_LENGTH]


def ask_purpose(request: HttpRequest, *, title: str, note: str = "") -> HttpResponse:
    """The form that asks for the purpose, posted back to the same URL."""
    # A purpose in a link (a cross-site one, say) is refused, not taken.
    missing = request.method == "POST" or "purpose" in request.GET
    context = {"title": title, "note": note, "missing": missing}
    return render(request, "core/export_purpose.html", context, status=400 if missing else 200)


def purpose_or_answer(
    request: HttpRequest, *, title: str, note: str = ""
) -> tuple[str, HttpResponse | None]:
    """(purpose, None) when the request is a POST with a purpose and the reveal budget has room
    for one more export: make it. Otherwise ("", the answer to send): the form asking for the
    purpose, or a 429."""
    purpose = export_purpose(request)
    if not purpose:
        return "", ask_purpose(request, title=title, note=note)
    if not budget_spend(request, REVEAL):
        return "", too_many(request, REVEAL)
    return purpose, None
