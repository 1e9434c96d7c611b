"""Roster counts: the households and persons on each grid's roster (and on the grids of each
grid's parent, summed), kept beside the roster.

The dashboards' header (how many households and persons the jurisdiction holds) used to COUNT
the roster on every page view: a join of every person to their household and grid, 70–120 ms at
100,000 persons and ten times that at a million. Instead every writer of the roster moves the
counts of the grids it touches inside its own transaction, and a read sums one row per grid
(`roster_totals`).

What moves them (each calls `roster_counts_add` with its deltas):
- `services.person_create`, `services.person_found_at_door`: one person more in the household's
  grid (a person without a household is on no roster);
- `services.reconciliation_moved_here`: the holder leaves its grid for the newcomer's household
  and the newcomer's record is deleted; `_fold_into_holder` deletes a bare record (no change);
- the roster import (`imports/roster.py`): new households and persons, a household moved to
  another grid (with its persons), a new household left empty and deleted.
Edits of fields (status included: moved-out persons and vacant households still count) move
nothing.

Each move is an `INSERT … ON CONFLICT DO UPDATE` adding a delta (as the grid tallies of the
sweep do), to the grids' rows and then to their parents' rows (`RosterParentCount`: a community's
grids summed, so a district's header reads a few hundred rows, not 10,000), each in id order,
so concurrent writers add up and cannot deadlock on them. A grid never changes parent (the
area import refuses that).
The counts are derived data: `roster_count_differences` compares them with a COUNT over the
roster and `roster_counts_rebuild` recomputes them (`manage.py recount_roster [--fix]`; the
migration that made the table filled it the same way).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.db import connection
from django.db.models import Count, Sum

from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import prefix_q

from .models import Household, Person, RosterCount, RosterParentCount

# (households, persons)
Counts = tuple[int, int]
ZERO: Counts = (0, 0)


def roster_counts_add(deltas: Mapping[int | None, Counts]) -> None:
    """Add (households, persons) to each grid's counts and (summed) to their parents' counts,
    inside the caller's transaction (a grid of None, a household gone meanwhile, adds
    nothing). The grids' rows first, then the parents', each in id order."""
    rows = sorted((g, h, p) for g, (h, p) in deltas.items() if g is not None and (h or p))
    if not rows:
        return
    grids = [g for g, _h, _p in rows]
    parents = dict(Area.objects.filter(pk__in=grids).values_list("pk", "parent"))
    per_parent: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for grid, h, p in rows:
        parent = parents.get(grid)
        if parent is not None:
            per_parent[parent][0] += h
            per_parent[parent][1] += p
    _upsert(RosterCount._meta.db_table, "grid_id", rows)
    moved = [(a, h, p) for a, (h, p) in sorted(per_parent.items()) if h or p]
    _upsert(RosterParentCount._meta.db_table, "area_id", moved)


def _upsert(table: str, key: str, rows: list[tuple[int, int, int]]) -> None:
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        params = [v for row in chunk for v in row]
        # The table and column names are constants of this module; every value is a parameter.
        sql = (
            f"INSERT INTO {table} ({key}, households, persons) VALUES {values} "  # noqa: S608
            f"ON CONFLICT ({key}) DO UPDATE SET "
            f"households = {table}.households + excluded.households, "
            f"persons = {table}.persons + excluded.persons"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


class Deltas:
    """Deltas gathered by a writer that touches many grids (the import's batch)."""

    def __init__(self) -> None:
        self.by_grid: dict[int, list[int]] = defaultdict(lambda: [0, 0])

    def households(self, grid_id: int, n: int = 1) -> None:
        self.by_grid[grid_id][0] += n

    def persons(self, grid_id: int, n: int = 1) -> None:
        self.by_grid[grid_id][1] += n

    def save(self) -> None:
        roster_counts_add({g: (h, p) for g, (h, p) in self.by_grid.items()})
        self.by_grid.clear()


def grid_of_household(household_id: int | None) -> int | None:
    if household_id is None:
        return None
    return Household.objects.filter(pk=household_id).values_list("grid_id", flat=True).first()


def persons_per_household(household_ids: Iterable[int]) -> dict[int, int]:
    ids = list(household_ids)
    if not ids:
        return {}
    return dict(
        Person.objects.filter(household_id__in=ids)
        .values_list("household_id")
        .annotate(n=Count("pk"))
        .order_by()
    )


def roster_totals(area: Area) -> Counts:
    """(households, persons) on the rosters of the area's grids: the rows of the grids' parents
    at and below the area (a few hundred communities in a district of 10,000 grids; the area's
    own row holds the grids straight under it), one query; a grid reads its own row."""
    if area.level == AreaLevel.GRID:
        row = RosterCount.objects.filter(grid=area).values_list("households", "persons").first()
        return row or ZERO
    found = RosterParentCount.objects.filter(prefix_q("area__path", area.path)).aggregate(
        households=Sum("households"), persons=Sum("persons")
    )
    return int(found["households"] or 0), int(found["persons"] or 0)


def roster_counts_expected() -> dict[int, Counts]:
    """The counts as they should be: a COUNT over the roster, grouped by grid."""
    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for grid, n in Household.objects.values_list("grid_id").annotate(n=Count("pk")).order_by():
        expected[grid][0] = n
    persons = (
        Person.objects.filter(household__isnull=False)
        .values_list("household__grid_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for grid, n in persons:
        expected[grid][1] = n
    return {grid: (h, p) for grid, (h, p) in expected.items() if h or p}


def roster_counts_stored() -> dict[int, Counts]:
    rows = RosterCount.objects.values_list("grid_id", "households", "persons")
    return {grid: (h, p) for grid, h, p in rows if h or p}


def parent_counts_expected(grids: Mapping[int, Counts]) -> dict[int, Counts]:
    """Each parent's counts: its grids' counts summed."""
    parents = dict(Area.objects.filter(pk__in=list(grids)).values_list("pk", "parent"))
    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for grid, (h, p) in grids.items():
        parent = parents.get(grid)
        if parent is not None:
            expected[parent][0] += h
            expected[parent][1] += p
    return {area: (h, p) for area, (h, p) in expected.items() if h or p}


def parent_counts_stored() -> dict[int, Counts]:
    rows = RosterParentCount.objects.values_list("area_id", "households", "persons")
    return {area: (h, p) for area, h, p in rows if h or p}


def roster_count_differences() -> dict[int, tuple[Counts, Counts]]:
    """area id → (stored, expected) wherever they differ: a grid's row against a COUNT over its
    roster, a parent's row against its grids' COUNTs summed."""
    expected = roster_counts_expected()
    differences = _differences(roster_counts_stored(), expected)
    differences.update(_differences(parent_counts_stored(), parent_counts_expected(expected)))
    return differences


def _differences(stored: dict[int, Counts], expected: dict[int, Counts]) -> dict:
    return {
        key: (stored.get(key, ZERO), expected.get(key, ZERO))
        for key in stored.keys() | expected.keys()
        if stored.get(key, ZERO) != expected.get(key, ZERO)
    }


def roster_counts_rebuild() -> None:
    """Recompute every grid's counts from the roster (inside the caller's transaction): one
    INSERT … SELECT, households grouped by grid with their persons grouped by household."""
    with connection.cursor() as cursor:
        for statement in rebuild_sql():
            cursor.execute(statement)


def rebuild_sql() -> list[str]:
    """The statements of a rebuild (also run by the migration that made the table)."""
    table = RosterCount._meta.db_table
    parents = RosterParentCount._meta.db_table
    household = Household._meta.db_table
    person = Person._meta.db_table
    area = Area._meta.db_table
    # Table names are constants of the models; there is no value in these statements.
    return [
        f"DELETE FROM {table}",  # noqa: S608
        f"INSERT INTO {table} (grid_id, households, persons) "  # noqa: S608
        f"SELECT h.grid_id, COUNT(*), COALESCE(SUM(m.n), 0) FROM {household} h "
        f"LEFT JOIN (SELECT household_id, COUNT(*) AS n FROM {person} "
        f"WHERE household_id IS NOT NULL GROUP BY household_id) m ON m.household_id = h.id "
        f"GROUP BY h.grid_id",
        f"DELETE FROM {parents}",  # noqa: S608
        f"INSERT INTO {parents} (area_id, households, persons) "  # noqa: S608
        f"SELECT a.parent_id, SUM(c.households), SUM(c.persons) FROM {table} c "
        f"JOIN {area} a ON a.id = c.grid_id WHERE a.parent_id IS NOT NULL GROUP BY a.parent_id",
    ]
