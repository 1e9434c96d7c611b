"""The sweep's section of the daily brief (分析研判): households and persons by state, change since
the day before (added by command from the trend figures), the sub-areas ranked by coverage and
by open work, the freshness of the data, and the open problems as lists.

Two ways to the same figures, compared by `verify_brief`:

- fast: today's progress as stored (one GROUP BY over the progress rows), or for a past moment
  the campaign's fold in SQL restricted to the visits known then (`progress_sql`, `as_of`);
- raw: every visit of the area read and folded in Python with `progress.fold_visits`.

Both produce per-grid tallies, and the sections of any area are sums over its grids, so the
evening freeze computes the fold once and writes every area of the district from it.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.brief import (
    BriefQuery,
    FigureValue,
    ListRow,
    ProblemList,
    Section,
    Table,
    Texts,
)
from doorstep.core.db import in_values_q, prefix_q
from doorstep.registry.models import Person, PersonStatus

from .models import (
    CLOSED_STATES,
    Assignment,
    Campaign,
    HouseholdProgress,
    ProgressState,
    Visit,
    VisitSource,
)
from .progress import SLOTS, check_counts_for, fold_visits
from .progress_sql import expected_progress_sql

STATES = [s.value for s in ProgressState]
# Figures compared with the day before.
TREND = [
    "households_closed",
    "households_open",
    *[f"h_{s}" for s in STATES],
    "persons_seen",
    "persons_elsewhere",
    "persons_flagged",
    "overdue_revisits",
]


@dataclass
class Tally:
    """What a set of grids holds on one day, as known at one moment."""

    states: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    persons: int = 0
    seen: int = 0
    elsewhere: int = 0
    flagged: int = 0
    overdue: int = 0
    visited: int = 0  # visits that happened on the day
    entered: int = 0  # records typed on the day
    last_entered: datetime.datetime | None = None

    def add(self, other: Tally) -> None:
        for state, n in other.states.items():
            self.states[state] += n
        self.persons += other.persons
        self.seen += other.seen
        self.elsewhere += other.elsewhere
        self.flagged += other.flagged
        self.overdue += other.overdue
        self.visited += other.visited
        self.entered += other.entered
        if other.last_entered and (
            self.last_entered is None or other.last_entered > self.last_entered
        ):
            self.last_entered = other.last_entered

    @property
    def households(self) -> int:
        return sum(self.states.values())

    @property
    def closed(self) -> int:
        return sum(self.states[s] for s in CLOSED_STATES)


@dataclass
class CampaignDay:
    """Per-grid tallies of one campaign (grids under the query's area), entries per worker, and
    the workers assigned to each grid."""

    campaign: Campaign
    grids: dict[int, Tally] = field(default_factory=lambda: defaultdict(Tally))
    worker_entered: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    worker_grids: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


# -- which campaigns, which grids -------------------------------------------------------------
def campaigns_on(query: BriefQuery) -> list[Campaign]:
    """Campaigns overlapping the area (scope above it or inside it) that ran on the day."""
    area = query.area
    ancestors = [c for c in area.path.strip("/").split("/") if c]
    rows = Campaign.objects.filter(
        Q(scope_area__code__in=ancestors) | prefix_q("scope_area__path", area.path)
    ).filter(starts_at__lt=query.day_end)
    rows = rows.filter(Q(closed_at__isnull=True) | Q(closed_at__gte=query.day_start))
    return list(rows.select_related("scope_area").order_by("starts_at", "pk"))


def _grid_ids(area: Area) -> list[int]:
    return list(
        Area.objects.filter(prefix_q("path", area.path), level=AreaLevel.GRID).values_list(
            "pk", flat=True
        )
    )


def _restrict(rows: QuerySet, field_name: str, campaign: Campaign, area: Area) -> QuerySet:
    if campaign.scope_area.path.startswith(area.path):
        return rows  # the whole campaign lies in the area
    return rows.filter(in_values_q(field_name, _grid_ids(area)))


def _path_under_sql(path: str) -> tuple[str, dict[str, str]]:
    """`path` starts with the area's path, for raw SQL, as `core.db.prefix_q` does it: an
    escaped LIKE on PostgreSQL (an area code may hold `_` or `%`), a code-point range on SQLite
    (whose LIKE ignores case)."""
    if connection.vendor == "postgresql":
        escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return "path LIKE %(path)s ESCAPE '\\'", {"path": escaped + "%"}
    upper = path[:-1] + chr(ord(path[-1]) + 1)
    return "path >= %(path)s AND path < %(path_end)s", {"path": path, "path_end": upper}


def revisit_due_before(until: datetime.datetime) -> datetime.datetime:
    """The moment a household's last counted visit must precede for its revisit to fall due
    before `until`: the latest slot start before `until`. `next_revisit(t)` is the first slot
    start after t, so `next_revisit(t) < until` exactly when `t <` this moment. The fold of a
    past day compares `last_visit_at` with it, a plain comparison both engines run, instead of
    computing every household's due time (on SQLite a Python function per row)."""
    local = timezone.localtime(until)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(3):
        day = midnight - datetime.timedelta(days=back)
        for start, _end in reversed(SLOTS):
            candidate = day.replace(hour=start)
            if candidate < local:
                return candidate
    raise AssertionError("a slot starts every day")  # pragma: no cover


def _db_time(value: datetime.datetime) -> object:
    return connection.ops.adapt_datetimefield_value(value)


# -- the fast way ------------------------------------------------------------------------------
def _state_rows_fast(
    campaign: Campaign, query: BriefQuery, *, by_community: bool = False
) -> Iterable[tuple]:
    """(grid id, state, households, persons, seen, elsewhere, flagged, overdue); by_community:
    the grid's community id instead (a few dozen rows where a district has 10,000 grids)."""
    if query.is_live:
        rows = _restrict(
            HouseholdProgress.objects.filter(campaign=campaign), "grid_id", campaign, query.area
        )
        overdue = Q(state=ProgressState.REVISIT, revisit_due_at__lt=query.until)
        leaf = "grid__parent_id" if by_community else "grid_id"
        return rows.values_list(leaf, "state").annotate(
            n=Count("id"),
            persons=Sum("persons_total"),
            seen=Sum("persons_seen"),
            elsewhere=Sum("persons_elsewhere"),
            flagged=Sum("persons_flagged"),
            overdue=Count("id", filter=overdue),
        )
    progress = HouseholdProgress._meta.db_table
    grids = ""
    params: dict[str, Any] = {
        "campaign": campaign.pk,
        "until": _db_time(query.until),
        "known": _db_time(query.known_at),
        "due_before": _db_time(revisit_due_before(query.until)),
        "revisit": ProgressState.REVISIT.value,
    }
    if not campaign.scope_area.path.startswith(query.area.path):
        under, path_params = _path_under_sql(query.area.path)
        grids = f"AND pr.grid_id IN (SELECT id FROM {Area._meta.db_table} WHERE {under})"  # noqa: S608
        params.update(path_params)
    leaf = "ga.parent_id" if by_community else "pr.grid_id"
    sql = f"""
        SELECT {leaf}, e.state, COUNT(*), SUM(e.persons_total), SUM(e.persons_seen),
               SUM(e.persons_elsewhere), SUM(e.persons_flagged),
               SUM(CASE WHEN e.state = %(revisit)s AND e.last_visit_at < %(due_before)s
                        THEN 1 ELSE 0 END)
        FROM ({expected_progress_sql(as_of=True, revisit_due=False)}) e
        JOIN {progress} pr ON pr.id = e.id
        JOIN {Area._meta.db_table} ga ON ga.id = pr.grid_id
        WHERE 1 = 1 {grids}
        GROUP BY {leaf}, e.state
    """  # noqa: S608 - table names and the fold are constants; values are parameters
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute(sql, params)
        return cursor.fetchall()


def _visits_known(campaign: Campaign, query: BriefQuery) -> QuerySet[Visit]:
    rows = Visit.objects.filter(campaign=campaign, entered_at__lte=query.known_at)
    return _restrict(rows, "household__grid_id", campaign, query.area)


def _day_filters(query: BriefQuery) -> tuple[Q, Q, Q]:
    visited = Q(visited_at__gte=query.day_start, visited_at__lt=query.until)
    entered_until = min(query.day_end, query.known_at)
    entered = Q(entered_at__gte=query.day_start, entered_at__lt=entered_until)
    # "last record" looks back to the end of the day at most
    last = Q(entered_at__lt=entered_until)
    return visited, entered, last


def campaign_day_fast(
    campaign: Campaign, query: BriefQuery, *, by_community: bool = False
) -> CampaignDay:
    """The day's tallies per grid, or per community (`by_community`: enough for a district's
    or a street's section, whose tables go down to communities; `grids` then holds community
    ids)."""
    day = CampaignDay(campaign=campaign)
    for grid_id, state, n, persons, seen, elsewhere, flagged, overdue in _state_rows_fast(
        campaign, query, by_community=by_community
    ):
        tally = day.grids[grid_id]  # SUM over the fold is numeric on PostgreSQL: whole numbers
        tally.states[state] += int(n)
        tally.persons += int(persons or 0)
        tally.seen += int(seen or 0)
        tally.elsewhere += int(elsewhere or 0)
        tally.flagged += int(flagged or 0)
        tally.overdue += int(overdue or 0)
    visited, entered, last = _day_filters(query)
    visits = _visits_known(campaign, query)
    for grid_id, n_visited, n_entered, last_at in (
        visits.values_list("household__grid__parent_id" if by_community else "household__grid_id")
        .annotate(
            v=Count("id", filter=visited),
            e=Count("id", filter=entered),
            last=Max("entered_at", filter=last),
        )
        .order_by()
    ):
        tally = day.grids[grid_id]
        tally.visited += n_visited
        tally.entered += n_entered
        tally.last_entered = last_at
    for worker_id, n_entered in (
        visits.filter(entered, worker__isnull=False)
        .values_list("worker_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        day.worker_entered[worker_id] = n_entered
    _assigned(day, query, by_community=by_community)
    return day


def _assigned(day: CampaignDay, query: BriefQuery, *, by_community: bool = False) -> None:
    rows = _restrict(
        Assignment.objects.filter(campaign=day.campaign, created_at__lt=query.until),
        "grid_id",
        day.campaign,
        query.area,
    )
    leaf = "grid__parent_id" if by_community else "grid_id"
    for worker_id, grid_id in rows.values_list("worker_id", leaf):
        day.worker_grids[worker_id].add(grid_id)


# -- the raw way -------------------------------------------------------------------------------
# Ids per query when the raw way reads rows by a list of ids (SQLite takes 32,766 parameters)
RAW_BATCH = 10_000


def campaign_day_raw(campaign: Campaign, query: BriefQuery) -> CampaignDay:
    """The same figures from the visits themselves: each household's visits known at the
    moment, folded in Python; counts by walking the visits."""
    day = CampaignDay(campaign=campaign)
    progress = _restrict(
        HouseholdProgress.objects.filter(campaign=campaign), "grid_id", campaign, query.area
    )
    homes = dict(progress.values_list("household_id", "grid_id"))
    # the households by subquery: a district's 340,000 ids as parameters pass SQLite's limit
    households = progress.values("household_id")
    members: dict[int, int] = defaultdict(int)
    for household_id in Person.objects.filter(
        household_id__in=households, status=PersonStatus.ACTIVE
    ).values_list("household_id", flat=True):
        members[household_id] += 1
    by_household: dict[int, list[Visit]] = defaultdict(list)
    entered_until = min(query.day_end, query.known_at)
    for visit in Visit.objects.filter(campaign=campaign, household_id__in=households):
        if visit.entered_at > query.known_at:
            continue
        grid_id = homes[visit.household_id]
        tally = day.grids[grid_id]
        if query.day_start <= visit.visited_at < query.until:
            tally.visited += 1
        if visit.entered_at < entered_until:
            if visit.entered_at >= query.day_start:
                tally.entered += 1
                if visit.worker_id is not None:
                    day.worker_entered[visit.worker_id] += 1
            if tally.last_entered is None or visit.entered_at > tally.last_entered:
                tally.last_entered = visit.entered_at
        if visit.visited_at >= query.until:
            continue
        if visit.source == VisitSource.SELF_REPORT and (
            visit.verified_at is not None and visit.verified_at > query.known_at
        ):
            visit.verified_at = None  # not yet verified at that moment
        by_household[visit.household_id].append(visit)
    ids = [v.pk for visits in by_household.values() for v in visits]
    counts: dict[int, dict] = {}
    for start in range(0, len(ids), RAW_BATCH):  # SQLite's limit of parameters again
        counts.update(check_counts_for(ids[start : start + RAW_BATCH]))
    for household_id, grid_id in homes.items():
        values = fold_visits(
            campaign, by_household.get(household_id, []), counts, members[household_id]
        )
        tally = day.grids[grid_id]
        tally.states[values.state] += 1
        tally.persons += values.persons_total
        tally.seen += values.persons_seen
        tally.elsewhere += values.persons_elsewhere
        tally.flagged += values.persons_flagged
        due = values.revisit_due_at
        if values.state == ProgressState.REVISIT and due is not None and due < query.until:
            tally.overdue += 1
    _assigned(day, query)
    return day


# -- from tallies to sections ------------------------------------------------------------------
class TreeArea(NamedTuple):
    """An area of the tree as the sections read it (plain rows: building 10,000 model instances
    took most of a district brief's time)."""

    pk: int
    code: str
    name: str
    level: int
    parent_id: int | None
    path: str


@dataclass
class AreaTree:
    """The areas under a root with the sums of their grids."""

    areas: dict[int, TreeArea]
    children: dict[int, list[int]]
    sums: dict[int, Tally]
    communities: dict[int, list[int]]  # area → communities inside it (or itself)
    workers: dict[int, set[int]]  # area → workers assigned inside it

    def display_name(self, area: TreeArea) -> str:
        """`Area.display_name` from the tree's own rows (that property reads the grid's parent:
        a query per grid, 10,000 at the district's freeze)."""
        parent = self.areas.get(area.parent_id) if area.parent_id else None
        if area.level == AreaLevel.GRID and parent is not None:
            return f"{parent.name} {area.name}"
        return area.name


def area_tree(root: Area, day: CampaignDay, *, by_community: bool = False) -> AreaTree:
    """The tree under `root` with the day's sums; by_community: the day was tallied per
    community, and the tree stops there."""
    rows = Area.objects.filter(prefix_q("path", root.path))
    if by_community:
        rows = rows.filter(level__lte=AreaLevel.COMMUNITY)
    areas = {
        row[0]: TreeArea(*row)
        for row in rows.values_list("pk", "code", "name", "level", "parent_id", "path")
    }
    by_path = {a.path: a.pk for a in areas.values()}
    children: dict[int, list[int]] = defaultdict(list)
    for area in sorted(areas.values(), key=lambda a: a.code):
        if area.parent_id in areas:
            children[area.parent_id].append(area.pk)

    def ancestors(area: TreeArea) -> list[int]:
        parts = [c for c in area.path.strip("/").split("/") if c]
        paths = ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
        return [by_path[p] for p in paths if p in by_path]

    sums: dict[int, Tally] = defaultdict(Tally)
    for grid_id, tally in day.grids.items():
        grid = areas.get(grid_id)
        if grid is None:
            continue
        for pk in ancestors(grid):
            sums[pk].add(tally)
    communities: dict[int, list[int]] = defaultdict(list)
    for area in sorted(areas.values(), key=lambda a: a.code):
        if area.level == AreaLevel.COMMUNITY:
            for pk in ancestors(area):
                communities[pk].append(area.pk)
    workers: dict[int, set[int]] = defaultdict(set)
    for worker_id, grid_ids in day.worker_grids.items():
        for grid_id in grid_ids:
            if grid_id in areas:
                for pk in ancestors(areas[grid_id]):
                    workers[pk].add(worker_id)
    return AreaTree(
        areas=areas, children=children, sums=sums, communities=communities, workers=workers
    )


def _iso(value: datetime.datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else None


STATE_LABELS = {s.value: str(s.label) for s in ProgressState}


def section_for(
    area: Area, tree: AreaTree, day: CampaignDay, worker_names: dict[int, str]
) -> Section:
    _ = Texts()
    campaign = day.campaign
    total = tree.sums.get(area.pk, Tally())
    figures: dict[str, FigureValue] = {
        "households": total.households,
        "households_closed": total.closed,
        "households_open": total.households - total.closed,
        **{f"h_{s}": total.states.get(s, 0) for s in STATES},
        "persons": total.persons,
        "persons_seen": total.seen,
        "persons_elsewhere": total.elsewhere,
        "persons_unknown": max(0, total.persons - total.seen - total.elsewhere),
        "persons_flagged": total.flagged,
        "overdue_revisits": total.overdue,
        "visits_on_day": total.visited,
        "entered_on_day": total.entered,
        "last_entered_at": _iso(total.last_entered),
    }
    labels = {
        "households": _("Households"),
        "households_closed": _("Households closed"),
        "households_open": _("Households open"),
        **{f"h_{s}": STATE_LABELS[s] for s in STATES},
        "persons": _("Persons"),
        "persons_seen": _("Persons seen"),
        "persons_elsewhere": _("Persons accounted for elsewhere"),
        "persons_unknown": _("Persons not yet accounted for"),
        "persons_flagged": _("Persons flagged"),
        "overdue_revisits": _("Revisits overdue"),
        "visits_on_day": _("Visits made on the day"),
        "entered_on_day": _("Records typed on the day"),
        "last_entered_at": _("Last record typed at"),
    }
    lists = {f"h_{s}": f"state:{s}" for s in STATES}
    lists.update(
        households="all",
        households_open="open",
        households_closed="closed",
        persons_flagged="flagged",
        overdue_revisits="overdue",
    )
    tables: list[Table] = []
    children = tree.children.get(area.pk, [])
    if area.level < AreaLevel.GRID and children:
        rows = []
        for child_id in children:
            child = tree.areas[child_id]
            sums = tree.sums.get(child_id, Tally())
            prefix = f"child.{child.code}"
            figures[f"{prefix}.households"] = sums.households
            figures[f"{prefix}.closed"] = sums.closed
            figures[f"{prefix}.coverage_permille"] = (
                sums.closed * 1000 // sums.households if sums.households else 0
            )
            figures[f"{prefix}.open"] = sums.households - sums.closed
            figures[f"{prefix}.overdue"] = sums.overdue
            figures[f"{prefix}.escalated"] = sums.states.get(ProgressState.ESCALATED, 0)
            rows.append((prefix, tree.display_name(child), sums))
        columns = [
            ("households", _("Households")),
            ("closed", _("Closed")),
            ("coverage_permille", _("Coverage ‰")),
            ("open", _("Open")),
            ("overdue", _("Revisits overdue")),
            ("escalated", _("Escalated")),
        ]
        by_coverage = sorted(rows, key=lambda r: (r[2].closed / (r[2].households or 1), r[1]))
        by_work = sorted(
            rows, key=lambda r: (-(r[2].overdue + r[2].states.get("escalated", 0)), r[1])
        )
        tables.append(
            Table(
                "rank_coverage",
                _("Sub-areas by coverage (lowest first)"),
                columns,
                [(p, n) for p, n, _s in by_coverage],
            )
        )
        tables.append(
            Table(
                "rank_work",
                _("Sub-areas by open work (most first)"),
                columns,
                [(p, n) for p, n, _s in by_work],
            )
        )
    quiet_communities = 0
    community_rows = []
    for community_id in tree.communities.get(area.pk, []):
        community = tree.areas[community_id]
        sums = tree.sums.get(community_id, Tally())
        prefix = f"community.{community.code}"
        figures[f"{prefix}.entered"] = sums.entered
        figures[f"{prefix}.last_entered_at"] = _iso(sums.last_entered)
        quiet_communities += sums.entered == 0
        community_rows.append((prefix, community.name))
    if community_rows:
        tables.append(
            Table(
                "freshness",
                _("Data freshness by community"),
                [("entered", _("Records typed on the day")), ("last_entered_at", _("Last record"))],
                community_rows,
            )
        )
    quiet_workers = 0
    worker_rows = []
    for worker_id in sorted(tree.workers.get(area.pk, set())):
        entered = day.worker_entered.get(worker_id, 0)
        figures[f"worker.{worker_id}.entered"] = entered
        quiet_workers += entered == 0
        worker_rows.append((f"worker.{worker_id}", worker_names.get(worker_id, str(worker_id))))
    if worker_rows:
        tables.append(
            Table(
                "workers",
                _("Records typed on the day by worker"),
                [("entered", _("Records typed on the day"))],
                worker_rows,
            )
        )
    figures["quiet_communities"] = quiet_communities
    figures["quiet_workers"] = quiet_workers
    labels["quiet_communities"] = _("Communities that typed nothing on the day")
    labels["quiet_workers"] = _("Workers who typed nothing on the day")
    lists["quiet_communities"] = "quiet_communities"
    lists["quiet_workers"] = "quiet_workers"
    problems = [
        ProblemList("overdue", _("Revisits overdue"), "overdue_revisits"),
        ProblemList("state:escalated", _("Escalated households"), "h_escalated"),
        ProblemList("quiet_communities", labels["quiet_communities"], "quiet_communities"),
        ProblemList("quiet_workers", labels["quiet_workers"], "quiet_workers"),
    ]
    return Section(
        key=f"sweep.{campaign.pk}",
        title=_("Sweep: %(name)s") % {"name": campaign.name},
        figures=figures,
        labels=labels,
        lists=lists,
        trend=list(TREND),
        tables=tables,
        problems=problems,
        notes=[
            _("Campaign from %(start)s to %(end)s")
            % {
                "start": timezone.localtime(campaign.starts_at).date().isoformat(),
                "end": timezone.localtime(campaign.deadline).date().isoformat(),
            }
        ],
    )


def _worker_names(days: list[CampaignDay]) -> dict[int, str]:
    ids = {w for day in days for w in day.worker_grids}
    return {u.pk: u.display_name for u in User.objects.filter(pk__in=ids)}


class SweepProvider:
    key = "sweep"

    def first_day(self, area: Area) -> datetime.date | None:
        ancestors = [c for c in area.path.strip("/").split("/") if c]
        start = Campaign.objects.filter(
            Q(scope_area__code__in=ancestors) | prefix_q("scope_area__path", area.path)
        ).aggregate(first=Min("starts_at"))["first"]
        return timezone.localtime(start).date() if start else None

    def _sections(self, query: BriefQuery, *, raw: bool) -> list[Section]:
        # above the communities, tallies per community are enough (a district page read 10,000
        # grid rows otherwise); the raw way stays per grid
        coarse = not raw and query.area.level < AreaLevel.COMMUNITY
        days = [
            campaign_day_raw(campaign, query)
            if raw
            else campaign_day_fast(campaign, query, by_community=coarse)
            for campaign in campaigns_on(query)
        ]
        names = _worker_names(days)
        return [
            section_for(query.area, area_tree(query.area, day, by_community=coarse), day, names)
            for day in days
        ]

    def sections(self, query: BriefQuery) -> list[Section]:
        return self._sections(query, raw=False)

    def sections_raw(self, query: BriefQuery) -> list[Section]:
        return self._sections(query, raw=True)

    def sections_for_areas(self, query: BriefQuery, areas: list[Area]) -> dict[int, list[Section]]:
        result: dict[int, list[Section]] = {a.pk: [] for a in areas}
        # all above the communities (the district's 日报: the district and its streets): per
        # community is enough, as for one area's brief
        coarse = all(a.level < AreaLevel.COMMUNITY for a in areas)
        for campaign in campaigns_on(query):
            day = campaign_day_fast(campaign, query, by_community=coarse)
            tree = area_tree(query.area, day, by_community=coarse)
            names = _worker_names([day])
            scope = campaign.scope_area.path
            for area in areas:
                # a campaign speaks for the areas it overlaps
                if area.path.startswith(scope) or scope.startswith(area.path):
                    result[area.pk].append(section_for(area, tree, day, names))
        return result

    def list_rows(self, query: BriefQuery, section_key: str, list_key: str) -> list[ListRow]:
        campaign_id = section_key.removeprefix("sweep.")
        campaign = next((c for c in campaigns_on(query) if str(c.pk) == campaign_id), None)
        if campaign is None:
            return []
        if list_key in ("quiet_communities", "quiet_workers"):
            return self._quiet_rows(campaign, query, list_key)
        states = _household_states(campaign, query)
        wanted: list[int]
        if list_key == "all":
            wanted = list(states)
        elif list_key == "open":
            wanted = [h for h, s in states.items() if s[0] not in CLOSED_STATES]
        elif list_key == "closed":
            wanted = [h for h, s in states.items() if s[0] in CLOSED_STATES]
        elif list_key == "flagged":
            wanted = [h for h, s in states.items() if s[2] > 0]
        elif list_key == "overdue":
            wanted = [h for h, s in states.items() if s[1]]
        elif list_key.startswith("state:") and list_key[6:] in STATES:
            wanted = [h for h, s in states.items() if s[0] == list_key[6:]]
        else:
            return []
        rows = (
            HouseholdProgress.objects.filter(campaign=campaign, household_id__in=wanted[:2000])
            .select_related("household", "grid", "grid__parent")
            .order_by("grid__path", "household__household_number")
        )
        return [
            ListRow(
                label=row.household.household_number,
                detail=f"{row.grid.display_name} · {STATE_LABELS[states[row.household_id][0]]}",
                url=reverse("registry:household_detail", args=[row.household_id]),
            )
            for row in rows
        ]

    def _quiet_rows(self, campaign: Campaign, query: BriefQuery, list_key: str) -> list[ListRow]:
        day = campaign_day_fast(campaign, query)
        tree = area_tree(query.area, day)
        if list_key == "quiet_communities":
            return [
                ListRow(
                    label=tree.areas[c].name,
                    detail=_("last record: %(at)s")
                    % {"at": _iso(tree.sums.get(c, Tally()).last_entered) or "—"},
                    url=reverse("command:brief")
                    + f"?area={tree.areas[c].code}&date={query.day.isoformat()}",
                )
                for c in tree.communities.get(query.area.pk, [])
                if tree.sums.get(c, Tally()).entered == 0
            ]
        names = _worker_names([day])
        return [
            ListRow(label=names.get(w, str(w)), detail="", url="")
            for w in sorted(tree.workers.get(query.area.pk, set()))
            if day.worker_entered.get(w, 0) == 0
        ]


def _household_states(campaign: Campaign, query: BriefQuery) -> dict[int, tuple[str, bool, int]]:
    """household id → (state, revisit overdue, persons flagged) as known at the query's moment."""
    if query.is_live:
        rows = _restrict(
            HouseholdProgress.objects.filter(campaign=campaign), "grid_id", campaign, query.area
        )
        return {
            h: (s, s == ProgressState.REVISIT and d is not None and d < query.until, f)
            for h, s, d, f in rows.values_list(
                "household_id", "state", "revisit_due_at", "persons_flagged"
            )
        }
    progress = HouseholdProgress._meta.db_table
    area = Area._meta.db_table
    under, path_params = _path_under_sql(query.area.path)
    sql = f"""
        SELECT e.household_id, e.state,
               CASE WHEN e.state = %(revisit)s AND e.last_visit_at < %(due_before)s
                    THEN 1 ELSE 0 END,
               e.persons_flagged
        FROM ({expected_progress_sql(as_of=True, revisit_due=False)}) e
        JOIN {progress} pr ON pr.id = e.id
        WHERE pr.grid_id IN (SELECT id FROM {area} WHERE {under})
    """  # noqa: S608 - constants only; values are parameters
    params: dict[str, Any] = {
        "campaign": campaign.pk,
        "until": _db_time(query.until),
        "known": _db_time(query.known_at),
        "due_before": _db_time(revisit_due_before(query.until)),
        "revisit": ProgressState.REVISIT.value,
        **path_params,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {h: (s, bool(o), f) for h, s, o, f in cursor.fetchall()}
