"""Coverage pages (不漏一户、不漏一人): the rollup by child area and by worker, the list behind
every number, the flagged persons, and their XLSX exports (masked, purpose asked, audited).

Scoping: the area comes from `?area=<code>` and must lie inside both the user's jurisdiction and
the campaign's scope (`selectors.area_in_scope`, 404 otherwise). A grid worker sees only the
figures of their own assignment: their worker row, and lists filtered to their households.

Every page and export here may be a few seconds stale: they read from the read replica when
there is one (`stale_ok_reads`, core/routers.py), except for a user who has just written.
"""

import os
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import F, OuterRef, Q, Subquery
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from doorstep.accounts.models import Role
from doorstep.areas.models import Area, AreaLevel
from doorstep.areas.selectors import area_ancestors
from doorstep.core.db import prefix_q
from doorstep.core.purpose import purpose_or_answer
from doorstep.core.routers import stale_ok_reads
from doorstep.core.services import audit_write
from doorstep.core.urlaccess import SCOPED, access
from doorstep.registry.models import PersonStatus
from doorstep.registry.selectors import household_head_names, persons_visible_to

from .. import coverage, exports, selectors
from ..models import (
    Campaign,
    PersonCheck,
    Presence,
    ProgressState,
    Visit,
    VisitOutcome,
    VisitSource,
)
from ..rules import FLAG_LABELS, deciding_reading

PAGE_SIZE = 50
# Filters of the list behind a number: the progress states, "open" (not closed), "flagged"
# (someone flagged), and three person-level ones (households with persons seen / elsewhere /
# not yet accounted for).
PERSON_FILTERS = {
    "persons_seen": Q(persons_seen__gt=0),
    "persons_elsewhere": Q(persons_elsewhere__gt=0),
    "persons_unknown": Q(persons_total__gt=F("persons_seen") + F("persons_elsewhere")),
}
LIST_STATES = {"", "open", "flagged", *ProgressState.values, *PERSON_FILTERS}

# The columns of the coverage table: (key, label, list filter or None for the flagged persons).
HOUSEHOLD_COLUMNS = [
    ("households", gettext_lazy("Households"), ""),
    ("screened", gettext_lazy("Screened"), "screened"),
    ("revisit", gettext_lazy("Nobody home (revisit)"), "revisit"),
    ("refused", gettext_lazy("Refused"), "refused"),
    ("self_reported", gettext_lazy("Self-reported"), "self_reported"),
    ("vacant", gettext_lazy("Vacant"), "vacant"),
    ("escalated", gettext_lazy("Escalated"), "escalated"),
    ("not_started", gettext_lazy("Not started"), "not_started"),
    ("open", gettext_lazy("Open"), "open"),
]
PERSON_COLUMNS = [
    ("persons", gettext_lazy("Persons"), ""),
    ("persons_seen", gettext_lazy("Seen"), "persons_seen"),
    ("persons_elsewhere", gettext_lazy("Accounted for elsewhere"), "persons_elsewhere"),
    ("persons_unknown", gettext_lazy("Unknown"), "persons_unknown"),
    ("persons_flagged", gettext_lazy("Flagged"), None),
]


def value_of(row: coverage.CoverageRow, key: str) -> int:
    if key == "households":
        return row.households
    if key == "open":
        return row.households - row.closed
    if key in ProgressState.values:
        return row.by_state[key]
    return getattr(row, key)


# -- shared helpers ----------------------------------------------------------------------------
def is_grid_worker(user) -> bool:
    return user.role == Role.GRID_WORKER


