"""Coverage (不漏一户、不漏一人): households and persons by state, rolled up the area tree.

The area rollup reads the grid tallies (`tally.py`: one row per grid and state, kept in each
visit's transaction) and folds them into the children of the area asked for; every level reads
the same figures, so district, street, community and grid always add up. Per-worker figures
group the progress rows themselves (a worker's share is small).
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connections, router
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from doorstep.accounts.models import User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import in_values_q, prefix_q

from .models import (
    CLOSED_STATES,
    Campaign,
    GridTally,
    HouseholdProgress,
    ParentTally,
    ProgressState,
)
from .tally import SUM_COLUMNS, progress_sums

STATE_COLUMNS = [
    ("not_started", _("not started")),
    ("revisit", _("nobody home")),
    ("refused", _("refused")),
    ("self_reported", _("self-reported")),
    ("screened", _("screened")),
    ("vacant", _("vacant")),
    ("escalated", _("escalated")),
]


@dataclass
class CoverageRow:
    key: object  # Area, User or None
    label: str
    households: int = 0
    by_state: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    persons: int = 0
    persons_seen: int = 0
    persons_elsewhere: int = 0
    persons_flagged: int = 0
    revisits_due: int = 0

    @property
    def closed(self) -> int:
        return sum(self.by_state[s] for s in CLOSED_STATES)

    @property
    def household_coverage(self) -> float:
        return self.closed / self.households if self.households else 0.0

    @property
    def persons_accounted(self) -> int:
        return self.persons_seen + self.persons_elsewhere

    @property
    def persons_unknown(self) -> int:
        return max(0, self.persons - self.persons_accounted)

    @property
    def person_coverage(self) -> float:
        return self.persons_accounted / self.persons if self.persons else 0.0

    def add(self, state: str, n: int, persons: int, seen: int, elsewhere: int, flagged: int):
        self.households += n
        self.by_state[state] += n
        self.persons += persons
        self.persons_seen += seen
        self.persons_elsewhere += elsewhere
        self.persons_flagged += flagged


def _grouped(campaign: Campaign, area: Area, by: str):
    """Progress rows of the area's grids grouped by `by` and state. The grids are named by id
    (one list, read from the small area table) so the GROUP BY never joins a third of a million
    progress rows to their areas."""
    rows = HouseholdProgress.objects.filter(campaign=campaign)
    if not campaign.scope_area.path.startswith(area.path):  # else: the whole campaign
        rows = rows.filter(in_values_q("grid_id", _grid_ids_under(area)))
    return rows.values(by, "state").annotate(**progress_sums()).order_by()


def coverage_by_child_area(campaign: Campaign, area: Area) -> tuple[CoverageRow, list[CoverageRow]]:
    """(total of `area`, one row per child area) for the campaign. The caller has checked that
    the area lies within the user's jurisdiction (`selectors.area_in_scope`).

    The grids' parents' tallies (`ParentTally`: a district of 10,000 grids has a few hundred
    communities), with their paths, are folded into the children in Python; grids hanging
    straight under `area` are read per grid (they are its children). Three queries at any
    size, none reading every grid's row."""
    children = list(Area.objects.filter(parent=area).order_by("code"))
    rows = {child.path: CoverageRow(key=child, label=child.name) for child in children}
    by_pk = {child.pk: rows[child.path] for child in children}
    total = CoverageRow(key=area, label=area.name)
    for child, state, values in _child_sums(campaign, area):
        total.add(state, *values)
        row = rows.get(child) if isinstance(child, str) else by_pk.get(child)
        if row is not None:
            row.add(state, *values)
    return total, list(rows.values())


class ChildClosed(NamedTuple):
    """One child area's bar on a dashboard: its name, households and households closed."""

    label: str
    households: int
    closed: int


