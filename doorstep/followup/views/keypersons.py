"""Key-person pages: the list (filters, pages, export), the record with its actions, manual
creation, creation from the sweep's flags, possible duplicates, the release slip, and the
monitoring lengths (command staff)."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import prefix_q
from doorstep.core.purpose import purpose_or_answer
from doorstep.core.services import audit_write
from doorstep.core.urlaccess import SCOPED, access
from doorstep.registry.selectors import households_visible_to
from doorstep.screening.models import PersonCheck

from .. import schedule, selectors, services, sweep_link
from ..models import (
    FacilityKind,
    KeyPerson,
    Measure,
    Monitoring,
    MonitoringStatus,
    ReasonKind,
    ReasonLength,
    Transport,
)
from .common import PAGE_SIZE, export_answer, monitoring_header, monitoring_rows, user_of


def _filters(request: HttpRequest) -> dict[str, str]:
    return {
        "status": request.GET.get("status", "")
        if request.GET.get("status") in MonitoringStatus.values
        else "",
        "reason": request.GET.get("reason", "")
        if request.GET.get("reason") in ReasonKind.values
        else "",
        "measure": request.GET.get("measure", "")
        if request.GET.get("measure") in Measure.values
        else "",
        "area": request.GET.get("area", "")[:32],
    }


def _listed(request: HttpRequest) -> Any:
    user = user_of(request)
    chosen = _filters(request)
    area = selectors.area_in_scope(user, chosen["area"]) if chosen["area"] else None
    rows = selectors.key_person_list(
        user, status=chosen["status"], reason=chosen["reason"], measure=chosen["measure"], area=area
    )
    return rows, chosen


@access(SCOPED)
def key_person_list_view(request: HttpRequest) -> HttpResponse:
    rows, chosen = _listed(request)
    page = Paginator(rows, PAGE_SIZE, allow_empty_first_page=True).get_page(request.GET.get("page"))
    monitorings = {
        m.key_person_id: m
        for m in selectors.monitorings_visible_to(user_of(request))
        .filter(key_person__in=[kp.pk for kp in page.object_list])
        .order_by("started_at")
    }
    for kp in page.object_list:
        kp.current = monitorings.get(kp.pk)
    context = {
        "page": page,
        "chosen": chosen,
        "query": urlencode({k: v for k, v in chosen.items() if v}),
        "statuses": MonitoringStatus.choices,
        "reasons": ReasonKind.choices,
        "measures": Measure.choices,
    }
    return render(request, "followup/list.html", context)


@access(SCOPED)
def key_person_export_view(request: HttpRequest) -> HttpResponse | FileResponse:
    rows, chosen = _listed(request)
    user = user_of(request)

    def build() -> tuple[str, list[str], Any]:
        monitorings = (
            selectors.monitorings_visible_to(user)
            .filter(key_person__in=rows.values("pk"))
            .select_related("key_person__person", "key_person__community", "key_person__worker")
            .order_by("key_person__community__path", "key_person__person__name", "pk")
        )
        return (
            _("key persons"),
            monitoring_header(),
            monitoring_rows(monitorings.iterator(chunk_size=1000)),
        )

    return export_answer(
        request,
        what="key_persons",
        title=_("Key persons"),
        note="",
        detail=dict(chosen),
        build=build,
    )


@access(SCOPED)
def key_person_detail_view(request: HttpRequest, key_person_id: int) -> HttpResponse:
    user = user_of(request)
    key_person = selectors.access_key_person(user, key_person_id)
    monitorings = list(
        key_person.monitorings.order_by("-started_at").prefetch_related("changes__user")
    )
    current = next((m for m in monitorings if m.status == MonitoringStatus.ACTIVE), None)
    audit_write(user=user, action="key_person.read", obj=key_person, request=request)
    self_link = _self_link(request, current)
    workers = (
        User.objects.filter(role=Role.GRID_WORKER, is_active=True)
        .filter(prefix_q("jurisdiction_area__path", key_person.community.path))
        .order_by("username")[:200]
    )
    context = {
        "key_person": key_person,
        "person": key_person.person,
        "reasons": key_person.reasons.select_related("contact_of__person").order_by(
            "exposure_date"
        ),
        "sources": key_person.sources.select_related("created_by").order_by("created_at"),
        "monitorings": monitorings,
        "current": current,
        "checks": (current.checks.order_by("-slot_date", "-slot")[:60] if current else []),
        "referrals": key_person.referrals.select_related("facility").order_by("-opened_at"),
        "placements": key_person.placements.select_related("facility").order_by("-since"),
        "blockers": services.release_blockers(current, now=timezone.now()) if current else [],
        "proposed": selectors.close_contacts_proposed(user, key_person),
        "measures": Measure.choices,
        "transports": Transport.choices,
        "workers": workers,
        "communities": Area.objects.filter(level=AreaLevel.COMMUNITY).order_by("code")[:500],
        "sites": services.with_occupancy(
            selectors.facilities_visible_to(user).exclude(kind=FacilityKind.FEVER_CLINIC)
        ).order_by("name"),
        "clinics": selectors.facilities_visible_to(user)
        .filter(kind=FacilityKind.FEVER_CLINIC)
        .order_by("name"),
        "self_link": self_link,
        "self_qr": qr_svg(self_link) if self_link else "",
        "is_admin": user.manages_roster,
        "incoming": key_person.transfer_to is not None
        and user.jurisdiction_area is not None
        and key_person.transfer_to.path.startswith(user.jurisdiction_area.path),
    }
    return render(request, "followup/detail.html", context)


def _self_link(request: HttpRequest, monitoring: Monitoring | None) -> str:
    """The person's own no-login link of this monitoring, if one was made ("" otherwise)."""
    if monitoring is None or not hasattr(monitoring, "self_check_token"):
        return ""
    token = monitoring.self_check_token.token
    return request.build_absolute_uri(reverse("followup:self_check", args=[token]))


