"""Checkpoint pages: the figures, keyboard-first arrival entry, a checkpoint's arrivals and their
outcomes, a community's handoff inbox with its actions, the command's unmatched queue, and the
handed-out list for the neighbouring district (XLSX, purpose first)."""

import datetime
import io
import re
import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import prefix_q
from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.purpose import purpose_or_answer
from doorstep.core.services import audit_write
from doorstep.core.sheets.writing import new_workbook, write_cells
from doorstep.core.urlaccess import SCOPED, access
from doorstep.screening.forms import SYMPTOM_CODES
from doorstep.screening.rules import FLAG_LABELS, SYMPTOMS

from . import selectors, services
from .models import (
    Arrival,
    HandoffStatus,
    NotFoundReason,
    Purpose,
    Route,
    VehicleKind,
)

OCCUPANT_FIELDS = (
    "client_uuid",
    "name",
    "id_number",
    "phone",
    "origin",
    "destination",
    "purpose",
    "temperature",
    "symptoms",
)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _now() -> datetime.datetime:
    return timezone.now()


@access(SCOPED)
def home_view(request: HttpRequest) -> HttpResponse:
    """Counts per checkpoint and per destination community, each opening its list."""
    user = _user(request)
    now = _now()
    context = {
        "own": selectors.officer_checkpoint(user),
        "by_checkpoint": selectors.counts_by_checkpoint(user, now),
        "by_community": selectors.counts_by_community(user, now),
        "columns": [
            ("all", _("arrivals")),
            ("risk", _("risk arrivals")),
            ("handed_off", _("handed off")),
            ("accepted", _("accepted")),
            ("not_found", _("not found")),
            ("overdue", _("overdue")),
        ],
        "is_command": user.role == Role.COMMAND,
        "reads_handoffs": user.role in selectors.HANDOFF_READERS,
        "overdue": selectors.overdue_for(user, now).count(),
        "unmatched": selectors.unmatched_queue(user).count(),
    }
    return render(request, "checkpoints/home.html", context)


# -- arrival entry ------------------------------------------------------------------------------
def _symptoms(text: str) -> tuple[str, ...]:
    text = text.strip()
    if not text:
        return ()
    if re.fullmatch(r"[\d ,，、]+", text):
        return tuple(SYMPTOM_CODES.get(c, c) for c in re.sub(r"[ ,，、]", "", text))
    return tuple(s for s in re.split(r"[ ,，、;；]+", text) if s)


FUTURE_TOLERANCE = datetime.timedelta(minutes=10)  # as services.passage_record allows


def _arrived_at(raw: str, *, now: datetime.datetime | None = None) -> datetime.datetime:
    """The time the officer typed: empty is now, "HH:MM" the last such time (23:50 typed at
    00:05 is last evening, as a paper form is read; a watch a few minutes fast is allowed),
    else a date and time. A retry of the same vehicle keeps the first record's time whatever
    this answers (services: the digest holds the typed text)."""
    raw = raw.strip()
    now = timezone.localtime(now or timezone.now())
    if not raw:
        return now.replace(second=0, microsecond=0)
    if m := re.fullmatch(r"(\d{1,2})[:：](\d{2})", raw):
        hour, minute = int(m[1]), int(m[2])
        if hour < 24 and minute < 60:
            typed = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if typed > now + FUTURE_TOLERANCE:
                typed -= datetime.timedelta(days=1)
            return typed
    parsed = parse_datetime(raw.replace(" ", "T"))
    if parsed is None:
        raise services.PassageRejected(_("time “%(v)s” is not HH:MM") % {"v": raw}, "arrived_at")
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _rows_from_post(request: HttpRequest) -> list[dict[str, str]]:
    columns = {name: request.POST.getlist(f"o-{name}") for name in OCCUPANT_FIELDS}
    count = max((len(v) for v in columns.values()), default=0)
    rows = []
    for i in range(count):
        row = {name: (values[i] if i < len(values) else "") for name, values in columns.items()}
        if any(row[n].strip() for n in OCCUPANT_FIELDS if n not in ("client_uuid", "purpose")):
            rows.append(row)
    return rows


def _uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return uuid.uuid4()


