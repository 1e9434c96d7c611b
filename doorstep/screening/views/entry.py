"""Evening entry (电脑录入): the day's paper forms typed in, keyboard only.

Type a household number, Enter: the members appear as rows (htmx). Tab or Enter moves through
outcome, the time written on the paper, each member's temperature, presence, symptom codes and
notes; Enter on the last field saves. The visit keeps the paper's time as `visited_at`; the
service stamps `entered_at`. Focus then returns to the household number box.
"""

import uuid

from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils.translation import gettext as _

from doorstep.accounts.models import ROSTER_MANAGER_ROLES, Role
from doorstep.core.urlaccess import SCOPED, access
from doorstep.registry.models import PersonStatus
from doorstep.registry.selectors import household_members
from doorstep.registry.services import record_read

from .. import forms, selectors, services
from ..codes import short_code
from ..models import Presence, VisitOutcome, VisitSource
from ..rules import NOT_MEASURED_REASONS, QUESTIONS, SYMPTOMS

ENTRY_ROLES = {*ROSTER_MANAGER_ROLES, Role.GRID_WORKER}


def _campaign(request, campaign_id):
    campaign = selectors.access_campaign(request.user, campaign_id)
    if request.user.role not in ENTRY_ROLES:
        raise PermissionDenied
    return campaign


def _find(user, campaign, number: str):
    """(the progress row of the household with this number or paper short code, if the user
    may enter it; the other campaign a short code belongs to, when that is why not)."""
    number = number.strip()
    if not number:
        return None, None
    row = (
        selectors.progress_visible_to(user, campaign)
        .select_related("household")
        .filter(household__household_number=number)
        .first()
    )
    if row is not None:
        return row, None
    return selectors.progress_by_short_code(user, campaign, number)


def _lookup(request, campaign, number: str, context: dict) -> None:
    progress, other = _find(request.user, campaign, number)
    if progress is not None:
        record_read(user=request.user, obj=progress.household, via="entry", request=request)
        context["form"] = _household_context(request.user, campaign, progress)
    elif other is not None:
        context["other_campaign"] = other
        context["not_found"] = number
    else:
        context["not_found"] = number


def _household_context(user, campaign, progress, data=None, **extra):
    members = household_members(user, progress.household).filter(status=PersonStatus.ACTIVE)
    asked = set(campaign.questions or [])
    # The paper form has blank "(new)" rows for persons found at the door: they are typed in
    # rows of their own, folded away until needed (they stay out of the Enter and "365" paths).
    cards = forms.member_cards(members, data, new_slots=forms.NEW_PERSON_SLOTS)
    newcomers = [card for card in cards if card.is_new]
    return {
        "progress": progress,
        "household": progress.household,
        "cards": cards,
        "newcomers": newcomers,
        "newcomers_open": any(card.used or card.errors for card in newcomers),
        "outcomes": VisitOutcome.choices,
        "presences": Presence.choices,
        "symptom_codes": [(code, SYMPTOMS[key]) for code, key in forms.SYMPTOM_CODES.items()],
        "asks": {name: name in asked for name in QUESTIONS},
        "not_measured_reasons": [(k, str(v)) for k, v in NOT_MEASURED_REASONS.items()],
        "short_code": short_code(progress.pk),
        "outcome": VisitOutcome.SCREENED,
        "visited_at": "",
        "notes": "",
        "errors": {},
        "focus": "outcome",
        **extra,
    }


def _first_error(errors: dict, cards) -> str:
    """Where the cursor goes when a form comes back: the first field with an error."""
    for name in ("outcome", "visited_at"):
        if name in errors:
            return name
    for card in cards:
        if card.is_new and "person" in card.errors:
            return f"{card.key}-name"
        for name in ("temperature", "temperature_recheck", "presence", "symptoms", "returned_on"):
            if name in card.errors:
                return f"{card.key}-{'symptom_codes' if name == 'symptoms' else name}"
    return "outcome"


def _render(request, campaign, context, status=200):
    context = {"campaign": campaign, **context}
    if request.htmx:
        # htmx swaps only 2xx answers: a refused form is still a 200 for it.
        return render(request, "screening/entry/_workspace.html", context)
    return render(request, "screening/entry/page.html", context, status=status)


@access(SCOPED)
def entry_view(request, campaign_id: int):
    campaign = _campaign(request, campaign_id)
    if request.method == "POST":
        return _entry_post(request, campaign)
    number = request.GET.get("number", "")[:40]
    context = {"number": number}
    if number:
        _lookup(request, campaign, number, context)
    return render(request, "screening/entry/page.html", {"campaign": campaign, **context})


@access(SCOPED)
def entry_household_view(request, campaign_id: int):
    """The members of the household typed in the number box, as rows to fill (htmx partial)."""
    campaign = _campaign(request, campaign_id)
    number = request.GET.get("number", "")[:40]
    context = {"campaign": campaign, "number": number}
    _lookup(request, campaign, number, context)
    return render(request, "screening/entry/_household.html", context)


def _entry_post(request, campaign):
    user, data = request.user, request.POST
    progress = selectors.access_progress(user, campaign, data.get("household_id"))
    outcome = data.get("outcome", "")
    raw_time = data.get("visited_at", "").strip()
    notes = data.get("notes", "").strip()[:500]
    context = _household_context(
        user,
        campaign,
        progress,
        data,
        outcome=outcome,
        visited_at=raw_time,
        notes=notes,
    )
    errors, general = context["errors"], []
    try:
        visited_at = forms.parse_visited_at(raw_time)
    except ValueError as error:
        errors["visited_at"] = str(error)
    checks, sources = forms.checks_from_cards(
        context["cards"], outcome, fever_threshold=campaign.fever_threshold
    )
    if not errors and not any(card.errors for card in context["cards"]):
        item = forms.visit_input(
            household_id=progress.household_id,
            outcome=outcome,
            visited_at=visited_at,
            client_uuid=uuid.UUID(int=0),  # the paper form's own, below
            checks=checks,
            source=VisitSource.EVENING,
            notes=notes,
        )
        forms.paper_form_identify(campaign.pk, item)
        try:
            visit, created = services.visit_record(
                user=user, campaign=campaign, visit=item, request=request
            )
        except services.VisitConflict:
            general.append(_("This form was already saved with other answers; nothing changed."))
        except services.VisitTaken as taken:
            general.append(str(taken))
        except services.VisitRejected as error:
            if error.field in ("visited_at", "outcome"):
                errors[error.field] = error.message
            elif message := forms.place_error(error.field, error.message, sources):
                general.append(message)
        else:
            saved = {
                "household": progress.household,
                "outcome": visit.get_outcome_display(),
                "visited_at": visit.visited_at,
                "entered_at": visit.entered_at,
                "checks": len(checks),
                "created": created,
                "flagged": forms.flagged_feedback(
                    selectors.flagged_checks_of_visit(user, campaign, visit.pk), user=user
                ),
            }
            saved["flagged_next"] = any(f["next"] for f in saved["flagged"])
            return _render(request, campaign, {"number": "", "saved": saved})
    context["general_errors"] = general
    context["focus"] = _first_error(errors, context["cards"])
    return _render(
        request,
        campaign,
        {"number": progress.household.household_number, "form": context},
        status=422,
    )