def mask_name(name: str) -> str:
    """张三 → 张*: what a printed card shows of the name (as the sweep's self-report page)."""
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else "*"


def qr_svg(url: str) -> SafeString:
    """The QR of a link, as SVG inside the page: no URL of its own, so the token appears in no
    log line beyond the link's own uses."""
    svg = segno.make(url, error="m").svg_inline(scale=4, border=2)
    return mark_safe(svg)  # noqa: S308 - generated by segno from our own URL, no user input


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


@access(SCOPED)
@require_POST
def key_person_action_view(request: HttpRequest, key_person_id: int) -> HttpResponse:
    """Every change of the record's page: one POST, one service, its refusal shown as is."""
    user = user_of(request)
    key_person = selectors.access_key_person(user, key_person_id)
    current = key_person.monitorings.filter(status=MonitoringStatus.ACTIVE).first()
    action, data = request.POST.get("action", ""), request.POST
    try:
        if current is None and action in ("extend", "release", "measure", "self_link", "place"):
            raise services.FollowupRefused(_("the monitoring is closed"), "action")
        if action == "extend" and current is not None:
            services.monitoring_extend(
                user=user,
                monitoring=current,
                days=_int(data.get("days")),
                reason=data.get("reason", ""),
            )
        elif action == "release" and current is not None:
            done = services.monitoring_release(
                user=user, monitoring=current, reason=data.get("reason", ""), request=request
            )
            if done.status == MonitoringStatus.ACTIVE:
                messages.info(request, _("Early release asked: the community admin approves it."))
        elif action == "measure" and current is not None:
            services.monitoring_measure_set(
                user=user,
                monitoring=current,
                measure=data.get("measure", ""),
                eligibility={
                    q: data.get(q) == "yes" for q in ("own_room", "no_vulnerable", "supplies")
                },
                reason=data.get("reason", ""),
            )
        elif action == "reassign":
            worker = User.objects.filter(pk=_int(data.get("worker"))).first()
            services.key_person_reassign(user=user, key_person=key_person, worker=worker)
        elif action == "transfer":
            to = Area.objects.filter(code=data.get("to", ""), level=AreaLevel.COMMUNITY).first()
            if to is None:
                raise services.FollowupRefused(_("choose a community"), "to")
            services.transfer_ask(
                user=user, key_person=key_person, to=to, reason=data.get("reason", "")
            )
        elif action == "accept":
            services.transfer_accept(user=user, key_person=key_person)
        elif action == "place" and current is not None:
            site = selectors.access_facility(user, _int(data.get("facility")))
            services.placement_create(
                user=user, key_person=key_person, facility=site, request=request
            )
        elif action == "refer":
            clinic = selectors.access_facility(user, _int(data.get("facility")))
            referral = services.referral_open(
                user=user,
                key_person=key_person,
                temperature=None,
                symptoms=[],
                source=services.SourceInput(kind="manual", reference="record page"),
                facility=clinic,
                request=request,
            )
            if data.get("transport"):
                services.referral_dispatch(
                    user=user,
                    referral=referral,
                    facility=clinic,
                    transport=data.get("transport", ""),
                )
        elif action == "self_link" and current is not None:
            services.self_check_token_for(monitoring=current)
        elif action == "contacts":
            _add_contacts(request, user, key_person)
        else:
            raise services.FollowupRefused(_("unknown action"), "action")
    except services.FollowupRefused as refused:
        messages.error(request, refused.message)
        return redirect(reverse("followup:key_person", args=[key_person.pk]))
    if request.POST.get("action") != "release" or (
        current and current.status != MonitoringStatus.ACTIVE
    ):
        messages.success(request, _("Saved."))
    return redirect(reverse("followup:key_person", args=[key_person.pk]))