def _blank_row() -> dict[str, str]:
    return {name: "" for name in OCCUPANT_FIELDS} | {
        "client_uuid": str(uuid.uuid4()),
        "purpose": Purpose.HOME,
    }


def _entry_context(**extra: Any) -> dict[str, Any]:
    return {
        "kinds": VehicleKind.choices,
        "purposes": Purpose.choices,
        "symptom_codes": [(code, SYMPTOMS[key]) for code, key in SYMPTOM_CODES.items()],
        "vehicle": {"client_uuid": str(uuid.uuid4()), "kind": VehicleKind.CAR},
        "rows": [_blank_row()],
        "errors": {},
        "saved": [],
        **extra,
    }


@access(SCOPED)
def entry_view(request: HttpRequest, checkpoint_id: int) -> HttpResponse:
    user = _user(request)
    checkpoint = selectors.access_checkpoint_for_entry(user, checkpoint_id)
    if request.method != "POST":
        return render(
            request, "checkpoints/entry.html", {"checkpoint": checkpoint, **_entry_context()}
        )
    vehicle = {
        k: request.POST.get(k, "").strip()[:200]
        for k in ("client_uuid", "plate", "kind", "origin", "destination", "arrived_at")
    }
    rows = _rows_from_post(request)
    errors: dict[str, str] = {}
    conflict_status = 422
    saved: list[Arrival] = []
    try:
        if not rows:
            raise services.PassageRejected(_("add at least one occupant"), "occupants")
        occupants = tuple(
            services.OccupantInput(
                client_uuid=_uuid(row["client_uuid"]),
                name=row["name"][:50],
                id_number=row["id_number"][:32],
                phone=row["phone"][:20],
                origin=row["origin"][:100],
                destination=row["destination"][:200],
                purpose=row["purpose"] or Purpose.HOME,
                temperature=row["temperature"][:10] or None,
                symptoms=_symptoms(row["symptoms"][:40]),
            )
            for row in rows
        )
        passage = services.PassageInput(
            client_uuid=_uuid(vehicle["client_uuid"]),
            kind=vehicle["kind"] or VehicleKind.CAR,
            arrived_at=_arrived_at(vehicle["arrived_at"]),
            plate=vehicle["plate"][:20],
            origin=vehicle["origin"][:100],
            destination=vehicle["destination"][:200],
            occupants=occupants,
            arrived_at_typed=vehicle["arrived_at"],
        )
        result = services.passage_record(
            user=user, checkpoint=checkpoint, passage=passage, request=request
        )
    except services.PassageRejected as rejected:
        errors[rejected.field or "vehicle"] = rejected.message
        result = None
    except services.PassageConflict as conflict:
        # This vehicle's UUID was saved with other data: 409, as the API answers.
        errors["vehicle"], conflict_status = str(conflict), 409
        result = None
    if result is not None:
        kept = []
        for row, outcome in zip(rows, result.occupants, strict=True):
            if outcome.status in ("created", "duplicate"):
                continue
            row["error"] = outcome.error or outcome.status
            kept.append(row)
        ids = [o.arrival_id for o in result.occupants if o.arrival_id]
        saved = list(
            selectors.arrivals_visible_to(user)
            .filter(pk__in=ids)
            .select_related("checkpoint", "community", "handoff")
            .order_by("pk")
        )
        if not kept:
            vehicle = {"client_uuid": str(uuid.uuid4()), "kind": VehicleKind.CAR}
            kept = [_blank_row()]
        rows = kept
    context = _entry_context(
        vehicle=vehicle,
        rows=rows,
        errors=errors,
        saved=[_arrival_row(a) for a in saved],
    )
    status = 200 if not errors else conflict_status
    return render(
        request, "checkpoints/entry.html", {"checkpoint": checkpoint, **context}, status=status
    )


def _arrival_row(arrival: Arrival) -> dict[str, Any]:
    handoff = arrival.handoff
    return {
        "arrival": arrival,
        "flags": [FLAG_LABELS.get(f, f) for f in arrival.risk_flags],
        "id_number": mask_id_number(arrival.id_number),
        "phone": mask_phone(arrival.phone),
        "handoff": handoff,
        "overdue": handoff is not None
        and handoff.status == HandoffStatus.PENDING
        and handoff.deadline < _now(),
    }


