"""The worker's pages: "today" on the phone, one check on the phone, the evening entry of a
day's paper sheet (keyboard only), and the printable sheet for the next day."""

from __future__ import annotations

import datetime
import functools
import html
import re
import uuid
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.core.purpose import purpose_or_answer
from doorstep.core.services import audit_write
from doorstep.core.urlaccess import SCOPED, access
from doorstep.screening.rules import SYMPTOMS

from .. import field_reads, schedule, selectors, services
from ..checkform import CheckFormDamaged, check_input_from_form
from ..models import CheckMethod, CheckOutcome, KeyPerson, Measure, Monitoring
from .common import user_of

LIST_LIMIT = 300


def slot_labels() -> list[str]:
    count = schedule.slots_per_day()
    if count == 2:
        return [_("morning"), _("afternoon")]
    return [_("slot %(n)d") % {"n": n + 1} for n in range(count)]


_ID_MARK = 987654321987


def _url_of_id(name: str) -> Callable[[int], str]:
    """reverse(name, args=[id]) for many ids: reversed once, the id put in by text (a page of
    hundreds of rows spent more on reverse() than on reading its rows)."""
    head, _mark, tail = reverse(name, args=[_ID_MARK]).partition(str(_ID_MARK))

    def url(pk: int) -> str:
        return f"{head}{int(pk)}{tail}"

    return url


def _hours(value: float) -> int:
    """Whole hours as the page shows them (floatformat:0 rounds half up)."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# The today page's rows (the name, the link and the texts are escaped by _row).
ROW_DUE = (
    '<li><a class="row" href="{url}"><span><span class="addr">{name}</span><br>'
    '<span class="muted">{} · {} {}</span></span><span class="badge">{}</span></a></li>'
)
ROW_MISSED = (
    '<li><a class="row" href="{url}"><span><span class="addr">{name}</span><br>'
    '<span class="muted">{} {} · {}</span></span><span class="badge s-{}">{}</span></a></li>'
)
ROW_ENDING = (
    '<li><a class="row" href="{url}"><span class="addr">{name}</span>'
    '<span class="badge s-screened">{}</span></a></li>'
)
ROW_NEW = (
    '<li><a class="row" href="{url}"><span class="addr">{name}</span>'
    '<span class="badge">{}</span></a></li>'
)
ROW_UNREACHABLE = (
    '<li><a class="row" href="{url}"><span class="addr">{name}</span>'
    '<span class="badge s-refused">{}</span></a></li>'
)


def _text(value: object) -> str:
    """value escaped as django.utils.html.escape does (html.escape of its text), without that
    function's lazy-string wrapper: the today page escapes a few hundred values."""
    return html.escape(str(value))


def _row(name: str, url: str, template: str, *texts: object) -> dict[str, object]:
    """A row of the today page: its name, link and HTML (every value escaped)."""
    return {
        "name": name,
        "url": url,
        "html": SafeString(template.format(*map(_text, texts), url=_text(url), name=_text(name))),
    }


def _rows_html(rows: list[dict[str, object]]) -> SafeString:
    """A list's rows as one piece of HTML, each followed by a line break (the template prints
    it once instead of looping over the rows)."""
    return SafeString("".join(f"{row['html']}\n" for row in rows))


@functools.lru_cache(maxsize=32)
def _today_head(language: str | None, script_prefix: str) -> SafeString:
    """The today page's parts that depend only on the language and the site's URL prefix: the
    field pages' style and the offline outbox (its bar and the texts of its states), rendered
    once per process for each (the page rendered their ~50 template nodes every time)."""
    return SafeString(render_to_string("followup/_today_head.html"))


def _today_head_now() -> SafeString:
    """_today_head for this request's language and prefix (rendered every time with DEBUG:
    templates edited while the server runs)."""
    if settings.DEBUG:
        return _today_head.__wrapped__(get_language(), get_script_prefix())
    return _today_head(get_language(), get_script_prefix())


