"""Grid tallies: the coverage figures per (campaign, grid, state), kept beside the progress rows.

A visit that moves a household from one state to another moves one household (and its person
counts) from one tally row to another, inside the visit's transaction. Each move is an
`INSERT … ON CONFLICT DO UPDATE` adding a delta (the same statement on SQLite and PostgreSQL),
so a tally row that does not exist yet is created and concurrent moves add up instead of
overwriting each other. Rows are touched in state order, after the progress row's lock, so two
visits in one grid cannot deadlock.

The same deltas move the grid's parent's row (`ParentTally`: a community's grids summed per
state) in the same transaction, after the grid's rows and in the same state order, so a
district's or a street's roll-up reads a few hundred parent rows instead of every grid's. A
grid never changes parent (the area import refuses that), and the parent's row is only
contended by visits of the same community.

The tallies are derived data: `tally_differences` compares them with a GROUP BY over the
progress rows and `tally_rebuild` recomputes them (both used by `recompute_progress`), grid
and parent rows alike.
"""

from collections import defaultdict

from django.db import connection
from django.db.models import Count, Sum

from doorstep.areas.models import Area

from .models import Campaign, GridTally, HouseholdProgress, ParentTally, ProgressState

# (households, persons, seen, elsewhere, flagged)
Counts = tuple[int, int, int, int, int]
SUM_COLUMNS = ("households", "persons", "seen", "elsewhere", "flagged")


def tally_of(progress) -> tuple[str, Counts]:
    """What one household contributes: (its state, (1 household, its person counts))."""
    return progress.state, (
        1,
        progress.persons_total,
        progress.persons_seen,
        progress.persons_elsewhere,
        progress.persons_flagged,
    )


def tally_move(
    *, campaign_id: int, grid_id: int, before: tuple[str, Counts], after: tuple[str, Counts]
) -> None:
    """Move one household's contribution from `before` to `after` (inside the caller's
    transaction, which holds the household's progress row)."""
    if before == after:
        return
    deltas: dict[str, list[int]] = defaultdict(lambda: [0] * len(SUM_COLUMNS))
    for (state, counts), sign in ((before, -1), (after, 1)):
        for index, value in enumerate(counts):
            deltas[state][index] += sign * value
    rows = [(state, d) for state, d in sorted(deltas.items()) if any(d)]
    if rows:
        _add(campaign_id, [(grid_id, state, d) for state, d in rows])


def _add(campaign_id: int, rows: list[tuple[int, str, list[int]]]) -> None:
    """Add the deltas to the grids' rows, then (summed per parent) to their parents' rows."""
    _upsert(GridTally._meta.db_table, "grid_id", campaign_id, rows)
    parents = dict(
        Area.objects.filter(pk__in={grid for grid, _state, _d in rows}).values_list(
            "pk", "parent_id"
        )
    )
    per_parent: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0] * len(SUM_COLUMNS))
    for grid, state, d in rows:
        parent = parents.get(grid)
        if parent is not None:
            for index, value in enumerate(d):
                per_parent[parent, state][index] += value
    moved = [(p, state, d) for (p, state), d in sorted(per_parent.items()) if any(d)]
    if moved:
        _upsert(ParentTally._meta.db_table, "area_id", campaign_id, moved)


