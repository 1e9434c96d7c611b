"""Field pages for the phone (入户): the worker's list in walking order and the visit form."""

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from doorstep.accounts.models import Role
from doorstep.core.urlaccess import SCOPED, access
from doorstep.registry.models import PersonStatus
from doorstep.registry.selectors import household_head_names, household_members
from doorstep.registry.services import record_read

from .. import forms, selectors, services
from ..models import Presence, ProgressState, VisitOutcome, VisitSource
from ..rules import NOT_MEASURED_REASONS, QUESTIONS, SYMPTOMS

FILTERS = {
    "all": "",
    "todo": "not_started",
    "revisit": "revisit",
    "open": "open",
}
LIST_LIMIT = 2000


def my_rows(user, campaign, only: str = ""):
    """The user's own assignment (an admin can hold households too), in walking order."""
    return selectors.worker_household_list(user, campaign, only=only, worker=user)


LIST_PARAMS = ("f", "b", "u", "q")


def list_query(source) -> str:
    """The list's filter, building, unit and search, carried through the visit form and back."""
    return urlencode({k: source.get(k, "")[:40] for k in LIST_PARAMS if source.get(k, "")})


def _filtered(rows, params):
    """Rows of one building and unit, or whose room or household number matches the search."""
    if building := params.get("b", "")[:30]:
        rows = rows.filter(household__building=building)
    if unit := params.get("u", "")[:30]:
        rows = rows.filter(household__unit=unit)
    if search := params.get("q", "").strip()[:30]:
        rows = rows.filter(
            Q(household__room__icontains=search) | Q(household__household_number__icontains=search)
        )
    return rows