@access(SCOPED)
def today_view(request: HttpRequest) -> HttpResponse:
    """Checks due now, missed ones (with their escalation), monitorings ending today, key
    persons newly assigned, persons not reached today. The rows are made here, each with its
    name, link and labels, so the template only prints them."""
    user = user_of(request)
    now = timezone.now()
    current = schedule.slot_of(now)
    labels = slot_labels()
    measures = {value: str(label) for value, label in Measure.choices}
    check_url = _url_of_id("followup:check")
    key_person_url = _url_of_id("followup:key_person")
    lists = field_reads.today_lists(user, now, limit=LIST_LIMIT)
    # Each row's HTML is made here (names escaped): a page of hundreds of rows spent more in the
    # template engine, node by node, than in reading them.
    t_check, t_until = _("check"), _("until")
    due = [
        _row(
            m.name,
            check_url(m.key_person_id),
            ROW_DUE,
            measures.get(m.measure, m.measure),
            t_until,
            f"{m.end_date:%m-%d}",
            t_check,
        )
        for m in lists.due
    ]
    escalated = {
        "street": ("escalated", _("escalated to the street")),
        "community": ("escalated", _("escalated to the community")),
        "": ("revisit", _("missed")),
    }
    missed = []
    for x in lists.missed:
        badge, badge_text = escalated.get(x.escalation, escalated[""])
        missed.append(
            _row(
                x.monitoring.name,
                check_url(x.monitoring.key_person_id),
                ROW_MISSED,
                f"{x.slot.day:%m-%d}",
                labels[x.slot.index] if x.slot.index < len(labels) else "",
                _("%(h)s h late") % {"h": _hours(x.hours_late)},
                badge,
                badge_text,
            )
        )
    t_release = _("release after the last check")
    ending = [
        _row(m.name, key_person_url(m.key_person_id), ROW_ENDING, t_release) for m in lists.ending
    ]
    t_new = _("new")
    new = [_row(name, key_person_url(pk), ROW_NEW, t_new) for pk, name in lists.new]
    t_unreached = _("not reached")
    unreachable = [
        _row(m.name, check_url(m.key_person_id), ROW_UNREACHABLE, t_unreached)
        for m in lists.unreachable
    ]
    overdue_referrals = [
        {"name": name, "url": key_person_url(key_person_id), "opened_at": opened_at}
        for key_person_id, name, opened_at in lists.overdue_referrals
    ]
    context = {
        "head": _today_head_now(),
        "now": now,
        "slot_label": labels[current.index],
        "due": due,
        "missed": missed,
        "ending": ending,
        "new": new,
        "unreachable": unreachable,
        "due_html": _rows_html(due),
        "missed_html": _rows_html(missed),
        "ending_html": _rows_html(ending),
        "new_html": _rows_html(new),
        "unreachable_html": _rows_html(unreachable),
        "overdue_referrals": overdue_referrals,
    }
    return render(request, "followup/today.html", context)


def _slot_choices(monitoring: Monitoring, now: datetime.datetime) -> list[tuple[str, str]]:
    """Today's and yesterday's slots of the monitoring that have begun, newest first."""
    labels = slot_labels()
    choices = []
    for slot in schedule.monitoring_slots(
        started_at=monitoring.started_at, end_date=monitoring.end_date, until=now
    ):
        if slot.day >= schedule.local_date(now) - datetime.timedelta(days=1):
            choices.append(
                (f"{slot.day.isoformat()}/{slot.index}", f"{slot.day:%m-%d} {labels[slot.index]}")
            )
    return list(reversed(choices))


@access(SCOPED)
def check_view(request: HttpRequest, key_person_id: int) -> HttpResponse:
    """One check on the phone: temperature, symptoms (none is an answer), or "not reached"."""
    user = user_of(request)
    key_person = selectors.access_key_person(user, key_person_id)
    monitoring = key_person.monitorings.filter(status="active").first()
    now = timezone.now()
    error, field = "", ""
    data = request.POST if request.method == "POST" else None
    if data is not None:
        try:
            check = check_input_from_form(data, measured_at=now)
        except CheckFormDamaged:
            # A damaged form is refused: read as "now" it would land in another slot.
            return _check_form_damaged(request, key_person, monitoring, now, data)
        try:
            result = services.check_record(
                user=user, key_person=key_person, data=check, request=request
            )
        except services.FollowupRefused as refused:
            error, field = refused.message, refused.field
        except services.CheckConflict as conflict:
            error = str(conflict)
        else:
            note = _("Saved: %(name)s") % {"name": key_person.person.name}
            if result.status == "replaced":
                note += " — " + _("replaced the earlier check of this slot")
            if result.referral is not None:
                note += " — " + _("a fever-clinic referral was opened")
            messages.success(request, note)
            return redirect(reverse("followup:today"))
    return _check_form(
        request,
        key_person,
        monitoring,
        now,
        data,
        error=error,
        field=field,
        status=422 if error else 200,
    )


