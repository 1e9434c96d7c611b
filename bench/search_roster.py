"""Roster search latency: `household_search` for a command-role user (jurisdiction: the district)
against a bare SQL lookup on the indexed column, on a database holding the 1M-person import.

    .venv/bin/python bench/search_roster.py [--db sqlite|postgres|both] [--persons N]
                                            [--rounds 30] [--explain]

Uses the database bench/import_roster.py keeps (doorstep_bench_import_csv_<N>); imports one with
`manage.py import_roster` when it is missing. For each query kind (2-character name prefix, exact
ID number, exact household number) it runs `rounds` different values taken from the data and
times the first page as a view shows it: list(qs[:50]) plus qs.count(). The user is loaded fresh
before each query (as per request), so the jurisdiction lookup is inside the timing.

Baseline: the same lookup as bare SQL on the indexed column (first 50 rows plus a count), through
the same Django connection, so the ratio is the cost of scoping, joining and ordering. Target:
median and p95 <= 50 ms.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import (
    DISTRICT_CODE,
    ROOT,
    BenchDB,
    child_env,
    clean_child_imports,
    import_stats,
    log,
    manage,
    save_results,
    template_db,
)

TARGET_MS = 50.0
PAGE = 50


def ensure_imported(kind: str, persons: int) -> BenchDB:
    db = BenchDB(kind, f"doorstep_bench_import_csv_{persons}")
    if db.exists():
        try:
            if import_stats(db).get("persons") == persons:
                return db
        except Exception as error:  # a half-made database: make it again
            log(f"{db.name}: {error}")
    log(f"{db.name} missing: importing {persons} persons (takes minutes)")
    csv_path = ROOT / "var" / "bench" / f"roster-{persons}-1.csv"
    template = template_db(kind, persons, csv_path)
    db.create_from(template)
    template.drop()
    manage(["import_roster", str(csv_path), "--area", DISTRICT_CODE, "--no-progress"], db.url)
    clean_child_imports()
    return db


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(kind: str, persons: int, rounds: int, explain: bool, analyze: bool) -> int:
    db = ensure_imported(kind, persons)
    if analyze and kind == "postgres":
        # A running server's tables have been analysed by autovacuum; a database copied from a
        # template and bulk-loaded a minute ago has not (areas_area has no statistics at all).
        _analyze(db)
    os.environ.update(child_env(db.url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from doorstep.accounts.models import Role, User
    from doorstep.areas.models import Area
    from doorstep.registry.models import Household, Person
    from doorstep.registry.selectors import household_search

    district = Area.objects.get(code=DISTRICT_CODE)
    user, _ = User.objects.update_or_create(
        username="bench_command",
        defaults={"role": Role.COMMAND, "jurisdiction_area": district, "is_active": True},
    )

    # Query values from the data: random persons and households, the same for every run.
    rnd = random.Random(1)
    max_person = Person.objects.order_by("-pk").values_list("pk", flat=True).first()
    max_household = Household.objects.order_by("-pk").values_list("pk", flat=True).first()
    names, ids, numbers = [], [], []
    while len(ids) < rounds or len(names) < rounds:
        row = Person.objects.filter(pk=rnd.randint(1, max_person)).values("name", "id_number")
        for person in row:
            if len(names) < rounds and person["name"][:2] not in names:
                names.append(person["name"][:2])
            if len(ids) < rounds and person["id_number"]:
                ids.append(person["id_number"])
    while len(numbers) < rounds:
        numbers += Household.objects.filter(pk=rnd.randint(1, max_household)).values_list(
            "household_number", flat=True
        )

    q = "%s"

    def bare_name(value):
        if connection.vendor == "postgresql":
            return "name LIKE %s", [value + "%"]
        return "name >= %s AND name < %s", [value, value[:-1] + chr(ord(value[-1]) + 1)]

    baselines = {
        # (table, where-builder): first page of matching rows + count, on the indexed column
        "name prefix": ("registry_person", bare_name),
        "ID number": ("registry_person", lambda v: (f"id_number = {q}", [v])),
        "household number": ("registry_household", lambda v: (f"household_number = {q}", [v])),
    }
    kinds = {"name prefix": names, "ID number": ids, "household number": numbers}

    def timed_selector(value):
        fresh_user = User.objects.get(pk=user.pk)  # as the auth middleware loads it
        t0 = time.perf_counter()
        qs = household_search(fresh_user, query=value)
        page = list(qs[:PAGE])
        total = qs.count()
        return (time.perf_counter() - t0) * 1000, len(page), total

    def timed_bare(table, where_for, value):
        where, params = where_for(value)
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table} WHERE {where} LIMIT {PAGE}", params)
            page = cursor.fetchall()
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {where}", params)
            total = cursor.fetchone()[0]
        return (time.perf_counter() - t0) * 1000, len(page), total

    analysed = " (after ANALYZE)" if analyze and kind == "postgres" else ""
    print(
        f"{kind}{analysed}: {persons} persons, {import_stats(db)['households']} households, "
        f"user {user.username} ({user.role}, {district.name}); {rounds} values per kind"
    )
    results, worst = [], 0.0
    for label, values in kinds.items():
        table, where_for = baselines[label]
        # one untimed pass over other values warms the caches the way a running server has them
        for value in values[:3]:
            timed_selector(value)
            timed_bare(table, where_for, value)
        sel, bare, hits = [], [], []
        for value in values:
            ms, _page, total = timed_selector(value)
            sel.append(ms)
            hits.append(total)
            bare.append(timed_bare(table, where_for, value)[0])
        row = {
            "db": kind,
            "query": label,
            "median_ms": round(statistics.median(sel), 2),
            "p95_ms": round(percentile(sel, 0.95), 2),
            "max_ms": round(max(sel), 2),
            "bare_median_ms": round(statistics.median(bare), 2),
            "bare_p95_ms": round(percentile(bare, 0.95), 2),
            "ratio_median": round(statistics.median(sel) / statistics.median(bare), 1),
            "households_found_median": statistics.median(hits),
            "households_found_max": max(hits),
            "examples": values[:3],
        }
        worst = max(worst, row["p95_ms"])
        if max(hits) == 0:
            row["warning"] = "no value found anything"
        results.append(row)
        print(
            f"{kind} {label:<16}: median {row['median_ms']:7.2f} ms, p95 {row['p95_ms']:7.2f} ms "
            f"(target <= {TARGET_MS:.0f}); bare SQL median {row['bare_median_ms']:6.2f} ms, "
            f"p95 {row['bare_p95_ms']:6.2f} ms; ratio {row['ratio_median']}x; "
            f"households found median {row['households_found_median']}, max {max(hits)}",
            flush=True,
        )
        if max(hits) == 0:
            print(
                f"  WARNING: none of the {len(values)} {label} values found a household: "
                f"e.g. {values[0]!r} is searched as an ID number (18 digits) by household_search",
                flush=True,
            )
        if explain:
            qs = household_search(User.objects.get(pk=user.pk), query=values[0])
            print(f"  SQL page : {qs[:PAGE].query}")
            print("  plan page:\n    " + qs[:PAGE].explain().replace("\n", "\n    "))
            print("  plan count:\n    " + _count_plan(connection, qs).replace("\n", "\n    "))
    save_results(f"search-{kind}", {"persons": persons, "results": results})
    return 0 if worst <= TARGET_MS else 1


def _analyze(db: BenchDB) -> None:
    conn = db.connect()
    conn.execute("ANALYZE")
    conn.close()


def _count_plan(connection, qs) -> str:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        qs.count()
    sql = captured.captured_queries[-1]["sql"]
    with connection.cursor() as cursor:
        prefix = "EXPLAIN QUERY PLAN" if connection.vendor == "sqlite" else "EXPLAIN ANALYZE"
        cursor.execute(f"{prefix} {sql}")
        return "\n".join(" ".join(str(c) for c in row) for row in cursor.fetchall())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--explain", action="store_true", help="print SQL and query plans")
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="PostgreSQL: measure without running ANALYZE first (as right after an import)",
    )
    parser.add_argument(
        "--skip-checks", action="store_true", help="pass --skip-checks to manage.py commands"
    )
    args = parser.parse_args()
    _common.SKIP_CHECKS = args.skip_checks
    if args.db == "both":  # Django is configured once per process: one process per database
        codes = []
        for kind in ("sqlite", "postgres"):
            argv = [sys.executable, __file__, "--db", kind, "--persons", str(args.persons)]
            argv += ["--rounds", str(args.rounds)] + (["--explain"] if args.explain else [])
            argv += [] if args.analyze else ["--no-analyze"]
            argv += ["--skip-checks"] if args.skip_checks else []
            codes.append(subprocess.call(argv))
        return max(codes)
    return run(args.db, args.persons, args.rounds, args.explain, args.analyze)


if __name__ == "__main__":
    sys.exit(main())