def countdown(campaign: Campaign, now=None) -> dict:
    """Time left until the deadline, for the list and the coverage page."""
    now = now or timezone.now()
    if campaign.closed_at is not None and campaign.closed_at <= now:
        return {"past": True, "text": _("closed")}
    seconds = int((campaign.deadline - now).total_seconds())
    if seconds <= 0:
        return {"past": True, "text": _("past the deadline")}
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    if days:
        text = _("%(d)d days %(h)d hours left") % {"d": days, "h": hours}
    else:
        text = _("%(h)d hours %(m)d minutes left") % {"h": hours, "m": rest % 3600 // 60}
    return {"past": False, "text": text, "urgent": seconds < 86400}


def resolve_area(request, campaign: Campaign) -> Area:
    """`?area=<code>`, or the user's jurisdiction clipped to the campaign's scope."""
    user = request.user
    code = request.GET.get("area", "").strip()[:32]
    if code:
        area_id = Area.objects.filter(code=code).values_list("pk", flat=True).first()
        return selectors.area_in_scope(user, campaign, area_id)
    home, scope = user.jurisdiction_area, campaign.scope_area
    if home is None:
        raise Http404
    if home.path.startswith(scope.path):
        area = home
    elif scope.path.startswith(home.path):
        area = scope
    else:
        raise Http404
    return selectors.area_in_scope(user, campaign, area.pk)


def breadcrumb(user, campaign: Campaign, area: Area) -> list[Area]:
    """The area's ancestors the user may open (inside jurisdiction and scope), then the area."""
    home = user.jurisdiction_area.path
    scope = campaign.scope_area.path
    return [a for a in area_ancestors(area) if a.path.startswith(home) and a.path.startswith(scope)]


def list_rows(request, campaign: Campaign, area: Area, state: str):
    """The progress rows behind a number, narrowed to a worker (`?worker=<id>|none`) and, for a
    grid worker, to their own households."""
    if state not in LIST_STATES:
        raise Http404
    rows = coverage.gap_households(campaign, area, "" if state in PERSON_FILTERS else state)
    if state in PERSON_FILTERS:
        rows = rows.filter(PERSON_FILTERS[state])
    worker = request.GET.get("worker", "")
    if worker == "none":
        rows = rows.filter(assigned_to__isnull=True)
    elif worker.isdigit():
        rows = rows.filter(assigned_to_id=int(worker))
    if is_grid_worker(request.user):
        rows = rows.filter(assigned_to=request.user)
    return rows


def _source_visits(campaign: Campaign, households):
    """The visit each household's progress takes its person figures from: its latest counted
    screening visit (a self-report counts once verified)."""
    latest_screening = (
        Visit.objects.filter(
            campaign=campaign, household_id=OuterRef("household_id"), outcome=VisitOutcome.SCREENED
        )
        .filter(~Q(source=VisitSource.SELF_REPORT) | Q(verified_at__isnull=False))
        .order_by("-visited_at", "-pk")
        .values("pk")[:1]
    )
    return households.order_by().annotate(source_visit=Subquery(latest_screening))


CHECK_ORDER = (
    "visit__household__grid__path",
    "visit__household__building",
    "visit__household__unit",
    "visit__household__floor",
    "visit__household__room",
    "visit__household_id",
    "person_id",
)


def _checks_of_source_visits(campaign: Campaign, households, condition: Q):
    visit_ids = _source_visits(campaign, households).values("source_visit")
    return (
        PersonCheck.objects.filter(condition, visit_id__in=visit_ids)
        .select_related(
            "person", "visit", "visit__worker", "visit__household", "visit__household__grid"
        )
        .select_related("visit__household__grid__parent")
        .order_by(*CHECK_ORDER)
    )


def flagged_checks(request, campaign: Campaign, area: Area):
    """Flagged persons of the households counted as flagged: the checks of the visit each
    household's progress takes its person figures from (its latest counted screening visit),
    so the list has exactly as many rows as the "flagged" figure."""
    households = list_rows(request, campaign, area, "flagged")
    return _checks_of_source_visits(campaign, households, Q(flagged=True))


# The person figures of the coverage table and the person checks behind each (as the progress
# fold counts them: progress.check_counts_for).
ACCOUNTED_PRESENCE = {
    "persons_seen": Q(presence=Presence.PRESENT),
    "persons_elsewhere": Q(presence__in=[Presence.IN_DISTRICT, Presence.OUT_OF_TOWN]),
}
PERSON_LISTS = ("persons", *ACCOUNTED_PRESENCE, "persons_unknown")


def person_list_rows(request, campaign: Campaign, area: Area, which: str):
    """The persons behind a person figure of the coverage table. Seen and elsewhere: the person
    checks of each household's latest screening that the figure counts. Everybody and not yet
    accounted for: the roster's active persons of the households (narrowed to a worker as the
    household lists are), the latter without those a latest screening accounted for."""
    if which not in PERSON_LISTS:
        raise Http404
    households = list_rows(request, campaign, area, "")
    if which in ACCOUNTED_PRESENCE:
        return _checks_of_source_visits(campaign, households, ACCOUNTED_PRESENCE[which])
    # Through the access layer: the progress rows name the households, the roster's own
    # scoping decides whose members the user may see.
    persons = persons_visible_to(request.user).filter(
        status=PersonStatus.ACTIVE, household_id__in=households.values("household_id")
    )
    if which == "persons_unknown":
        accounted = _checks_of_source_visits(
            campaign,
            households,
            ACCOUNTED_PRESENCE["persons_seen"] | ACCOUNTED_PRESENCE["persons_elsewhere"],
        ).filter(person_id__isnull=False)
        persons = persons.exclude(pk__in=accounted.order_by().values("person_id"))
    return persons.select_related("household", "household__grid").order_by(
        "household__grid__path",
        "household__building",
        "household__unit",
        "household__floor",
        "household__room",
        "household_id",
        "pk",
    )


@dataclass
class Cell:
    value: int
    url: str


def _link(campaign, area, key: str, state: str | None, worker=None) -> str:
    """Where a figure of the coverage table opens: the households behind a household figure,
    the persons behind a person figure (the flagged ones on their own page)."""
    params = {"area": area.code}
    if key == "persons_flagged":
        name = "screening:flagged"
    elif key in PERSON_LISTS:
        name = "screening:coverage_persons"
        params["which"] = key
    else:
        name = "screening:coverage_list"
        params["state"] = state or ""
    if worker is not None:
        params["worker"] = worker
    return reverse(name, args=[campaign.pk]) + "?" + urlencode(params)


def table_row(campaign, row: coverage.CoverageRow, area: Area, worker=None) -> dict:
    cells = []
    for key, label, state in HOUSEHOLD_COLUMNS + PERSON_COLUMNS:
        url = _link(campaign, area, key, state, worker)
        group = _("Persons") if (key, label, state) in PERSON_COLUMNS else _("Households")
        cells.append(
            {"key": key, "value": value_of(row, key), "url": url, "label": f"{group}·{label}"}
        )
    split = len(HOUSEHOLD_COLUMNS)
    return {
        "row": row,
        "household_cells": cells[:split],
        "person_cells": cells[split:],
        "percent": round(row.household_coverage * 100, 1),
    }


def coverage_tables(request, campaign: Campaign, area: Area) -> dict:
    user = request.user
    if is_grid_worker(user):
        own = next(
            (r for r in coverage.coverage_by_worker(campaign, area) if r.key == user),
            coverage.CoverageRow(key=user, label=user.display_name),
        )
        return {"total": own, "children": [], "workers": [own]}
    total, children = coverage.coverage_by_child_area(campaign, area)
    workers = (
        coverage.coverage_by_worker(campaign, area) if area.level >= AreaLevel.COMMUNITY else []
    )
    return {"total": total, "children": children, "workers": workers}


def _worker_param(row: coverage.CoverageRow) -> str:
    return str(row.key.pk) if row.key is not None else "none"


# -- pages -------------------------------------------------------------------------------------
@access(SCOPED)
@stale_ok_reads
def coverage_view(request, campaign_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    area = resolve_area(request, campaign)
    tables = coverage_tables(request, campaign, area)
    worker_view = is_grid_worker(request.user)
    total_row = table_row(
        campaign, tables["total"], area, worker=str(request.user.pk) if worker_view else None
    )
    children = [table_row(campaign, r, r.key) for r in tables["children"]]
    workers = [table_row(campaign, r, area, worker=_worker_param(r)) for r in tables["workers"]]
    context = {
        "campaign": campaign,
        "area": area,
        "crumbs": breadcrumb(request.user, campaign, area),
        "countdown": countdown(campaign),
        "household_columns": HOUSEHOLD_COLUMNS,
        "person_columns": PERSON_COLUMNS,
        "total": total_row,
        "children": children,
        "workers": workers,
        "worker_view": worker_view,
        # Only a worker, or an admin holding households themself, has a list of their own.
        "has_own_list": worker_view or selectors.has_own_list(request.user, campaign),
        "assignments": selectors.assignments_visible_to(request.user, campaign).filter(
            prefix_q("grid__path", area.path)
        )[:200],
    }
    return render(request, "screening/coverage/coverage.html", context)


@access(SCOPED)
@stale_ok_reads
def coverage_list_view(request, campaign_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    area = resolve_area(request, campaign)
    state = request.GET.get("state", "")
    rows = list_rows(request, campaign, area, state)
    page = Paginator(rows, PAGE_SIZE, allow_empty_first_page=True).get_page(request.GET.get("page"))
    items = list(page.object_list)
    heads = household_head_names([p.household_id for p in items])
    for item in items:
        item.head_name = heads.get(item.household_id, "")
    query = {k: v for k, v in request.GET.items() if k in ("area", "state", "worker")}
    context = {
        "campaign": campaign,
        "area": area,
        "crumbs": breadcrumb(request.user, campaign, area),
        "state": state,
        "state_label": _state_label(state),
        "page": page,
        "items": items,
        "query": urlencode(query),
        "outcomes": dict(VisitOutcome.choices),
    }
    return render(request, "screening/coverage/list.html", context)


def _state_label(state: str) -> str:
    labels = {
        "": _("all households"),
        "open": _("open (not closed)"),
        "flagged": _("households with flagged persons"),
        "persons_seen": _("households with persons seen"),
        "persons_elsewhere": _("households with persons accounted for elsewhere"),
        "persons_unknown": _("households with persons not yet accounted for"),
    }
    return str(labels.get(state) or dict(ProgressState.choices)[state])


@access(SCOPED)
@stale_ok_reads
def flagged_view(request, campaign_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    area = resolve_area(request, campaign)
    checks = flagged_checks(request, campaign, area)
    page = Paginator(checks, PAGE_SIZE, allow_empty_first_page=True).get_page(
        request.GET.get("page")
    )
    for check in page.object_list:
        check.flag_labels = [str(FLAG_LABELS.get(f, f)) for f in check.flags]
        check.reading = deciding_reading(check.temperature, check.temperature_recheck)
    query = {k: v for k, v in request.GET.items() if k in ("area", "worker")}
    context = {
        "campaign": campaign,
        "area": area,
        "crumbs": breadcrumb(request.user, campaign, area),
        "page": page,
        "query": urlencode(query),
    }
    return render(request, "screening/coverage/flagged.html", context)


PERSON_LIST_TITLES = {
    "persons": pgettext_lazy("person list", "All persons"),
    "persons_seen": pgettext_lazy("person list", "Persons seen"),
    "persons_elsewhere": pgettext_lazy("person list", "Persons accounted for elsewhere"),
    "persons_unknown": pgettext_lazy("person list", "Persons not yet accounted for"),
}


@access(SCOPED)
@stale_ok_reads
def coverage_persons_view(request, campaign_id: int):
    """The persons behind a person figure of the coverage table (不漏一人: who exactly is still
    unknown), masked as every list is."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    area = resolve_area(request, campaign)
    which = request.GET.get("which", "persons_unknown")
    rows = person_list_rows(request, campaign, area, which)
    page = Paginator(rows, PAGE_SIZE, allow_empty_first_page=True).get_page(request.GET.get("page"))
    query = {k: v for k, v in request.GET.items() if k in ("area", "which", "worker")}
    lists = [
        ({"which": key, "query": urlencode({**query, "which": key})}, label)
        for key, label in PERSON_LIST_TITLES.items()
    ]
    context = {
        "lists": lists,
        "campaign": campaign,
        "area": area,
        "crumbs": breadcrumb(request.user, campaign, area),
        "page": page,
        "which": which,
        "title": PERSON_LIST_TITLES[which],
        "from_checks": which in ACCOUNTED_PRESENCE,
        "presence": dict(Presence.choices),
        "query": urlencode(query),
    }
    return render(request, "screening/coverage/persons.html", context)


# -- exports -----------------------------------------------------------------------------------
def _export(request, campaign: Campaign, area: Area, *, what: str, title: str, build):
    """GET: ask for the purpose. POST: write the workbook, audit with the purpose, send it."""
    note = f"{campaign.name} · {area.display_name}. " + _(
        "ID numbers and phones are masked in the file."
    )
    purpose, answer = purpose_or_answer(request, title=_("Export") + f": {title}", note=note)
    if answer is not None:
        return answer
    sheet, header, rows, *options = build()
    path, count = exports.write_workbook(sheet, header, rows, **(options[0] if options else {}))
    audit_write(
        user=request.user,
        action=f"export.{what}",
        obj=campaign,
        request=request,
        purpose=purpose,
        detail={
            "area": area.code,
            "state": request.GET.get("state", ""),
            "worker": request.GET.get("worker", ""),
            "rows": count,
        },
    )
    handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    os.unlink(path)  # the open handle keeps the data until the response is sent
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"{sheet}-{area.code}-{stamp}.xlsx"
    return FileResponse(handle, as_attachment=True, filename=filename)


@access(SCOPED)
@stale_ok_reads
def coverage_export(request, campaign_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    area = resolve_area(request, campaign)
    columns = [(k, label) for k, label, _s in HOUSEHOLD_COLUMNS + PERSON_COLUMNS]

    def build():
        tables = coverage_tables(request, campaign, area)
        rows = [*tables["children"], *tables["workers"]]
        if not is_grid_worker(request.user):
            rows.append(tables["total"])
        header = exports.coverage_header(columns)
        return (
            _("coverage"),
            header,
            exports.coverage_rows(rows, columns, value_of),
            {
                "title_lines": exports.coverage_title(campaign, area),
                "percent_columns": frozenset({len(header) - 1}),
            },
        )

    return _export(request, campaign, area, what="coverage", title=_("Coverage"), build=build)


@access(SCOPED)
@stale_ok_reads
def coverage_list_export(request, campaign_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    area = resolve_area(request, campaign)
    state = request.GET.get("state", "")
    rows = list_rows(request, campaign, area, state)

    def build():
        return _("households"), exports.gap_header(), exports.gap_rows(rows)

    title = _("Households: %(what)s") % {"what": _state_label(state)}
    return _export(request, campaign, area, what="households", title=title, build=build)


@access(SCOPED)
@stale_ok_reads
def flagged_export(request, campaign_id: int):
    campaign = selectors.access_campaign(request.user, campaign_id)
    area = resolve_area(request, campaign)
    checks = flagged_checks(request, campaign, area)

    def build():
        return _("flagged persons"), exports.flagged_header(), exports.flagged_rows(checks)

    return _export(request, campaign, area, what="flagged", title=_("Flagged persons"), build=build)