def _add_contacts(request: HttpRequest, user: User, case: KeyPerson) -> None:
    """The confirmed case's household members proposed as close contacts: add the ticked ones."""
    proposed = {p.pk: p for p in selectors.close_contacts_proposed(user, case)}
    chosen = [proposed[pk] for pk in map(_int, request.POST.getlist("person")) if pk in proposed]
    if not chosen:
        raise services.FollowupRefused(_("tick the persons to add"), "person")
    exposure = schedule.local_date(timezone.now())
    for person in chosen:
        services.key_person_add(
            user=user,
            person=person,
            reasons=[
                services.ReasonInput(kind="close_contact", exposure_date=exposure, contact_of=case)
            ],
            source=services.SourceInput(
                kind="manual", reference=f"contact of key person {case.pk}"
            ),
            community=case.community,
            request=request,
        )


@access(SCOPED)
def key_person_create_view(request: HttpRequest) -> HttpResponse:
    """By hand: a hotline call, a neighbour's report. A person already followed up gets the
    reason added to their record."""
    user = user_of(request)
    area = user.jurisdiction_area
    if area is None:
        communities = Area.objects.none()
    elif user.role == Role.GRID_WORKER:
        communities = Area.objects.filter(pk=area.parent_id or 0)
    else:
        communities = Area.objects.filter(level=AreaLevel.COMMUNITY).filter(
            prefix_q("path", area.path)
        )
    error, data = "", request.POST if request.method == "POST" else None
    if data is not None:
        try:
            community = communities.filter(code=data.get("community", "")).first()
            if community is None:
                raise services.FollowupRefused(_("choose a community"), "community")
            try:
                exposure = datetime.date.fromisoformat(data.get("exposure_date", ""))
            except ValueError:
                raise services.FollowupRefused(
                    _("the exposure date is not a date"), "exposure_date"
                ) from None
            person = services.person_for_follow_up(
                user=user,
                community=community,
                name=data.get("name", ""),
                id_number=data.get("id_number", ""),
                phone=data.get("phone", ""),
                address=data.get("address", ""),
                request=request,
            )
            key_person = services.key_person_add(
                user=user,
                person=person,
                reasons=[
                    services.ReasonInput(
                        kind=data.get("reason", ""),
                        exposure_date=exposure,
                        detail=data.get("detail", ""),
                    )
                ],
                source=services.SourceInput(
                    kind="manual", reference=data.get("reference", "")[:100]
                ),
                measure=data.get("measure") or None,
                community=community,
                request=request,
            )
        except services.FollowupRefused as refused:
            error = refused.message
        else:
            messages.success(request, _("Key person saved."))
            return redirect(reverse("followup:key_person", args=[key_person.pk]))
    context = {
        "communities": communities.order_by("code")[:500],
        "reasons": ReasonKind.choices,
        "measures": Measure.choices,
        "error": error,
        "data": data,
        "today": schedule.local_date(timezone.now()),
    }
    return render(request, "followup/create.html", context, status=422 if error else 200)


def flagged_not_followed(user: User, area: Area | None) -> Any:
    """The sweep's flagged persons in the user's scope who have no key-person record yet."""
    checks = PersonCheck.objects.filter(
        flagged=True,
        person__isnull=False,
        person__key_person__isnull=True,
        visit__household__in=households_visible_to(user),
    )
    if area is not None:
        checks = checks.filter(prefix_q("visit__household__grid__path", area.path))
    return checks.select_related("person", "visit", "visit__household__grid__parent").order_by(
        "-visit__visited_at", "pk"
    )


@access(SCOPED)
def from_flags_view(request: HttpRequest) -> HttpResponse:
    """The sweep's flagged persons not yet followed up: one click each, or all of an area."""
    user = user_of(request)
    code = (request.POST.get("area") if request.method == "POST" else request.GET.get("area")) or ""
    area = selectors.area_in_scope(user, code) if code else None
    checks = flagged_not_followed(user, area)
    if request.method == "POST":
        chosen = (
            checks
            if request.POST.get("all") == "1"
            else checks.filter(pk=_int(request.POST.get("check")))
        )
        made, refused = 0, []
        for check in list(chosen[:500]):
            person = check.person
            assert person is not None
            try:
                services.key_person_add(
                    user=user,
                    person=person,
                    reasons=sweep_link.reasons_of(check),
                    source=sweep_link.sweep_source(check),
                    request=request,
                )
                made += 1
            except services.FollowupRefused as error:
                refused.append(f"{person.name}: {error.message}")
        if made == 0 and not refused and request.POST.get("all") != "1":
            raise Http404
        messages.success(request, _("%(n)d key persons added.") % {"n": made})
        for line in refused:
            messages.error(request, line)
        return redirect(reverse("followup:from_flags") + (f"?area={area.code}" if area else ""))
    page = Paginator(checks, PAGE_SIZE, allow_empty_first_page=True).get_page(
        request.GET.get("page")
    )
    return render(request, "followup/from_flags.html", {"page": page, "area": area})


