"""Fever-clinic referrals (clinic staff: their own facility's only) and isolation facilities
with their occupancy (from the placements, never typed)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from doorstep.core.urlaccess import SCOPED, access

from .. import selectors, services
from ..models import ReferralOutcome, ReferralStatus
from .common import user_of


@access(SCOPED)
def referrals_view(request: HttpRequest) -> HttpResponse:
    """Open and arrived referrals first, newest first; those not arrived in time marked."""
    user = user_of(request)
    now = timezone.now()
    rows = (
        selectors.referrals_visible_to(user)
        .select_related("key_person__person", "facility")
        .order_by("status", "-opened_at")[:300]
    )
    overdue = set(selectors.referrals_overdue(user, now).values_list("pk", flat=True))
    context = {
        "rows": rows,
        "overdue": overdue,
        "outcomes": ReferralOutcome.choices,
        "is_clinic": user.role == "clinic_staff",
        "open": ReferralStatus.OPEN,
        "closed": ReferralStatus.CLOSED,
    }
    return render(request, "followup/referrals.html", context)


@access(SCOPED)
@require_POST
def referral_action_view(request: HttpRequest, referral_id: int) -> HttpResponse:
    """Clinic staff record arrival or the outcome (another facility's referral: 404)."""
    user = user_of(request)
    try:
        if request.POST.get("action") == "arrive":
            services.referral_arrive(user=user, referral_id=referral_id, request=request)
        else:
            services.referral_outcome_record(
                user=user,
                referral_id=referral_id,
                outcome=request.POST.get("outcome", ""),
                request=request,
            )
    except services.FollowupRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, _("Saved."))
    return redirect(reverse("followup:referrals"))


@access(SCOPED)
def facilities_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    rows = services.with_occupancy(selectors.facilities_visible_to(user)).order_by("kind", "name")
    return render(request, "followup/facilities.html", {"rows": rows})


@access(SCOPED)
def facility_view(request: HttpRequest, facility_id: int) -> HttpResponse:
    """Who is at the site, since when and until when (the people the user may see by name)."""
    user = user_of(request)
    facility = selectors.access_facility(user, facility_id)
    visible = selectors.key_persons_visible_to(user)
    placements = (
        facility.placements.filter(ended_at__isnull=True)
        .select_related("key_person__person")
        .order_by("since")
    )
    occupied = placements.count()
    rows = [
        {"placement": p, "name": p.key_person.person.name if p.key_person_id in shown else ""}
        for shown in [
            set(visible.filter(placements__facility=facility).values_list("pk", flat=True))
        ]
        for p in placements[:500]
    ]
    return render(
        request,
        "followup/facility.html",
        {"facility": facility, "rows": rows, "occupied": occupied},
    )
