"""Every export of personal data states its purpose, and the purpose goes into the audit.

A download link first answers a short form asking why; the form sends the purpose back to the
same URL (GET, so a print page can be reloaded), and only then is the file or page made.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

PURPOSE_MAX_LENGTH = 200


def export_purpose(request: HttpRequest) -> str:
    """The purpose sent with the request (form field or query), trimmed; "" when none."""
    value = request.POST.get("purpose") or request.GET.get("purpose") or ""
    return " ".join(value.split())[:PURPOSE_MAX_LENGTH]


def ask_purpose(
    request: HttpRequest, *, title: str, note: str = "", method: str = "get"
) -> HttpResponse:
    """The form that asks for the purpose, sent back to the same URL with the request's other
    query parameters. `method="post"` for a download that should not be a link (the coverage
    exports); a GET form lets a print page be reloaded."""
    keep = [(k, v) for k, v in request.GET.items() if k != "purpose"]
    missing = "purpose" in request.GET or "purpose" in request.POST
    context = {"title": title, "note": note, "keep": keep, "missing": missing, "method": method}
    return render(request, "core/export_purpose.html", context, status=400 if missing else 200)
