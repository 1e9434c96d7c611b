"""Offline field pages (issue 14): the service worker script, served at /campaigns/sw.js so
that its scope covers the worker's list and visit forms (static files live under /static/,
whose scope would not); the community's holding list of visits recorded offline that could
not be recorded as sent."""

import json

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from doorstep.accounts.selectors import grid_workers
from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.ratelimit import write_refused
from doorstep.core.urlaccess import PUBLIC, SCOPED, access
from doorstep.registry.selectors import persons_visible_to

from .. import outbox, selectors
from ..models import HeldState, Presence
from ..rules import SYMPTOMS
from ..services import VisitConflict, VisitRejected, VisitTaken

# What the field pages load: kept by the service worker at install, so a page read from the
# cache offline finds its styles and scripts.
OFFLINE_STATIC = (
    "doorstep/doorstep.css",
    "doorstep/htmx-2.0.4.min.js",
    "doorstep/doorstep.js",
    "screening/field.js",
    "screening/list.js",
    "screening/outbox-db.js",
    "screening/offline.js",
)
SCOPE = "/campaigns/"


@access(PUBLIC)  # the script itself: no data; the pages it keeps are fetched with the session
@require_GET
def service_worker_view(request, scope: str = SCOPE):
    path = finders.find("screening/sw.js")
    with open(path, encoding="utf-8") as source:  # type: ignore[arg-type]
        body = source.read()
    head = "var DOORSTEP_STATIC = {};\nvar DOORSTEP_OUTBOX_DB = {};\n".format(
        json.dumps([static(name) for name in OFFLINE_STATIC]),
        json.dumps(static("screening/outbox-db.js")),
    )
    response = HttpResponse(head + body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = scope
    response["Cache-Control"] = "no-cache"
    return response


# -- the holding list ------------------------------------------------------------------------
def _form_summary(held, members: dict[int, str]) -> list[dict]:
    """Each person of a held form: who, presence, temperature, symptoms (numbers masked)."""
    persons: dict[str, dict] = {}
    for name, value in held.form:
        key, _sep, field = str(name).partition("-")
        if not field or key[:1] not in ("p", "n") or not key[1:].isdigit():
            continue
        entry = persons.setdefault(key, {"key": key, "symptoms": []})
        if field == "symptoms":
            entry["symptoms"].append(str(SYMPTOMS.get(value, value)))
        else:
            entry[field] = value
    rows = []
    for key, entry in persons.items():
        if key.startswith("p"):
            entry["who"] = members.get(int(key[1:]), "")
        else:
            if not entry.get("name", "").strip():
                continue
            entry["who"] = entry["name"]
            entry["is_new"] = True
            entry["id_number"] = mask_id_number(entry.get("id_number", ""))
            entry["phone"] = mask_phone(entry.get("phone", ""))
        entry["presence_label"] = dict(Presence.choices).get(entry.get("presence", ""), "")
        rows.append(entry)
    return rows


@access(SCOPED)
def held_visits_view(request, campaign_id: int):
    """Visits recorded offline that wait for the community's decision (issue 14)."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    rows = selectors.held_visits_visible_to(request.user, campaign).select_related("visit__worker")
    state = request.GET.get("state", HeldState.HELD)
    if state in HeldState.values:
        rows = rows.filter(state=state)
    page = Paginator(rows, 50, allow_empty_first_page=True).get_page(request.GET.get("page"))
    held = list(page.object_list)
    names = dict(
        persons_visible_to(request.user)
        .filter(household_id__in={h.household_id for h in held})
        .values_list("pk", "name")
    )
    # Whom each waiting record can be given to: the active workers of its household's grid.
    workers_of: dict[int, list] = {}
    for row in held:
        row.persons = _form_summary(row, names)  # type: ignore[attr-defined]
        if row.state == HeldState.HELD:
            grid = row.household.grid_id
            if grid not in workers_of:
                workers_of[grid] = list(grid_workers(grid))
            row.workers = [w for w in workers_of[grid] if w.pk != row.worker_id]  # type: ignore[attr-defined]
    return render(
        request,
        "screening/held/list.html",
        {
            "campaign": campaign,
            "page": page,
            "held": held,
            "state": state,
            "states": [
                ("held", _("Waiting")),
                ("accepted", _("Accepted")),
                ("rejected", _("Not accepted")),
                ("all", _("All")),
            ],
        },
    )


@access(SCOPED)
@require_POST
def held_visit_decide_view(request, campaign_id: int, held_id: int):
    """Accept a held visit (it becomes the original worker's visit), reassign it to another
    worker of the household's grid (it becomes theirs), or reject it with a reason."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    held = selectors.access_held_visit(request.user, campaign, held_id)
    decision = request.POST.get("decision", "")
    try:
        if decision == "accept":
            outbox.held_visit_accept(user=request.user, held=held, request=request)
            messages.success(request, _("Accepted: the visit is recorded as the worker's."))
        elif decision == "reassign":
            visit = outbox.held_visit_reassign(
                user=request.user, held=held, worker_id=request.POST.get("worker"), request=request
            )
            messages.success(
                request,
                _("Reassigned: the visit is recorded as %(name)s's.")
                % {"name": visit.worker.display_name if visit.worker else ""},
            )
        elif decision == "reject":
            outbox.held_visit_reject(
                user=request.user, held=held, note=request.POST.get("note", ""), request=request
            )
            messages.success(request, _("Rejected; the worker's phone is told why."))
        else:
            return HttpResponseBadRequest(_("unknown decision"))
    except VisitRejected as refused:
        if refused.field in ("form", "state"):  # the visit service counts its own refusals
            write_refused(request, reason=f"held {refused.field}")
        messages.error(request, refused.message)
    except (VisitConflict, VisitTaken) as refused:  # counted by the visit service
        messages.error(request, str(refused))
    except ValidationError as invalid:
        write_refused(request, reason="held")
        messages.error(request, " ".join(invalid.messages))
    return redirect(reverse("screening:held_visits", args=[campaign.pk]))
