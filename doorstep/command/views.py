"""Pages of the command center: the daily brief (any area, any day), the list behind each number,
its XLSX export and A4 printout, the 日报 table per street, and the role dashboards.

Scoping: `?area=<code>` must lie in the user's jurisdiction (`selectors.access_brief_area`, 404
otherwise, like an area that does not exist); the lists behind the numbers are computed for that
area only. A bad day (not a date, before the first campaign, in the future) is a 400 that says
which.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area
from doorstep.areas.selectors import area_ancestors
from doorstep.core.brief import FigureValue, Section
from doorstep.core.purpose import purpose_or_answer
from doorstep.core.services import audit_write
from doorstep.core.urlaccess import SCOPED, access

from . import exports, selectors
from .brief import Brief, BriefDateError, brief_for, brief_query, check_day, first_day
from .sections import provider_for


def _home_path(request: HttpRequest) -> str:
    home = getattr(request.user, "jurisdiction_area", None)
    return home.path if isinstance(home, Area) else "/"


def _day(request: HttpRequest, area: Area) -> datetime.date:
    raw = (request.GET.get("date") or "").strip()[:10]
    if not raw:
        day = timezone.localdate()
    else:
        try:
            day = datetime.date.fromisoformat(raw)
        except ValueError:
            raise BriefDateError(
                _("“%(value)s” is not a date (YYYY-MM-DD)") % {"value": raw}
            ) from None
    check_day(area, day)
    return day


def _bad_day(request: HttpRequest, area: Area, error: BriefDateError) -> HttpResponse:
    context = {"area": area, "error": str(error), "first": first_day(area)}
    return render(request, "command/bad_day.html", context, status=400)


def _area_day(request: HttpRequest, code: str | None) -> tuple[Area, datetime.date] | HttpResponse:
    """The area asked for (404 outside the user's jurisdiction) and the day asked for, or the
    400 page saying what is wrong with the day: the start of every page of the brief."""
    area = selectors.access_brief_area(request.user, code)  # type: ignore[arg-type]
    try:
        return area, _day(request, area)
    except BriefDateError as error:
        return _bad_day(request, area, error)


def display_value(key: str, value: FigureValue) -> str:
    if value is None:
        return "—"
    if key.endswith("coverage_permille") and isinstance(value, int):
        return f"{value / 10:.1f}%"
    if key.endswith("_at") and isinstance(value, str):
        return value[:16].replace("T", " ")
    return str(value)


def _list_url(area: Area, day: datetime.date, section: str, list_key: str) -> str:
    return (
        reverse("command:brief_list")
        + f"?area={area.code}&date={day.isoformat()}&section={section}&list={list_key}"
    )


def section_view(
    section: Section, area: Area, day: datetime.date, at_meeting: dict[str, FigureValue]
) -> dict[str, Any]:
    """What the template shows of one section: headline figures with the day's change, the
    meeting's value beside (for a frozen day) and the list behind each; tables; problems."""
    rows = []
    for key, label in section.labels.items():
        value = section.figures.get(key)
        change = section.figures.get(f"change.{key}")
        rows.append(
            {
                "key": key,
                "label": label,
                "value": display_value(key, value),
                "change": change,
                "at_meeting": display_value(key, at_meeting.get(key)) if at_meeting else None,
                "moved": bool(at_meeting) and at_meeting.get(key) != value,
                "url": _list_url(area, day, section.key, section.lists[key])
                if key in section.lists
                else "",
            }
        )
    tables = []
    for table in section.tables:
        lines = []
        for prefix, name in table.rows:
            code = prefix.split(".", 1)[1]
            cells = [
                display_value(suffix, section.figures.get(f"{prefix}.{suffix}"))
                for suffix, _label in table.columns
            ]
            link = ""
            if prefix.startswith(("child.", "community.")):
                link = reverse("command:brief") + f"?area={code}&date={day.isoformat()}"
            lines.append({"name": name, "cells": cells, "url": link})
        tables.append(
            {"key": table.key, "title": table.title, "columns": table.columns, "rows": lines}
        )
    problems = [
        {
            "label": p.label,
            "count": section.figures.get(p.figure),
            "url": _list_url(area, day, section.key, p.key),
        }
        for p in section.problems
    ]
    return {
        "key": section.key,
        "title": section.title,
        "notes": section.notes,
        "rows": rows,
        "tables": tables,
        "problems": problems,
    }


TREND_FIGURES = ["households_closed", "persons_seen", "persons_flagged", "overdue_revisits"]


def trend_data(request: HttpRequest, brief: Brief) -> dict[str, Any]:
    """One series per trend figure of the first section over the frozen days, and the day shown
    as now known (the chart's last point)."""
    if not brief.sections:
        return {}
    section = brief.sections[0]
    days: list[str] = []
    series: dict[str, list[FigureValue]] = {key: [] for key in TREND_FIGURES}
    for snapshot in selectors.snapshots_of(request.user, brief.area, brief.day):  # type: ignore[arg-type]
        if snapshot.day == brief.day:
            continue
        figures = next((s["figures"] for s in snapshot.sections if s["key"] == section.key), None)
        if figures is None:
            continue
        days.append(snapshot.day.isoformat())
        for key in TREND_FIGURES:
            series[key].append(figures.get(key))
    days.append(brief.day.isoformat())
    for key in TREND_FIGURES:
        series[key].append(section.figures.get(key))
    return {
        "days": days,
        "series": [
            {"name": section.labels.get(key, key), "data": series[key]} for key in TREND_FIGURES
        ],
    }


def _brief_context(request: HttpRequest, area: Area, day: datetime.date) -> dict[str, Any]:
    brief = brief_for(area, day)
    sections = [
        section_view(s, area, day, brief.at_meeting(s.key) if brief.snapshot else {})
        for s in brief.sections
    ]
    return {
        "area": area,
        "day": day,
        "today": timezone.localdate(),
        "first": first_day(area),
        "brief": brief,
        "sections": sections,
        "crumbs": [a for a in area_ancestors(area) if a.path.startswith(_home_path(request))],
        "children": area.children.order_by("code"),
        "trend": trend_data(request, brief),
        "late": [c for c in brief.changed if c.key == "visits_on_day"],
    }


@access(SCOPED)
def brief_page(request: HttpRequest) -> HttpResponse:
    found = _area_day(request, request.GET.get("area"))
    if isinstance(found, HttpResponse):
        return found
    area, day = found
    return render(request, "command/brief.html", _brief_context(request, area, day))


@access(SCOPED)
def brief_print(request: HttpRequest) -> HttpResponse:
    """The brief on A4 for the meeting: the same figures, no navigation, tables kept whole."""
    found = _area_day(request, request.GET.get("area"))
    if isinstance(found, HttpResponse):
        return found
    area, day = found
    context = _brief_context(request, area, day)
    context["printed_at"] = timezone.localtime()
    return render(request, "command/brief_print.html", context)


@access(SCOPED)
def brief_list(request: HttpRequest) -> HttpResponse:
    """The records behind one number of the brief, in the user's area."""
    found = _area_day(request, request.GET.get("area"))
    if isinstance(found, HttpResponse):
        return found
    area, day = found
    section_key = (request.GET.get("section") or "")[:40]
    list_key = (request.GET.get("list") or "")[:40]
    provider = provider_for(section_key)
    rows = provider.list_rows(brief_query(area, day), section_key, list_key) if provider else []
    context = {
        "area": area,
        "day": day,
        "rows": rows,
        "list_key": list_key,
        "back": reverse("command:brief") + f"?area={area.code}&date={day.isoformat()}",
    }
    return render(request, "command/list.html", context)


@access(SCOPED)
def brief_export(request: HttpRequest) -> HttpResponseBase:
    """The brief as XLSX, one sheet per section (purpose asked, audited like every export)."""
    found = _area_day(request, request.GET.get("area"))
    if isinstance(found, HttpResponse):
        return found
    area, day = found
    purpose, answer = purpose_or_answer(
        request, title=_("Export the brief") + f": {area.name} {day.isoformat()}"
    )
    if answer is not None:
        return answer
    from .daily import daily_report

    brief = brief_for(area, day)
    path = exports.brief_workbook(brief, daily_report(area, day))
    audit_write(
        user=request.user,
        action="export.brief",
        obj=area,
        request=request,
        purpose=purpose,
        detail={"day": day.isoformat(), "sections": len(brief.sections)},
    )
    handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    os.unlink(path)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"brief-{area.code}-{day.isoformat()}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@access(SCOPED)
def daily_table(request: HttpRequest) -> HttpResponse:
    """The leading group's usual 日报: one table, a line per street (or per child area) with the
    key figures of every section of the day — sweep, follow-up, checkpoints — the area's own
    total last (`daily.daily_report`)."""
    from .daily import daily_report

    found = _area_day(request, request.GET.get("area"))
    if isinstance(found, HttpResponse):
        return found
    area, day = found
    report = daily_report(area, day)
    columns = report.columns
    rows = [
        {
            "name": line.name,
            "cells": [
                display_value(column.key, value)
                for column, value in zip(columns, line.values, strict=True)
            ],
            "total": line.total,
        }
        for line in report.lines
    ]
    tables = [{"groups": report.groups, "columns": columns, "rows": rows}] if columns else []
    context = {"area": area, "day": day, "tables": tables, "report": report}
    return render(request, "command/daily.html", context)


@access(SCOPED)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The first page after login (the site's home): the jurisdiction at a glance, what this user
    must do today, and how their area stands."""
    from doorstep.core.views import home_context

    from .dashboard import dashboard_context

    context = home_context(request.user)
    context.update(dashboard_context(request.user))  # type: ignore[arg-type]
    return render(request, "command/dashboard.html", context)


def _district_day(request: HttpRequest) -> tuple[Area, datetime.date] | HttpResponse:
    if not selectors.is_command(request.user):  # type: ignore[arg-type]
        from django.http import Http404

        raise Http404
    return _area_day(request, None)


@access(SCOPED)
def exchange_dhis2(request: HttpRequest) -> HttpResponse:
    """The day's figures as a DHIS2 dataValueSets import (JSON), command staff only."""
    from django.http import JsonResponse

    from .standards import data_value_set

    found = _district_day(request)
    if isinstance(found, HttpResponse):
        return found
    area, day = found
    response = JsonResponse(data_value_set(area, day), json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="dataValueSet-{day.isoformat()}.json"'
    return response


@access(SCOPED)
def exchange_adx(request: HttpRequest) -> HttpResponse:
    """The day's figures as an IHE ADX message (XML), command staff only."""
    from .standards import adx_message

    found = _district_day(request)
    if isinstance(found, HttpResponse):
        return found
    area, day = found
    response = HttpResponse(adx_message(area, day), content_type="application/adx+xml")
    response["Content-Disposition"] = f'attachment; filename="adx-{day.isoformat()}.xml"'
    return response


@access(SCOPED)
def exchange_fhir_beds(request: HttpRequest) -> HttpResponse:
    """Facility beds of the district as a FHIR MeasureReport (JSON), command staff only."""
    from .fhir import facility_beds_report

    found = _district_day(request)
    if isinstance(found, HttpResponse):
        return found
    area, day = found
    report = facility_beds_report(area, day)
    return HttpResponse(report.model_dump_json(), content_type="application/fhir+json")