def _check_form_damaged(
    request: HttpRequest,
    key_person: KeyPerson,
    monitoring: Monitoring | None,
    now: datetime.datetime,
    data: QueryDict,
) -> HttpResponse:
    error = _(
        "The form was damaged (its slot or identifier is not valid): nothing was saved. "
        "Enter the check again."
    )
    return _check_form(
        request, key_person, monitoring, now, data, error=error, field="slot", status=400
    )


def _check_form(
    request: HttpRequest,
    key_person: KeyPerson,
    monitoring: Monitoring | None,
    now: datetime.datetime,
    data: QueryDict | None,
    *,
    error: str,
    field: str,
    status: int,
) -> HttpResponse:
    context = {
        "key_person": key_person,
        "monitoring": monitoring,
        "slots": _slot_choices(monitoring, now) if monitoring else [],
        "symptoms": list(SYMPTOMS.items()),
        "methods": CheckMethod.choices,
        "client_uuid": uuid.uuid4(),
        "error": error,
        "field": field,
        "data": data,
    }
    return render(request, "followup/check.html", context, status=status)


_CELL = re.compile(r"t-([0-9]{1,12})-([0-9]{1,3})")


def _day_param(request: HttpRequest) -> datetime.date:
    today = schedule.local_date(timezone.now())
    try:
        day = datetime.date.fromisoformat(request.GET.get("day") or request.POST.get("day") or "")
    except ValueError:
        return today
    return min(day, today)


def _sheet_rows(request: HttpRequest, day: datetime.date) -> list[Monitoring]:
    user = user_of(request)
    return list(
        selectors.active_monitorings(user)
        .filter(start_date__lte=day, end_date__gte=day)
        .order_by("key_person__community__path", "key_person__person__name", "pk")[:LIST_LIMIT]
    )


@access(SCOPED)
def paper_view(request: HttpRequest) -> HttpResponse:
    """The evening entry of a day's paper sheet: one row per person, one box per slot; type a
    temperature, "x" for not reached, "-" or nothing to leave the slot alone. Tab moves on, Enter
    saves the sheet; each box answers accepted, replaced or refused with its reason."""
    user = user_of(request)
    day = _day_param(request)
    monitorings = _sheet_rows(request, day)
    results: dict[str, str] = {}
    problems: list[str] = []
    if request.method == "POST":
        now = timezone.now()
        by_id = {m.key_person_id: m for m in monitorings}
        for line, monitoring in enumerate(monitorings, start=1):
            for index in range(schedule.slots_per_day()):
                key = f"t-{monitoring.key_person_id}-{index}"
                raw = (request.POST.get(key) or "").strip()
                if raw in ("", "-"):
                    continue
                slot = schedule.Slot(day, index)
                unreachable = raw.lower() in ("x", "×")
                try:
                    client_uuid = uuid.UUID(
                        request.POST.get(f"u-{monitoring.key_person_id}-{index}", "")
                    )
                except ValueError:
                    results[key] = "refused"
                    problems.append(
                        _("line %(n)d (%(name)s, %(slot)s): %(msg)s")
                        % {
                            "n": line,
                            "name": monitoring.key_person.person.name,
                            "slot": slot_labels()[index],
                            "msg": _("the sheet was damaged: enter this value again"),
                        }
                    )
                    continue
                check = services.CheckInput(
                    client_uuid=client_uuid,
                    measured_at=min(now, slot.ends_at - datetime.timedelta(minutes=1)),
                    outcome=CheckOutcome.UNREACHABLE if unreachable else CheckOutcome.MEASURED,
                    method=CheckMethod.PAPER,
                    temperature=None if unreachable else raw,
                    slot_date=day,
                    slot=index,
                )
                try:
                    result = services.check_record(
                        user=user,
                        key_person=by_id[monitoring.key_person_id].key_person,
                        data=check,
                        request=request,
                    )
                    results[key] = result.status
                except (services.FollowupRefused, services.CheckConflict) as refused:
                    message = getattr(refused, "message", str(refused))
                    results[key] = "refused"
                    problems.append(
                        _("line %(n)d (%(name)s, %(slot)s): %(msg)s")
                        % {
                            "n": line,
                            "name": monitoring.key_person.person.name,
                            "slot": slot_labels()[index],
                            "msg": message,
                        }
                    )
        problems += _unlisted_values(request, user, by_id, day)
    rows = [
        {
            "monitoring": m,
            "cells": [
                {
                    "key": f"t-{m.key_person_id}-{i}",
                    "uuid_key": f"u-{m.key_person_id}-{i}",
                    "uuid": uuid.uuid4(),
                    "label": label,
                    "value": request.POST.get(f"t-{m.key_person_id}-{i}", "")
                    if results.get(f"t-{m.key_person_id}-{i}") == "refused"
                    else "",
                    "result": results.get(f"t-{m.key_person_id}-{i}", ""),
                }
                for i, label in enumerate(slot_labels())
            ],
        }
        for m in monitorings
    ]
    saved = sum(1 for v in results.values() if v != "refused")
    context = {
        "day": day,
        "rows": rows,
        "labels": slot_labels(),
        "problems": problems,
        "saved": saved,
        "posted": request.method == "POST",
    }
    return render(request, "followup/paper.html", context, status=422 if problems else 200)


