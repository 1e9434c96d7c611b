"""Bulletin pages: the staff's list, draft, edit, approve, publish and correct (command role, their
district only, 404 otherwise), and the public pages without login: the list, one bulletin, a JSON
feed and an Atom feed. The public side reads only published bulletins, whose table has been
through disclosure control; it carries no personal data."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from doorstep.core.urlaccess import PUBLIC, SCOPED, access

from . import bulletins, selectors
from .models import Bulletin, BulletinStatus


def _staff(request: HttpRequest) -> None:
    if not selectors.is_command(request.user):  # type: ignore[arg-type]
        raise Http404


@access(SCOPED)
@require_http_methods(["GET", "POST"])
def bulletin_list(request: HttpRequest) -> HttpResponse:
    _staff(request)
    error = ""
    # what the form shows: today and the default k, or what was typed when a draft is refused
    typed = {"date": timezone.localdate().isoformat(), "k": str(settings.DOORSTEP_BULLETIN_K)}
    if request.method == "POST":
        typed = {
            "date": (request.POST.get("date") or "")[:10],
            "k": (request.POST.get("k") or "")[:3],
        }
        try:
            day = datetime.date.fromisoformat(typed["date"])
            k = int(typed["k"] or 0) or None
            bulletin = bulletins.bulletin_draft(
                user=request.user,  # type: ignore[arg-type]
                day=day,
                k=k,
                request=request,
            )
            return redirect("command:bulletin", bulletin.pk)
        except ValueError as refusal:
            error = (
                str(refusal)
                if isinstance(refusal, bulletins.BulletinRefused)
                else _("give a date (YYYY-MM-DD) and k between 3 and 11")
            )
    rows = selectors.bulletins_visible_to(request.user).select_related("author", "approved_by")  # type: ignore[arg-type]
    context = {"bulletins": rows[:100], "error": error, "typed": typed}
    return render(request, "command/bulletins.html", context, status=400 if error else 200)


@access(SCOPED)
@require_http_methods(["GET", "POST"])
def bulletin_detail(request: HttpRequest, bulletin_id: int) -> HttpResponse:
    _staff(request)
    bulletin = selectors.access_bulletin(request.user, bulletin_id)  # type: ignore[arg-type]
    error = ""
    typed: dict[str, str] = {}  # a refused edit or correction shows what was typed
    if request.method == "POST":
        action = request.POST.get("action", "")
        user = request.user
        try:
            if action == "edit":
                k_raw = request.POST.get("k") or ""
                bulletin = bulletins.bulletin_edit(
                    user=user,  # type: ignore[arg-type]
                    bulletin=bulletin,
                    title=request.POST.get("title", ""),
                    body=request.POST.get("body", ""),
                    k=int(k_raw) if k_raw.isdigit() else None,
                    request=request,
                )
            elif action == "approve":
                bulletin = bulletins.bulletin_approve(user=user, bulletin=bulletin, request=request)  # type: ignore[arg-type]
            elif action == "publish":
                bulletin = bulletins.bulletin_publish(user=user, bulletin=bulletin, request=request)  # type: ignore[arg-type]
            elif action == "correct":
                correction = bulletins.bulletin_draft(
                    user=user,  # type: ignore[arg-type]
                    day=bulletin.day,
                    k=bulletin.k,
                    corrects=bulletin,
                    correction_note=request.POST.get("note", ""),
                    request=request,
                )
                return redirect("command:bulletin", correction.pk)
            else:
                raise bulletins.BulletinRefused(_("unknown action"))
            return redirect("command:bulletin", bulletin.pk)
        except bulletins.BulletinRefused as refusal:
            error = str(refusal)
            bulletin.refresh_from_db()
            typed = {f: request.POST.get(f, "") for f in ("title", "body", "note")}
            typed["k"] = (request.POST.get("k") or "")[:3]
            typed["action"] = action
    context = {
        "bulletin": bulletin,
        "error": error,
        "typed": typed,
        "labels": bulletins.measure_labels(),
        "is_author": bulletin.author_id == request.user.pk,
    }
    return render(request, "command/bulletin.html", context, status=400 if error else 200)


# -- public ------------------------------------------------------------------------------------
def _public_json(bulletin: Bulletin, request: HttpRequest) -> dict[str, Any]:
    return {
        "id": bulletin.pk,
        "url": request.build_absolute_uri(reverse("bulletin_public", args=[bulletin.pk])),
        "district": bulletin.district.name,
        "day": bulletin.day.isoformat(),
        "version": bulletin.version,
        "corrects": bulletin.corrects_id,
        "correction_note": bulletin.correction_note,
        "title": bulletin.title,
        "text": bulletin.body,
        "published_at": bulletin.published_at.isoformat() if bulletin.published_at else None,
        "k": bulletin.k,
        "markers": {
            f"<{bulletin.k}": _("a count from 1 to %(n)d, hidden") % {"n": bulletin.k - 1},
            "×": _("hidden so that another hidden count cannot be worked out"),
        },
        "table": bulletin.table,
    }


@access(PUBLIC)
def bulletin_public_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.published_bulletins().order_by("-day", "-version")[:100]
    return render(request, "command/public_list.html", {"bulletins": rows})


@access(PUBLIC)
def bulletin_public(request: HttpRequest, bulletin_id: int) -> HttpResponse:
    bulletin = selectors.access_published_bulletin(bulletin_id)
    context = {
        "bulletin": bulletin,
        "labels": bulletins.measure_labels(),
        "corrected_by": Bulletin.objects.filter(
            corrects=bulletin, status=BulletinStatus.PUBLISHED
        ).first(),
    }
    return render(request, "command/public_bulletin.html", context)


@access(PUBLIC)
def bulletin_feed_json(request: HttpRequest) -> JsonResponse:
    rows = selectors.published_bulletins().order_by("-published_at")[:50]
    return JsonResponse(
        {"bulletins": [_public_json(b, request) for b in rows]},
        json_dumps_params={"ensure_ascii": False},
    )


class BulletinAtomFeed(Feed):  # type: ignore[type-arg]
    feed_type = Atom1Feed
    link = "/bulletins/"

    def title(self) -> str:
        return _("Epidemic screening bulletins")

    def subtitle(self) -> str:
        return _("Published bulletins, newest first")

    def items(self) -> Any:
        return selectors.published_bulletins().order_by("-published_at")[:50]

    def item_title(self, item: Bulletin) -> str:
        return f"{item.title} (v{item.version})"

    def item_description(self, item: Bulletin) -> str:
        note = f"\n{_('Correction')}: {item.correction_note}" if item.correction_note else ""
        return item.body + note

    def item_link(self, item: Bulletin) -> str:
        return reverse("bulletin_public", args=[item.pk])

    def item_pubdate(self, item: Bulletin) -> datetime.datetime | None:
        return item.published_at

    def item_updateddate(self, item: Bulletin) -> datetime.datetime | None:
        return item.published_at


bulletin_feed_atom = access(PUBLIC)(BulletinAtomFeed())
