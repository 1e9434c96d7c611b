"""Field pages for the phone (入户): the worker's list in walking order and the visit form."""

import uuid

from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from doorstep.core.urlaccess import SCOPED, access
from doorstep.registry.models import PersonStatus
from doorstep.registry.selectors import household_head_names, household_members
from doorstep.registry.services import record_read

from .. import forms, selectors, services
from ..models import Presence, ProgressState, VisitOutcome, VisitSource
from ..rules import QUESTIONS, SYMPTOMS

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


@access(SCOPED)
def field_list_view(request, campaign_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    current = request.GET.get("f", "all")
    if current not in FILTERS:
        current = "all"
    counts = my_rows(request.user, campaign).aggregate(
        all=Count("id"),
        todo=Count("id", filter=Q(state=ProgressState.NOT_STARTED)),
        revisit=Count("id", filter=Q(state=ProgressState.REVISIT)),
        open=Count("id", filter=Q(closed=False)),
        closed=Count("id", filter=Q(closed=True)),
    )
    rows = list(my_rows(request.user, campaign, FILTERS[current])[:LIST_LIMIT])
    heads = household_head_names([r.household_id for r in rows])
    for row in rows:
        row.head_name = heads.get(row.household_id, "")
    saved = None
    if saved_id := request.GET.get("saved"):
        saved = next((r for r in rows if str(r.household_id) == saved_id), None)
    filters = [
        ("all", _("All"), counts["all"]),
        ("todo", _("Not yet visited"), counts["todo"]),
        ("revisit", _("Revisit due"), counts["revisit"]),
        ("open", _("Open"), counts["open"]),
    ]
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
            "saved_outcome": dict(VisitOutcome.choices).get(request.GET.get("outcome", ""), ""),
            "next_id": request.GET.get("next", ""),
            "now": timezone.now(),
            "truncated": len(rows) >= LIST_LIMIT,
        },
    )


def _next_household(user, campaign, household_id: int, current: str) -> int | None:
    """The next open household after this one in walking order (or the first open one)."""
    ids = list(my_rows(user, campaign, "open").values_list("household_id", flat=True))
    if household_id in ids:
        after = ids[ids.index(household_id) + 1 :]
        if after:
            return after[0]
    ids = [i for i in ids if i != household_id]
    return ids[0] if ids else None


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
        "presences": Presence.choices,
        "outcomes": forms.OUTCOME_BUTTONS,
        "filter": request.GET.get("f", request.POST.get("f", "all")),
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
    checks, sources = forms.checks_from_cards(cards, outcome)
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
            services.visit_record(user=user, campaign=campaign, visit=item, request=request)
        except services.VisitConflict:
            general.append(_("This form was already saved with other answers; nothing changed."))
        except services.VisitTaken as taken:
            general.append(str(taken))
        except services.VisitRejected as error:
            message = forms.place_error(error.field, error.message, sources)
            if message:
                general.append(message)
        else:
            current = data.get("f", "all")
            next_id = _next_household(user, campaign, household.pk, current)
            url = reverse("screening:field_list", args=[campaign.pk])
            query = f"?f={current}&saved={household.pk}&outcome={outcome}"
            if next_id:
                query += f"&next={next_id}#hh-{next_id}"
            return redirect(url + query)
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
