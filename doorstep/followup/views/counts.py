"""Point 4's figures per community and street, the list behind each number and its export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy

from doorstep.areas.models import Area
from doorstep.core.routers import stale_ok_reads as _stale_ok_reads
from doorstep.core.urlaccess import SCOPED, access

from .. import counts, selectors
from .common import PAGE_SIZE, export_answer, monitoring_header, monitoring_rows, user_of

View = Callable[..., HttpResponse | FileResponse]
# core.routers' decorator (a dashboard's reads may go to the replica), seen with its type.
stale_ok_reads: Callable[[View], View] = _stale_ok_reads

FIGURE_LABELS = {
    "under": gettext_lazy("under monitoring"),
    "checked": gettext_lazy("checked today"),
    "missed": gettext_lazy("missed a check today"),
    "lost": gettext_lazy("lost to follow-up (2 days)"),
    "ending": gettext_lazy("ending today"),
    "released": gettext_lazy("released today"),
}


def _area(request: HttpRequest) -> Area:
    user = user_of(request)
    code = request.GET.get("area", "")
    if code:
        return selectors.area_in_scope(user, code)
    if user.jurisdiction_area is None or user.role == "grid_worker":
        raise Http404
    return user.jurisdiction_area


def _link(area: Area, figure: str) -> str:
    return "?" + urlencode({"area": area.code, "figure": figure})


@access(SCOPED)
@stale_ok_reads
def counts_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    area = _area(request)
    total, children = counts.counts_by_child_area(user, area, timezone.now())
    columns = [(key, FIGURE_LABELS[key]) for key in counts.FIGURE_KEYS]

    def cells(row: counts.CountRow) -> list[dict[str, Any]]:
        assert row.area is not None
        return [{"value": row.figures.get(k, 0), "link": _link(row.area, k)} for k, _l in columns]

    context = {
        "area": area,
        "columns": columns,
        "total": {"row": total, "cells": cells(total)},
        "children": [{"row": r, "cells": cells(r)} for r in children],
    }
    return render(request, "followup/counts.html", context)


def _figure(request: HttpRequest) -> str:
    figure = request.GET.get("figure", "under")
    return figure if figure in counts.FIGURES else "under"


@access(SCOPED)
@stale_ok_reads
def count_list_view(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    area, figure = _area(request), _figure(request)
    rows = counts.figure_list(user, area, figure, timezone.now())
    page = Paginator(rows, PAGE_SIZE, allow_empty_first_page=True).get_page(request.GET.get("page"))
    context = {
        "area": area,
        "figure": figure,
        "label": FIGURE_LABELS[figure],
        "page": page,
        "query": urlencode({"area": area.code, "figure": figure}),
    }
    return render(request, "followup/count_list.html", context)


@access(SCOPED)
@stale_ok_reads
def count_export_view(request: HttpRequest) -> HttpResponse | FileResponse:
    user = user_of(request)
    area, figure = _area(request), _figure(request)

    def build() -> tuple[str, list[str], Any]:
        rows = counts.figure_list(user, area, figure, timezone.now())
        return (
            str(FIGURE_LABELS[figure])[:31],
            monitoring_header(),
            monitoring_rows(rows.iterator(chunk_size=1000)),
        )

    title = f"{area.display_name} · {FIGURE_LABELS[figure]}"
    return export_answer(
        request,
        what="followup_figure",
        title=title,
        note="",
        detail={"area": area.code, "figure": figure},
        build=build,
    )