def closed_by_child_area(campaign: Campaign, area: Area) -> tuple[CoverageRow, list[ChildClosed]]:
    """The area's total (the figures of `coverage_by_child_area`) and, per child area, only what
    a dashboard's bar shows, as plain rows, in two hand-written statements (a dashboard reads
    this on every view; the ORM's building of the same queries cost more than running them):

    - the children with their own grid tallies summed (a grid child's bar: households, closed),
      one row per child, no Area object or CoverageRow per child;
    - the parent tallies under the area summed per child and state (a row's child is its area
      when that is a child of `area`, else its area's parent: a district's few hundred
      communities fall to their streets in SQL), whose sum per state is the area's total (the
      area's own row, its direct grids, included)."""
    if area.level == AreaLevel.GRID:  # no child below a grid
        total, _children = coverage_by_child_area(campaign, area)
        return total, []
    # the database the ORM would read these from (the primary, or a stale-ok block's replica)
    connection = connections[router.db_for_read(ParentTally)]
    figures: dict[object, list[Any]] = {}
    order: list[list[Any]] = []
    only_grids = True  # then no parent tally lies below the area but its own
    grid_tally, parent_tally = GridTally._meta.db_table, ParentTally._meta.db_table
    closed = ", ".join(["%s"] * len(CLOSED_STATES))
    # constant table names; every value is a parameter
    if connection.vendor == "postgresql":
        # each child's tallies summed through the (campaign, grid, state) index: joined and
        # grouped, PostgreSQL hashed every grid tally of the campaign (a seq scan of 23,579
        # rows for a community of 587 grids, 2.5-5 ms; 1.3-1.7 ms by the index)
        children_sql = f"""
            SELECT a.id, a.name, a.level, s.households, s.closed
            FROM areas_area a LEFT JOIN LATERAL (
                SELECT SUM(t.households) AS households,
                       SUM(CASE WHEN t.state IN ({closed}) THEN t.households ELSE 0 END)
                           AS closed
                FROM {grid_tally} t
                WHERE t.campaign_id = %s AND t.grid_id = a.id AND t.households > 0
            ) s ON TRUE
            WHERE a.parent_id = %s ORDER BY a.code
        """  # noqa: S608
    else:
        children_sql = f"""
            SELECT a.id, a.name, a.level, SUM(t.households),
                   SUM(CASE WHEN t.state IN ({closed}) THEN t.households ELSE 0 END)
            FROM areas_area a LEFT JOIN {grid_tally} t
                 ON t.grid_id = a.id AND t.campaign_id = %s AND t.households > 0
            WHERE a.parent_id = %s GROUP BY a.id, a.name, a.level, a.code ORDER BY a.code
        """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            children_sql, [*sorted(s.value for s in CLOSED_STATES), campaign.pk, area.pk]
        )
        for pk, name, level, households, closed_n in cursor.fetchall():
            figure: list[Any] = [name, int(households or 0), int(closed_n or 0)]
            figures[pk] = figure
            order.append(figure)
            only_grids = only_grids and level == AreaLevel.GRID
    if only_grids:  # a community: its own rows, one index lookup
        where, where_params = "t.area_id = %s", [area.pk]
    elif campaign.scope_area.path.startswith(area.path):  # the whole campaign's rows
        # (a district reads its campaign's few hundred rows, never walking its 10,000 areas)
        where, where_params = "1 = 1", []
    else:  # the area's path, as the ORM writes it for this database
        query = Area.objects.filter(prefix_q("path", area.path)).query
        where, compiled = query.get_compiler(connection=connection).compile(query.where)
        where_params = list(compiled)
    sums = ", ".join(f"SUM(t.{column})" for column in SUM_COLUMNS)
    parents_sql = f"""
        SELECT CASE WHEN areas_area.parent_id = %s THEN t.area_id
                    ELSE areas_area.parent_id END, t.state, {sums}
        FROM {parent_tally} t JOIN areas_area ON areas_area.id = t.area_id
        WHERE t.campaign_id = %s AND t.households > 0 AND {where}
        GROUP BY 1, 2
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(parents_sql, [area.pk, campaign.pk, *where_params])
        parents = cursor.fetchall()
    total = CoverageRow(key=area, label=area.name)
    per_state: dict[str, list[int]] = {}
    deeper: list[tuple[int, str, int]] = []  # a parent two levels or more below a child
    for key, state, households, *rest in parents:
        households = int(households or 0)
        state_sums = per_state.setdefault(state, [0] * len(SUM_COLUMNS))
        state_sums[0] += households
        for i, v in enumerate(rest, 1):
            state_sums[i] += int(v or 0)
        if key == area.parent_id:  # the area's own row: its direct grids, read above
            continue
        bar = figures.get(key)
        if bar is None:
            deeper.append((key, state, households))
            continue
        bar[1] += households
        if state in CLOSED_STATES:
            bar[2] += households
    if deeper:  # a tree deeper than district / street / community / grid: by path
        depth = area.path.count("/")
        by_path = {
            path: figures[pk]
            for pk, path in Area.objects.filter(parent=area).values_list("pk", "path")
        }
        paths = dict(
            Area.objects.filter(pk__in={k for k, _s, _n in deeper}).values_list("pk", "path")
        )
        for key, state, households in deeper:
            bar = by_path.get("/".join(paths[key].split("/")[: depth + 1]) + "/")
            if bar is not None:
                bar[1] += households
                if state in CLOSED_STATES:
                    bar[2] += households
    for state, state_sums in per_state.items():
        total.add(state, *state_sums)
    return total, [ChildClosed(*figure) for figure in order]


def _child_sums(campaign: Campaign, area: Area) -> Iterator[tuple[str | int | None, str, list]]:
    """(child, state, [households, persons, seen, elsewhere, flagged]) for every tally below
    `area`: `child` is the path of the child area holding the grids' parent, or the id of a
    grid straight under `area` (itself a child), or None for a row outside any child."""
    depth = area.path.count("/")
    tallies = GridTally.objects.filter(campaign=campaign, households__gt=0)
    if not campaign.scope_area.path.startswith(area.path):  # else: the whole campaign
        tallies = tallies.filter(prefix_q("grid__path", area.path))
    sums = [Sum(column) for column in SUM_COLUMNS]
    below: Iterable[tuple]
    if area.level == AreaLevel.GRID:  # no grid below: the grid's own rows, if any
        below = (
            tallies.exclude(grid__parent=area)
            .values_list("grid__parent__path", "state")
            .annotate(*sums)
            .order_by()
        )
    else:  # the grids whose parent lies below `area`, one row per parent and state
        below = (
            ParentTally.objects.filter(campaign=campaign, households__gt=0)
            .filter(prefix_q("area__path", area.path))
            .exclude(area=area)
            .values_list("area__path", "state", *SUM_COLUMNS)
        )
    for path, state, *values in below:
        values = [int(v or 0) for v in values]
        if path is None or not path.startswith(area.path) or path == area.path:
            yield None, state, values
            continue
        yield "/".join(path.split("/")[: depth + 1]) + "/", state, values
    direct = (
        tallies.filter(grid__parent=area).values_list("grid_id", "state").annotate(*sums).order_by()
    )
    for grid_id, state, *values in direct:
        yield grid_id, state, [int(v or 0) for v in values]


def _grid_ids_under(area: Area) -> list[int]:
    return list(
        Area.objects.filter(prefix_q("path", area.path), level=AreaLevel.GRID).values_list(
            "pk", flat=True
        )
    )


def coverage_by_worker(campaign: Campaign, area: Area) -> list[CoverageRow]:
    """One row per worker holding households in `area`, plus one for the unassigned."""
    rows: dict[int | None, CoverageRow] = {}
    for item in _grouped(campaign, area, "assigned_to"):
        worker_id = item["assigned_to"]
        if worker_id not in rows:
            rows[worker_id] = CoverageRow(key=worker_id, label="")
        rows[worker_id].add(
            item["state"],
            item["n"],
            item["persons"] or 0,
            item["seen"] or 0,
            item["elsewhere"] or 0,
            item["flagged"] or 0,
        )
    users = {u.pk: u for u in User.objects.filter(pk__in=[k for k in rows if k])}
    for worker_id, row in rows.items():
        row.key = users.get(worker_id)
        row.label = users[worker_id].display_name if worker_id in users else str(_("unassigned"))
    return sorted(rows.values(), key=lambda r: (r.key is None, r.label))


def gap_households(campaign: Campaign, area: Area, state: str = ""):
    """The list behind a number: progress rows of `area` in `state` ("open" = not closed)."""
    rows = HouseholdProgress.objects.filter(campaign=campaign).filter(
        prefix_q("grid__path", area.path)
    )
    if state == "open":
        rows = rows.filter(closed=False)
    elif state == "flagged":
        rows = rows.filter(persons_flagged__gt=0)
    elif state in ProgressState.values:
        rows = rows.filter(state=state)
    return rows.select_related("household", "grid", "grid__parent", "assigned_to").order_by(
        "grid__path",
        "household__building",
        "household__unit",
        "household__floor",
        "household__room",
        "household_id",
    )