def _unlisted_values(
    request: HttpRequest, user: User, listed: dict[int, Monitoring], day: datetime.date
) -> list[str]:
    """Values sent for boxes the sheet no longer has (the person was released, handed to
    another worker or community since the page was opened; a slot that does not exist): each is
    refused with its reason, never dropped unseen. A name is shown only for a record the caller
    still sees."""
    slots = schedule.slots_per_day()
    unlisted: list[tuple[int, int, str]] = []
    for key in request.POST:
        match = _CELL.fullmatch(key)
        value = (request.POST.get(key) or "").strip()
        if match is None or value in ("", "-"):
            continue
        key_person_id, index = int(match[1]), int(match[2])
        if key_person_id in listed and index < slots:
            continue
        unlisted.append((key_person_id, index, value))
    names = dict(
        selectors.key_persons_visible_to(user)
        .filter(pk__in={k for k, _i, _v in unlisted})
        .values_list("pk", "person__name")
    )
    problems = []
    for key_person_id, index, value in sorted(unlisted):
        where = _("slot %(n)d") % {"n": index + 1}
        name = names.get(key_person_id)
        if name is None:
            reason = _("not saved: this person is no longer on your sheet for %(day)s")
        elif index >= slots:
            reason = _("not saved: the day has no such slot")
        else:
            reason = _("not saved: %(name)s is no longer under monitoring on %(day)s")
        problems.append(
            _("a value no longer on the sheet (%(slot)s, “%(value)s”): %(msg)s")
            % {
                "slot": where,
                "value": value[:10],
                "msg": reason % {"day": day.isoformat(), "name": name},
            }
        )
    return problems


@access(SCOPED)
def check_sheet_view(request: HttpRequest) -> HttpResponse:
    """The printable daily check sheet (names and masked numbers: asks the purpose first)."""
    day = _day_param(request)
    purpose, answer = purpose_or_answer(request, title=_("Daily check sheet"))
    if answer is not None:
        return answer
    monitorings = _sheet_rows(request, day)
    audit_write(
        user=user_of(request),
        action="export.followup_check_sheet",
        object_type="followup",
        object_id="check_sheet",
        request=request,
        purpose=purpose,
        detail={"day": day.isoformat(), "rows": len(monitorings)},
    )
    return render(
        request,
        "followup/check_sheet.html",
        {"day": day, "monitorings": monitorings, "labels": slot_labels(), "now": timezone.now()},
    )