@access(SCOPED)
def duplicates_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if request.method == "POST":
        case = selectors.access_duplicate(user, _int(request.POST.get("case")))
        decision = request.POST.get("decision")
        if decision not in ("merge", "apart"):
            messages.error(request, _("choose merge or keep apart"))
        else:
            try:
                services.duplicate_decide(
                    user=user, case=case, merge=decision == "merge", request=request
                )
                messages.success(request, _("Decided."))
            except services.FollowupRefused as refused:
                messages.error(request, refused.message)
        return redirect(reverse("followup:duplicates"))
    cases = selectors.duplicates_visible_to(user).order_by("created_at")[:200]
    return render(request, "followup/duplicates.html", {"cases": cases})


@access(SCOPED)
def release_slip_view(request: HttpRequest, key_person_id: int) -> HttpResponse:
    """The printable release slip (解除管控告知书) of the latest released monitoring."""
    user = user_of(request)
    key_person = selectors.access_key_person(user, key_person_id)
    monitoring = (
        key_person.monitorings.filter(status=MonitoringStatus.RELEASED)
        .order_by("-released_at")
        .first()
    )
    if monitoring is None:
        raise Http404
    purpose, answer = purpose_or_answer(request, title=_("Release slip"))
    if answer is not None:
        return answer
    audit_write(
        user=user,
        action="export.followup_release_slip",
        obj=key_person,
        request=request,
        purpose=purpose,
    )
    return render(
        request,
        "followup/release_slip.html",
        {"key_person": key_person, "monitoring": monitoring, "now": timezone.now()},
    )


@access(SCOPED)
def self_check_card_view(request: HttpRequest, key_person_id: int) -> HttpResponse:
    """The printable self-check card handed to the person: the name masked, the QR of their
    own link (made now if there was none) and until when it works. A monitoring that has
    ended gets no QR: the card says the link has ended."""
    user = user_of(request)
    key_person = selectors.access_key_person(user, key_person_id)
    purpose, answer = purpose_or_answer(request, title=_("Self-check card"))
    if answer is not None:
        return answer
    current = (
        key_person.monitorings.filter(status=MonitoringStatus.ACTIVE)
        .order_by("-started_at")
        .first()
    )
    if current is not None and schedule.local_date(timezone.now()) > current.end_date:
        current = None  # past its last day: the link answers 404 already
    link = ""
    if current is not None:
        services.self_check_token_for(monitoring=current)
        current.refresh_from_db()
        link = _self_link(request, current)
    audit_write(
        user=user,
        action="export.followup_self_check_card",
        obj=key_person,
        request=request,
        purpose=purpose,
    )
    last = current or key_person.monitorings.order_by("-started_at").first()
    return render(
        request,
        "followup/self_check_card.html",
        {
            "key_person": key_person,
            "masked_name": mask_name(key_person.person.name),
            "monitoring": last,
            "active": current is not None,
            "link": link,
            "qr": qr_svg(link) if link else "",
            "threshold": settings.FOLLOWUP_FEVER_THRESHOLD,
            "now": timezone.now(),
        },
    )


@access(SCOPED)
def settings_view(request: HttpRequest) -> HttpResponse:
    """How many days each reason keeps a person under monitoring: command staff edit it."""
    user = user_of(request)
    if user.jurisdiction_area is None or user.role not in (
        Role.COMMAND,
        Role.STREET_ADMIN,
        Role.COMMUNITY_ADMIN,
    ):
        raise Http404
    error = ""
    if request.method == "POST":
        try:
            for kind in ReasonKind.values:
                if request.POST.get(kind):
                    services.reason_length_set(
                        user=user, kind=kind, days=_int(request.POST.get(kind))
                    )
        except services.FollowupRefused as refused:
            error = refused.message
        else:
            messages.success(request, _("Saved."))
            return redirect(reverse("followup:settings"))
    lengths = dict(ReasonLength.objects.values_list("kind", "days"))
    rows = [
        (kind, label, lengths.get(kind, schedule.DEFAULT_DAYS))
        for kind, label in ReasonKind.choices
    ]
    return render(
        request,
        "followup/settings.html",
        {"rows": rows, "error": error, "editable": user.role == Role.COMMAND},
        status=422 if error else 200,
    )
