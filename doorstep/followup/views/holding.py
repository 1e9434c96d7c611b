"""The community's holding list of checks recorded offline (issue 14, point 7): checks a worker
saved on the phone for a key person who was given to another worker or community before the
check arrived. The admins who now answer for the key person accept (it becomes the sender's
check, at the phone's time) or discard it with a reason. The logic is holding.py's."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from doorstep.core.masking import mask_id_number
from doorstep.core.ratelimit import write_refused
from doorstep.core.urlaccess import SCOPED, access
from doorstep.screening.rules import SYMPTOMS

from .. import holding, schedule, services
from ..models import CheckMethod, CheckOutcome, HeldCheck, HeldCheckState
from .common import PAGE_SIZE, user_of
from .field import slot_labels


def _summary(row: HeldCheck, labels: list[str]) -> dict[str, object]:
    """What the kept form says: slot, outcome, temperature, symptoms, method (as the page
    would read it; a damaged form says so)."""
    try:
        data = holding.held_check_input(row)
    except services.FollowupRefused as refused:
        return {"damaged": refused.message}
    if data.slot_date is not None and data.slot is not None:
        slot = schedule.Slot(data.slot_date, data.slot)
    else:
        slot = schedule.slot_of(data.measured_at)
    return {
        "slot_day": slot.day,
        "slot_label": labels[slot.index] if slot.index < len(labels) else str(slot.index + 1),
        "unreachable": data.outcome == CheckOutcome.UNREACHABLE,
        "temperature": data.temperature or "",
        "symptoms": [str(SYMPTOMS.get(s, s)) for s in data.symptoms if s],
        "method": dict(CheckMethod.choices).get(data.method, data.method),
    }


@access(SCOPED)
def held_checks_view(request: HttpRequest) -> HttpResponse:
    """Checks recorded offline that wait for the community's decision."""
    user = user_of(request)
    rows = holding.held_checks_visible_to(user)
    state = request.GET.get("state", HeldCheckState.HELD)
    if state in HeldCheckState.values:
        rows = rows.filter(state=state)
    page = Paginator(rows, PAGE_SIZE, allow_empty_first_page=True).get_page(request.GET.get("page"))
    held = list(page.object_list)
    labels = slot_labels()
    for row in held:
        row.summary = _summary(row, labels)  # type: ignore[attr-defined]
        person = row.key_person.person
        row.id_masked = mask_id_number(person.shown_id_number)  # type: ignore[attr-defined]
    return render(
        request,
        "followup/held.html",
        {
            "page": page,
            "held": held,
            "state": state,
            "states": [
                ("held", _("Waiting")),
                ("accepted", _("Accepted")),
                ("discarded", _("Discarded")),
                ("all", _("All")),
            ],
        },
    )


@access(SCOPED)
@require_POST
def held_check_decide_view(request: HttpRequest, held_id: int) -> HttpResponse:
    """Accept a held check (it becomes the sender's check of its slot) or discard it with a
    reason."""
    user = user_of(request)
    held = holding.access_held_check(user, held_id)
    decision = request.POST.get("decision", "")
    try:
        if decision == "accept":
            check = holding.held_check_accept(user=user, held=held, request=request)
            message = _("Accepted: the check is recorded as %(name)s's.") % {
                "name": held.sender.display_name
            }
            if check.late:
                message += " " + _("It is marked late (its slot had ended).")
            messages.success(request, message)
        elif decision == "discard":
            holding.held_check_discard(
                user=user, held=held, note=request.POST.get("note", ""), request=request
            )
            messages.success(request, _("Discarded; the worker's phone is told why."))
        else:
            return HttpResponseBadRequest(_("unknown decision"))
    except services.FollowupRefused as refused:
        if refused.field == "state":  # the check service counts its own refusals
            write_refused(request, reason="held check state")
        messages.error(request, refused.message)
    except services.CheckConflict as conflict:  # counted by the check service
        messages.error(request, str(conflict))
    except ValidationError as invalid:
        write_refused(request, reason="held check")
        messages.error(request, " ".join(invalid.messages))
    return redirect(reverse("followup:held_checks"))
