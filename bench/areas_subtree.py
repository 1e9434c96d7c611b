"""Subtree queries on a 10,000-area tree, on SQLite and PostgreSQL.

    .venv/bin/python bench/areas_subtree.py [--db sqlite|postgres|both] [--areas 10000]

Builds district → 20 streets → 25 communities each → 20 grids each (10,521 areas) in a fresh
database, then times, for a street, a community and the district: `areas.selectors.area_subtree`
evaluated (all rows), its count, and the grids under it. Baseline from the same run: a recursive
CTE walking parent links (the usual way without a materialised path). Target: a few ms.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, BenchDB, child_env, log, manage


def build(db: BenchDB, grids_per_community: int) -> None:
    db.create_empty()
    manage(["migrate", "-v0"], db.url)
    os.environ.update(child_env(db.url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from doorstep.areas.models import Area, AreaLevel
    from doorstep.core.bulk import insert_rows

    rows = [("D", "区", AreaLevel.DISTRICT, None, "/D/")]
    insert_rows(Area, ["code", "name", "level", "parent", "path"], rows)
    district = Area.objects.get(code="D")
    streets = [
        (f"S{s:02d}", f"街道{s}", AreaLevel.STREET, district.pk, f"/D/S{s:02d}/") for s in range(20)
    ]
    insert_rows(Area, ["code", "name", "level", "parent", "path"], streets)
    ids = dict(Area.objects.values_list("code", "pk"))
    communities = [
        (
            f"S{s:02d}C{c:02d}",
            f"社区{c}",
            AreaLevel.COMMUNITY,
            ids[f"S{s:02d}"],
            f"/D/S{s:02d}/S{s:02d}C{c:02d}/",
        )
        for s in range(20)
        for c in range(25)
    ]
    insert_rows(Area, ["code", "name", "level", "parent", "path"], communities)
    ids = dict(Area.objects.values_list("code", "pk"))
    grids = [
        (f"{code}G{g:02d}", f"第{g}网格", AreaLevel.GRID, ids[code], f"{path}{code}G{g:02d}/")
        for code, _n, _l, _p, path in communities
        for g in range(grids_per_community)
    ]
    insert_rows(Area, ["code", "name", "level", "parent", "path"], grids)
    if db.kind == "postgres":
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE areas_area")


def timed(fn, rounds=50):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def run(kind: str, grids_per_community: int) -> None:
    db = BenchDB(kind, "doorstep_bench_areas")
    build(db, grids_per_community)
    from django.db import connection

    from doorstep.areas.models import Area, AreaLevel
    from doorstep.areas.selectors import area_subtree

    total = Area.objects.count()
    cte = """
        WITH RECURSIVE sub(id) AS (SELECT id FROM areas_area WHERE id = %s
          UNION ALL SELECT a.id FROM areas_area a JOIN sub ON a.parent_id = sub.id)
        SELECT a.* FROM areas_area a JOIN sub ON a.id = sub.id
    """
    for code in ("S07", "S07C03", "D"):
        area = Area.objects.get(code=code)
        rows = len(list(area_subtree(area)))
        median, p95 = timed(lambda area=area: list(area_subtree(area)))
        count_median, _ = timed(lambda area=area: area_subtree(area).count())
        grid_median, _ = timed(
            lambda area=area: list(
                area_subtree(area).filter(level=AreaLevel.GRID).values_list("pk", flat=True)
            )
        )

        def recursive(area=area):
            with connection.cursor() as cursor:
                cursor.execute(cte, [area.pk])
                cursor.fetchall()

        cte_median, _ = timed(recursive)
        print(
            f"{kind} {total} areas, subtree of {code} ({rows} rows): list {median:.2f} ms "
            f"(p95 {p95:.2f}), count {count_median:.2f} ms, grid ids {grid_median:.2f} ms; "
            f"recursive CTE baseline {cte_median:.2f} ms, ratio {median / cte_median:.2f}"
        )
    connection.close()
    db.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--grids-per-community", type=int, default=20)
    args = parser.parse_args()
    log(f"building the tree on {args.db}")
    run(args.db, args.grids_per_community)
    return 0


if __name__ == "__main__":
    sys.exit(main())