# -- lists --------------------------------------------------------------------------------------
PAGE = 100


@access(SCOPED)
def arrivals_view(request: HttpRequest) -> HttpResponse:
    """The list behind a count: ?checkpoint=<id> or ?community=<id>, and f=<kind>."""
    user = _user(request)
    now = _now()
    kind = request.GET.get("f", "all")
    kind = kind if kind in selectors.LIST_FILTERS else "all"
    rows = selectors.arrivals_visible_to(user)
    checkpoint_id = request.GET.get("checkpoint", "")
    community_id = request.GET.get("community", "")
    if checkpoint_id.isdigit():
        rows = rows.filter(checkpoint_id=int(checkpoint_id))
    if community_id.isdigit():
        rows = rows.filter(community_id=int(community_id))
    rows = selectors.arrivals_filtered(rows, kind, now)
    rows = rows.select_related("checkpoint", "handoff__community", "community", "passage")
    total = rows.count()
    listed = [_arrival_row(a) for a in rows.order_by("-arrived_at", "-pk")[:PAGE]]
    return render(
        request,
        "checkpoints/arrivals.html",
        {
            "rows": listed,
            "total": total,
            "kind": kind,
            "filters": selectors.LIST_FILTERS,
            "show_match": selectors.may_read_match(user),
        },
    )


@access(SCOPED)
def arrival_view(request: HttpRequest, arrival_id: int) -> HttpResponse:
    """One arrival and everything that became of it (the checkpoint reads every outcome)."""
    user = _user(request)
    arrival = selectors.access_arrival(user, arrival_id)
    events = (
        list(
            selectors.handoff_events_visible_to(user, arrival.handoff).select_related(
                "from_community", "to_community", "user"
            )
        )
        if arrival.handoff is not None
        else []
    )
    return render(
        request,
        "checkpoints/arrival.html",
        {
            "row": _arrival_row(arrival),
            "events": events,
            "show_match": selectors.may_read_match(user),
        },
    )


@access(SCOPED)
def inbox_view(request: HttpRequest) -> HttpResponse:
    """Handoffs to the user's community (street, command: theirs): pending first."""
    user = _user(request)
    now = _now()
    kind = request.GET.get("f", "pending")
    rows = selectors.handoffs_visible_to(user)
    if kind == "overdue":
        rows = selectors.overdue_for(user, now)
    elif kind in HandoffStatus.values:
        rows = rows.filter(status=kind)
    rows = rows.select_related("community").prefetch_related(selectors.handoff_arrivals())
    listed = []
    for handoff in rows.order_by("deadline", "pk")[:PAGE]:
        listed.append(
            {
                "handoff": handoff,
                "arrivals": list(handoff.arrivals.all()),
                "overdue": handoff.status == HandoffStatus.PENDING and handoff.deadline < now,
            }
        )
    return render(
        request,
        "checkpoints/inbox.html",
        {"rows": listed, "kind": kind, "statuses": HandoffStatus.choices},
    )


@access(SCOPED)
def handoff_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """A handoff, its arrivals and history; the receiving community accepts, reports not found
    (reason + note) or re-routes it here."""
    user = _user(request)
    handoff = selectors.access_handoff(user, handoff_id)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        if not selectors.may_act_on(user, handoff):
            raise Http404
        action = request.POST.get("action", "")
        try:
            if action == "accept":
                services.handoff_accept(user=user, handoff_id=handoff.pk, request=request)
            elif action == "not_found":
                services.handoff_not_found(
                    user=user,
                    handoff_id=handoff.pk,
                    reason=request.POST.get("reason", ""),
                    note=request.POST.get("note", "")[:300],
                    request=request,
                )
            elif action == "reroute":
                services.handoff_reroute(
                    user=user,
                    handoff_id=handoff.pk,
                    community_code=request.POST.get("community", "")[:32],
                    note=request.POST.get("note", "")[:300],
                    request=request,
                )
            else:
                raise services.HandoffRejected(_("unknown action"), "action")
            return redirect(reverse("checkpoints:inbox"))
        except services.HandoffClosed as closed:
            errors["action"], status = str(closed), 409
        except services.HandoffRejected as rejected:
            errors[rejected.field or "action"], status = rejected.message, 422
        handoff.refresh_from_db()
    arrivals = list(
        handoff.arrivals.select_related("checkpoint", "household", "community", "handoff").order_by(
            "pk"
        )
    )
    context = {
        "handoff": handoff,
        "arrivals": [_arrival_row(a) for a in arrivals],
        "events": selectors.handoff_events_visible_to(user, handoff).select_related(
            "from_community", "to_community", "user"
        ),
        "may_act": selectors.may_act_on(user, handoff) and handoff.status == HandoffStatus.PENDING,
        "communities": selectors.communities_for_reroute(user, handoff).order_by("path")[:500],
        "reasons": NotFoundReason.choices,
        "errors": errors,
        "overdue": handoff.status == HandoffStatus.PENDING and handoff.deadline < _now(),
        "show_match": selectors.may_read_match(user),
    }
    return render(request, "checkpoints/handoff.html", context, status=status)