@access(SCOPED)
def field_list_view(request, campaign_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    current = request.GET.get("f", "all")
    if current not in FILTERS:
        current = "all"
    mine = my_rows(request.user, campaign)
    counts = _filtered(mine, request.GET).aggregate(
        all=Count("id"),
        todo=Count("id", filter=Q(state=ProgressState.NOT_STARTED)),
        revisit=Count("id", filter=Q(state=ProgressState.REVISIT)),
        open=Count("id", filter=Q(closed=False)),
        closed=Count("id", filter=Q(closed=True)),
    )
    places = mine.order_by().values_list("household__building", "household__unit").distinct()
    buildings = sorted({b for b, _u in places if b})
    units = sorted({u for b, u in places if u and b == request.GET.get("b", "")})
    rows = list(
        _filtered(my_rows(request.user, campaign, FILTERS[current]), request.GET)[:LIST_LIMIT]
    )
    heads = household_head_names([r.household_id for r in rows])
    others = selectors.closed_by_others(
        request.user, campaign, [r.household_id for r in rows if r.closed]
    )
    for row in rows:
        row.head_name = heads.get(row.household_id, "")
        row.closed_by_other = others.get(row.household_id)
    saved = next_row = None
    if saved_id := request.GET.get("saved"):
        saved = selectors.saved_row(request.user, campaign, saved_id)
    if next_id := request.GET.get("next"):
        next_row = next((r for r in rows if str(r.household_id) == next_id), None)
        if next_row is None:
            next_row = selectors.saved_row(request.user, campaign, next_id)
    flagged = []
    if saved is not None and (visit_id := request.GET.get("visit")):
        flagged = forms.flagged_feedback(
            selectors.flagged_checks_of_visit(request.user, campaign, visit_id),
            user=request.user,
        )
    filters = [
        ("all", _("All"), counts["all"]),
        ("todo", _("Not yet visited"), counts["todo"]),
        ("revisit", _("Revisit due"), counts["revisit"]),
        ("open", _("Open"), counts["open"]),
    ]
    place = {k: request.GET.get(k, "")[:40] for k in ("b", "u", "q")}
    return render(
        request,
        "screening/field/list.html",
        {
            "campaign": campaign,
            "rows": rows,
            "counts": counts,
            "filters": filters,
            "current": current,
            "saved": saved,
            "flagged": flagged,
            "flagged_next": any(f["next"] for f in flagged),
            "flagged_list_url": reverse("screening:flagged", args=[campaign.pk])
            if request.user.role != Role.GRID_WORKER
            else "",
            "saved_outcome": dict(VisitOutcome.choices).get(request.GET.get("outcome", ""), ""),
            "next_id": request.GET.get("next", ""),
            "next_row": next_row,
            "place": place,
            "place_query": urlencode({k: v for k, v in place.items() if v}),
            "list_query": list_query(request.GET),
            "buildings": buildings,
            "units": units,
            "now": timezone.now(),
            "truncated": len(rows) >= LIST_LIMIT,
        },
    )


def _next_household(user, campaign, household_id: int, params) -> int | None:
    """The next open household after this one in walking order (building, unit, floor,
    room) within the list's building and unit; wraps to the first open one only when none
    follows (the one just saved is usually closed now, so it is found among all rows)."""
    scope = {k: params.get(k, "") for k in ("b", "u")}
    rows = list(_filtered(my_rows(user, campaign), scope).values_list("household_id", "closed"))
    ids = [i for i, _closed in rows]
    start = ids.index(household_id) + 1 if household_id in ids else 0
    for other, closed in rows[start:] + rows[:start]:
        if not closed and other != household_id:
            return other
    return None


def _context(request, campaign, progress, cards, **extra):
    user = request.user
    household = progress.household
    visits = list(selectors.visits_for_household(user, campaign, household.pk)[:10])
    pending = [v for v in visits if v.source == VisitSource.SELF_REPORT and v.verified_at is None]
    asked = set(campaign.questions or [])
    return {
        "campaign": campaign,
        "progress": progress,
        "household": household,
        "roster_cards": [c for c in cards if not c.is_new],
        "new_cards": [c for c in cards if c.is_new],
        "new_open": any(c.is_new and (c.used or c.errors) for c in cards),
        "visits": visits,
        "pending": pending,
        "asks": {name: name in asked for name in QUESTIONS},
        "symptoms": list(SYMPTOMS.items()),
        "not_measured_reasons": [(k, str(v)) for k, v in NOT_MEASURED_REASONS.items()],
        "presences": Presence.choices,
        "outcomes": forms.OUTCOME_BUTTONS,
        "filter": request.GET.get("f", request.POST.get("f", "all")),
        "list_query": list_query(request.POST if request.method == "POST" else request.GET),
        "list_params": [
            (k, (request.POST if request.method == "POST" else request.GET).get(k, "")[:40])
            for k in ("b", "u", "q")
        ],
        **extra,
    }


def _members(user, household):
    return household_members(user, household).filter(status=PersonStatus.ACTIVE)


@access(SCOPED)
def visit_view(request, campaign_id: int, household_id: int):
    """The visit form: one card per member, one tap per outcome. GET renders it with a fresh
    client UUID; POST records the visit (a retry with the same UUID is the same visit)."""
    user = request.user
    campaign = selectors.access_campaign(user, campaign_id)
    progress = selectors.access_progress(user, campaign, household_id)
    household = progress.household
    members = list(_members(user, household))
    if request.method != "POST":
        record_read(user=user, obj=household, via="visit_form", request=request)
        cards = forms.member_cards(members)
        return render(
            request,
            "screening/field/visit.html",
            _context(request, campaign, progress, cards, client_uuid=uuid.uuid4(), notes=""),
        )
    data = request.POST
    cards = forms.member_cards(members, data)
    outcome = data.get("outcome", "")
    client_uuid = forms.parse_client_uuid(data.get("client_uuid", "")) or uuid.uuid4()
    notes = data.get("notes", "").strip()[:500]
    general = []
    checks, sources = forms.checks_from_cards(
        cards, outcome, fever_threshold=campaign.fever_threshold
    )
    if not any(card.errors for card in cards):
        # A retry of a form already saved reuses the first submission's time, so that the
        # service sees the same body and answers with the visit it already has.
        earlier = (
            selectors.visits_for_household(user, campaign, household.pk)
            .filter(client_uuid=client_uuid)
            .first()
        )
        visited_at = earlier.visited_at if earlier else timezone.now()
        item = forms.visit_input(
            household_id=household.pk,
            outcome=outcome,
            visited_at=visited_at,
            client_uuid=client_uuid,
            checks=checks,
            source=VisitSource.FIELD,
            notes=notes,
        )
        try:
            visit, _created = services.visit_record(
                user=user, campaign=campaign, visit=item, request=request
            )
        except services.VisitConflict:
            general.append(_("This form was already saved with other answers; nothing changed."))
        except services.VisitTaken as taken:
            general.append(str(taken))
        except services.VisitRejected as error:
            message = forms.place_error(error.field, error.message, sources)
            if message:
                general.append(message)
        else:
            next_id = _next_household(user, campaign, household.pk, data)
            url = reverse("screening:field_list", args=[campaign.pk])
            query = list_query(data)
            query += ("&" if query else "") + urlencode(
                {"saved": household.pk, "outcome": outcome, "visit": visit.pk}
            )
            if next_id:
                query += f"&next={next_id}#hh-{next_id}"
            return redirect(f"{url}?{query}")
    return render(
        request,
        "screening/field/visit.html",
        _context(
            request,
            campaign,
            progress,
            cards,
            client_uuid=client_uuid,
            notes=notes,
            general_errors=general,
        ),
        status=422,
    )


@access(SCOPED)
@require_POST
def visit_verify_view(request, campaign_id: int, household_id: int, visit_id: int):
    """Confirm a household's self-report (it counts only once a worker has seen it)."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    progress = selectors.access_progress(request.user, campaign, household_id)
    pending = (
        selectors.visits_for_household(request.user, campaign, progress.household_id)
        .filter(pk=visit_id)
        .exists()
    )
    if not pending:
        raise Http404
    try:
        services.visit_verify(
            user=request.user, campaign=campaign, visit_id=visit_id, request=request
        )
    except services.VisitRejected as error:
        messages.error(request, str(error))
    return redirect("screening:visit", campaign_id=campaign.pk, household_id=household_id)
