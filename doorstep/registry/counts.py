"""Roster counts: the households and persons on each grid's roster, kept beside the roster.

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
sweep do), rows touched in grid order, so concurrent writers add up and cannot deadlock on them.
The counts are derived data: `roster_count_differences` compares them with a COUNT over the
roster and `roster_counts_rebuild` recomputes them (`manage.py recount_roster [--fix]`; the
migration that made the table filled it the same way).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.db import connection
from django.db.models import Count, Sum

from doorstep.areas.models import Area
from doorstep.core.db import prefix_q

from .models import Household, Person, RosterCount

# (households, persons)
Counts = tuple[int, int]
ZERO: Counts = (0, 0)


def roster_counts_add(deltas: Mapping[int | None, Counts]) -> None:
    """Add (households, persons) to each grid's counts, inside the caller's transaction (a
    grid of None, a household gone meanwhile, adds nothing)."""
    rows = sorted((g, h, p) for g, (h, p) in deltas.items() if g is not None and (h or p))
    if not rows:
        return
    table = RosterCount._meta.db_table
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        values = ", ".join(["(%s, %s, %s)"] * len(chunk))
        params = [v for row in chunk for v in row]
        # The table and column names are constants of this module; every value is a parameter.
        sql = (
            f"INSERT INTO {table} (grid_id, households, persons) VALUES {values} "  # noqa: S608
            f"ON CONFLICT (grid_id) DO UPDATE SET "
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
    """(households, persons) on the rosters of the area's grids: one row per grid summed, by
    the grids' current paths (a grid moved in the tree is counted where it is now)."""
    sums = RosterCount.objects.filter(prefix_q("grid__path", area.path)).aggregate(
        households=Sum("households"), persons=Sum("persons")
    )
    return int(sums["households"] or 0), int(sums["persons"] or 0)


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


def roster_count_differences() -> dict[int, tuple[Counts, Counts]]:
    """grid id → (stored, expected) wherever they differ."""
    stored, expected = roster_counts_stored(), roster_counts_expected()
    return {
        grid: (stored.get(grid, ZERO), expected.get(grid, ZERO))
        for grid in stored.keys() | expected.keys()
        if stored.get(grid, ZERO) != expected.get(grid, ZERO)
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
    household = Household._meta.db_table
    person = Person._meta.db_table
    # Table names are constants of the models; there is no value in these statements.
    return [
        f"DELETE FROM {table}",  # noqa: S608
        f"INSERT INTO {table} (grid_id, households, persons) "  # noqa: S608
        f"SELECT h.grid_id, COUNT(*), COALESCE(SUM(m.n), 0) FROM {household} h "
        f"LEFT JOIN (SELECT household_id, COUNT(*) AS n FROM {person} "
        f"WHERE household_id IS NOT NULL GROUP BY household_id) m ON m.household_id = h.id "
        f"GROUP BY h.grid_id",
    ]