@access(SCOPED)
def unmatched_view(request: HttpRequest) -> HttpResponse:
    """The district's unmatched queue: command staff route each arrival by hand."""
    user = _user(request)
    if user.role != Role.COMMAND:
        raise Http404
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            services.unmatched_route(
                user=user,
                arrival_id=int(request.POST.get("arrival", "0") or 0),
                community_code=request.POST.get("community", "")[:32],
                request=request,
            )
            return redirect(reverse("checkpoints:unmatched"))
        except services.HandoffRejected as rejected:
            errors["community"], status = rejected.message, 422
        except ValueError:
            raise Http404 from None
    rows = selectors.unmatched_queue(user).select_related("checkpoint").order_by("arrived_at")
    area = user.jurisdiction_area
    communities = (
        Area.objects.filter(prefix_q("path", area.path), level=AreaLevel.COMMUNITY).order_by(
            "path"
        )[:1000]
        if area is not None
        else []
    )
    return render(
        request,
        "checkpoints/unmatched.html",
        {
            "rows": [_arrival_row(a) for a in rows[:PAGE]],
            "total": rows.count(),
            "communities": communities,
            "errors": errors,
            "show_match": selectors.may_read_match(user),
        },
        status=status,
    )


HANDED_OUT_HEADER = (
    "到达时间",
    "卡口",
    "车牌/车次",
    "姓名",
    "身份证号",
    "联系电话",
    "来源地",
    "目的地",
    "体温",
    "风险",
)


@access(SCOPED)
def handed_out_export(request: HttpRequest) -> HttpResponse:
    """Risk arrivals bound outside the district, for the neighbouring district: masked numbers,
    purpose first, audited."""
    user = _user(request)
    rows = (
        selectors.arrivals_visible_to(user)
        .filter(route=Route.HANDED_OUT)
        .select_related("checkpoint", "passage")
    )
    if user.role != Role.COMMAND and selectors.officer_checkpoint(user) is None:
        raise Http404
    purpose, answer = purpose_or_answer(request, title=_("Handed out to another district"))
    if answer is not None:
        return answer
    buffer = io.BytesIO()
    book = new_workbook(buffer)
    sheet = book.add_worksheet(_("Handed out"))
    write_cells(sheet, 0, HANDED_OUT_HEADER)
    count = 0
    for count, arrival in enumerate(rows.order_by("arrived_at", "pk").iterator(), start=1):
        write_cells(
            sheet,
            count,
            [
                timezone.localtime(arrival.arrived_at).strftime("%Y-%m-%d %H:%M"),
                arrival.checkpoint.name,
                arrival.passage.plate,
                arrival.name,
                mask_id_number(arrival.id_number),
                mask_phone(arrival.phone),
                arrival.origin,
                arrival.destination,
                str(arrival.temperature or ""),
                ",".join(arrival.risk_flags),
            ],
        )
    book.close()
    audit_write(
        user=user,
        action="export.handed_out",
        request=request,
        purpose=purpose,
        detail={"rows": count},
    )
    response = HttpResponse(
        buffer.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = 'attachment; filename="handed-out.xlsx"'
    return response