def _upsert(table: str, key: str, campaign_id: int, rows: list[tuple[int, str, list[int]]]):
    sums = ", ".join(SUM_COLUMNS)
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in SUM_COLUMNS)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    params = [v for area, state, d in rows for v in (campaign_id, area, state, *d)]
    # Table and column names are constants of this module; every value is a parameter.
    sql = (
        f"INSERT INTO {table} (campaign_id, {key}, state, {sums}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT (campaign_id, {key}, state) DO UPDATE SET {adds}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def tally_add_enrolled(*, campaign_id: int, enrolled: list[tuple[int, int]]) -> None:
    """Count newly enrolled households, (grid id, persons) each, into the not-started
    tallies. The enrolment passes the rows its own INSERT returned, so two enrolments of one
    campaign running at once never count each other's rows."""
    per_grid: dict[int, list[int]] = defaultdict(lambda: [0] * len(SUM_COLUMNS))
    for grid_id, persons in enrolled:
        per_grid[grid_id][0] += 1
        per_grid[grid_id][1] += persons
    rows = [(grid, ProgressState.NOT_STARTED, d) for grid, d in sorted(per_grid.items())]
    for start in range(0, len(rows), 500):
        _add(campaign_id, rows[start : start + 500])


def progress_sums() -> dict:
    """The aggregates a group of progress rows contributes (the same in every rollup)."""
    return {
        "n": Count("id"),
        "persons": Sum("persons_total"),
        "seen": Sum("persons_seen"),
        "elsewhere": Sum("persons_elsewhere"),
        "flagged": Sum("persons_flagged"),
    }


def tallies_from_progress(campaign: Campaign) -> dict[tuple[int, str], Counts]:
    """The tallies as they should be: a GROUP BY over the campaign's progress rows."""
    rows = (
        HouseholdProgress.objects.filter(campaign=campaign)
        .values("grid_id", "state")
        .annotate(**progress_sums())
        .order_by()
    )
    keys = ("n", "persons", "seen", "elsewhere", "flagged")
    return {(r["grid_id"], r["state"]): tuple(r[k] for k in keys) for r in rows}


def stored_tallies(campaign: Campaign) -> dict[tuple[int, str], Counts]:
    rows = GridTally.objects.filter(campaign=campaign).values_list("grid_id", "state", *SUM_COLUMNS)
    return {(grid, state): tuple(counts) for grid, state, *counts in rows if any(counts)}


def tally_differences(campaign: Campaign) -> dict[tuple[int, str], tuple[Counts, Counts]]:
    """(grid, state) → (stored, expected) wherever they differ; a parent's row that differs
    from the GROUP BY of its grids' progress rows is keyed (parent, "parent:" + state)."""
    differences = _differences(stored_tallies(campaign), tallies_from_progress(campaign))
    parents = _differences(stored_parent_tallies(campaign), parent_tallies_from_progress(campaign))
    differences.update({(area, f"parent:{state}"): diff for (area, state), diff in parents.items()})
    return differences


def _differences(stored: dict, expected: dict) -> dict:
    zero = (0,) * len(SUM_COLUMNS)
    return {
        key: (stored.get(key, zero), expected.get(key, zero))
        for key in stored.keys() | expected.keys()
        if stored.get(key, zero) != expected.get(key, zero)
    }


def parent_tallies_from_progress(campaign: Campaign) -> dict[tuple[int, str], Counts]:
    """The parent tallies as they should be: the progress rows grouped by their grid's parent."""
    rows = (
        HouseholdProgress.objects.filter(campaign=campaign, grid__parent__isnull=False)
        .values("grid__parent_id", "state")
        .annotate(**progress_sums())
        .order_by()
    )
    keys = ("n", "persons", "seen", "elsewhere", "flagged")
    return {(int(r["grid__parent_id"]), r["state"]): tuple(r[k] for k in keys) for r in rows}


def stored_parent_tallies(campaign: Campaign) -> dict[tuple[int, str], Counts]:
    rows = ParentTally.objects.filter(campaign=campaign).values_list(
        "area_id", "state", *SUM_COLUMNS
    )
    return {(area, state): tuple(counts) for area, state, *counts in rows if any(counts)}


def tally_rebuild(*, campaign: Campaign) -> None:
    """Recompute the campaign's tallies from its progress rows (inside the caller's
    transaction): one INSERT … SELECT grouped by grid and state."""
    GridTally.objects.filter(campaign=campaign).delete()
    table = GridTally._meta.db_table
    progress = HouseholdProgress._meta.db_table
    sql = f"""
        INSERT INTO {table} (campaign_id, grid_id, state, {", ".join(SUM_COLUMNS)})
        SELECT campaign_id, grid_id, state, COUNT(*), SUM(persons_total), SUM(persons_seen),
               SUM(persons_elsewhere), SUM(persons_flagged)
        FROM {progress} WHERE campaign_id = %s
        GROUP BY campaign_id, grid_id, state
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk])
    parent_tally_rebuild(campaign=campaign)


def parent_tally_rebuild(*, campaign: Campaign) -> None:
    """The campaign's parent tallies summed from its grid tallies (inside the caller's
    transaction; the grid tallies are right, or have just been rebuilt)."""
    ParentTally.objects.filter(campaign=campaign).delete()
    table, grids = ParentTally._meta.db_table, GridTally._meta.db_table
    area = Area._meta.db_table
    sums = ", ".join(f"SUM(t.{c})" for c in SUM_COLUMNS)
    sql = f"""
        INSERT INTO {table} (campaign_id, area_id, state, {", ".join(SUM_COLUMNS)})
        SELECT t.campaign_id, a.parent_id, t.state, {sums}
        FROM {grids} t JOIN {area} a ON a.id = t.grid_id
        WHERE t.campaign_id = %s AND a.parent_id IS NOT NULL
        GROUP BY t.campaign_id, a.parent_id, t.state
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk])
