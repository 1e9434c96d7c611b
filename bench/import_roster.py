"""Roster import throughput: `manage.py import_roster` against a raw-insert floor, same run.

    .venv/bin/python bench/import_roster.py [--persons N] [--db sqlite|postgres|both]
                                            [--xlsx-rows M] [--xlsx-db sqlite|postgres|both|none]

For each database kind, every measurement gets a fresh database (migrated, with the demo area
tree, copied from a template):

  floor     the same CSV read with the csv module and bulk-inserted without any validation into
            registry_household / registry_person (executemany, one transaction per batch)
  doorstep  `manage.py import_roster FILE --area 500109 --no-progress` in a subprocess: wall time
            and the child's peak RSS

then the same for an M-row XLSX (floor read with python-calamine). Targets: doorstep/floor <= 2.0
and peak RSS <= 400 MB. Beside the wall times it prints the CPU seconds of each side (the floor's
own process; the import and its reading process), which a loaded machine disturbs less; the
database server's CPU (PostgreSQL) is in neither. The database of the doorstep CSV import is
kept (doorstep_bench_import_*) for bench/search_roster.py.
"""

import argparse
import csv
import resource
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import (
    BENCH_VAR,
    DISTRICT_CODE,
    BenchDB,
    clean_child_imports,
    import_stats,
    log,
    measure_manage,
    save_results,
    template_db,
)

RATIO_TARGET = 2.0
RSS_TARGET_MB = 400
FLOOR_BATCH = 2000  # rows per transaction, as ROSTER_IMPORT_CHUNK_ROWS

HOUSEHOLD_SQL = (
    "INSERT INTO registry_household (id, household_number, grid_id, road, house_number, "
    "building, unit, room, address, floor, kind, status, created_at, updated_at) "
    "VALUES ({})".format(", ".join(["{p}"] * 14))
)
PERSON_SQL = (
    "INSERT INTO registry_person (household_id, name, id_type, id_number, sex, birth_date, "
    "phone, relation, residency, status, is_new, created_at, updated_at) "
    "VALUES ({})".format(", ".join(["{p}"] * 13))
)
KINDS = {"户籍": "registered", "租住": "rented", "集体": "collective"}
RESIDENCIES = {"常住": "permanent", "暂住": "temporary", "流动": "floating"}


# -- the floor: the simplest fast path ---------------------------------------------------------
def floor_insert(db: BenchDB, rows: Iterable[list], batch_size: int = FLOOR_BATCH) -> int:
    """Insert the roster rows (社区, 网格, 户号, 地址, 姓名, 身份证号, 联系电话, 与户主关系,
    住户类型, 居住类型) as they are: no validation, a dict lookup for grid and household."""
    conn = db.connect()
    cur = conn.cursor()
    cur.execute(
        "SELECT g.id, c.name, g.name FROM areas_area g JOIN areas_area c ON c.id = g.parent_id "
        "WHERE g.level = 4"
    )
    grid_ids = {(community, grid): pk for pk, community, grid in cur.fetchall()}
    p = db.param()
    household_sql = HOUSEHOLD_SQL.format(p=p)
    person_sql = PERSON_SQL.format(p=p)
    begin = "BEGIN IMMEDIATE" if db.kind == "sqlite" else "BEGIN"
    now = db.now_value()
    households: dict[str, int] = {}
    next_id = 1  # a fresh database: household ids handed out here, the sequence set at the end
    count = 0
    iterator: Iterator[list] = iter(rows)
    while True:
        batch = []
        for row in iterator:
            batch.append(row)
            if len(batch) == batch_size:
                break
        if not batch:
            break
        new_households, persons = [], []
        for community, grid, number, address, name, id_number, phone, relation, kind, res in batch:
            household_id = households.get(number)
            if household_id is None:
                household_id = households[number] = next_id
                next_id += 1
                new_households.append(
                    (
                        household_id,
                        number,
                        grid_ids[(community, grid)],
                        "",
                        "",
                        "",
                        "",
                        "",
                        address,
                        None,
                        KINDS.get(kind, "registered"),
                        "occupied",
                        now,
                        now,
                    )
                )
            persons.append(
                (
                    household_id,
                    name,
                    "resident_id" if id_number else "none",
                    id_number or None,
                    "",
                    None,
                    phone,
                    relation,
                    RESIDENCIES.get(res, "permanent"),
                    "active",
                    False,
                    now,
                    now,
                )
            )
        cur.execute(begin)
        if new_households:
            cur.executemany(household_sql, new_households)
        cur.executemany(person_sql, persons)
        cur.execute("COMMIT")
        count += len(persons)
    if db.kind == "postgres":
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('registry_household', 'id'), %s)", (next_id,)
        )
    conn.close()
    return count


def csv_rows(path: Path, limit: int | None = None) -> Iterator[list]:
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)  # header
        for index, row in enumerate(reader):
            if limit is not None and index >= limit:
                return
            yield row


def xlsx_rows(path: Path) -> Iterator[list]:
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).iter_rows()
    next(rows)  # header
    for row in rows:
        yield [str(c) for c in row]  # all cells are written as text


def write_xlsx(csv_path: Path, xlsx_path: Path, rows: int) -> None:
    import xlsxwriter

    if xlsx_path.exists():
        return
    partial = xlsx_path.with_suffix(".part.xlsx")
    workbook = xlsxwriter.Workbook(str(partial), {"constant_memory": True})
    sheet = workbook.add_worksheet("名单")
    with open(csv_path, encoding="utf-8", newline="") as handle:
        for index, row in enumerate(csv.reader(handle)):
            if index > rows:  # header + rows
                break
            sheet.write_row(index, 0, row)  # strings stay strings: 户号 and ID numbers as text
    workbook.close()
    partial.rename(xlsx_path)


def _children_cpu() -> float:
    """User + system CPU of this process's children that have ended (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- one comparison ------------------------------------------------------------------------------
def measure(kind: str, template: BenchDB, data: Path, expected: int, reader, label: str) -> dict:
    scratch = BenchDB(kind, "doorstep_bench")
    scratch.create_from(template)
    log(f"{kind} {label}: floor ...")
    t0, c0 = time.perf_counter(), time.process_time()
    inserted = floor_insert(scratch, reader(data))
    floor_s = time.perf_counter() - t0
    floor_cpu = time.process_time() - c0
    floor_stats = import_stats(scratch)
    scratch.drop()
    log(f"{kind} {label}: floor {floor_s:.1f} s ({inserted} rows); doorstep ...")

    # Keep the database of the CSV import: search_roster.py searches it.
    target = BenchDB(kind, f"doorstep_bench_import_{label}_{expected}")
    target.create_from(template)
    before = _children_cpu()
    run = measure_manage(
        ["import_roster", str(data), "--area", DISTRICT_CODE, "--no-progress"], target.url
    )
    doorstep_cpu = _children_cpu() - before  # the import and its reading process, both waited for
    clean_child_imports()
    stats = import_stats(target)
    if label != "csv":
        target.drop()
    if run.returncode not in (0, 1):
        log(f"import_roster exited {run.returncode}:\n{run.stdout}\n{run.stderr[-3000:]}")
    ratio = run.seconds / floor_s
    rss_mb = run.peak_rss_kb / 1024
    result = {
        "db": kind,
        "input": label,
        "rows": expected,
        "floor_s": round(floor_s, 2),
        "floor_persons": floor_stats["persons"],
        "floor_households": floor_stats["households"],
        "doorstep_s": round(run.seconds, 2),
        "ratio": round(ratio, 2),
        "floor_cpu_s": round(floor_cpu, 2),
        "doorstep_cpu_s": round(doorstep_cpu, 2),
        "cpu_ratio": round(doorstep_cpu / floor_cpu, 2),
        "peak_rss_mb": round(rss_mb, 1),
        "returncode": run.returncode,
        "doorstep_rows_per_s": round(expected / run.seconds),
        "floor_rows_per_s": round(expected / floor_s),
        **{f"doorstep_{k}": v for k, v in stats.items()},
        "kept_db": target.url,
    }
    ok = stats["persons"] == expected and stats.get("rejected") == 0
    print(
        f"{kind} {label}: floor {floor_s:.1f} s, doorstep {run.seconds:.1f} s, "
        f"ratio {ratio:.2f} (target <= {RATIO_TARGET}), "
        f"CPU {floor_cpu:.1f} s / {doorstep_cpu:.1f} s = {doorstep_cpu / floor_cpu:.2f}, "
        f"peak RSS {rss_mb:.0f} MB (target <= {RSS_TARGET_MB}); "
        f"persons {stats['persons']} (expected {expected}), households {stats['households']}, "
        f"rejected {stats.get('rejected')}, exit {run.returncode} -> "
        f"{'OK' if ok else 'CHECK FAILED'}",
        flush=True,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgres", "both", "none"],
        default="both",
        help="databases for the CSV comparison (none: only the XLSX one)",
    )
    parser.add_argument("--xlsx-rows", type=int, default=200_000)
    parser.add_argument(
        "--xlsx-db",
        choices=["sqlite", "postgres", "both", "none"],
        default=None,
        help="databases for the XLSX comparison (default: as --db)",
    )
    parser.add_argument(
        "--skip-checks", action="store_true", help="pass --skip-checks to manage.py commands"
    )
    args = parser.parse_args()
    _common.SKIP_CHECKS = args.skip_checks
    kinds = {"both": ["sqlite", "postgres"], "none": []}.get(args.db, [args.db])
    xlsx_kinds = {"both": ["sqlite", "postgres"], "none": []}.get(
        args.xlsx_db or args.db, [args.xlsx_db or args.db]
    )
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    csv_path = BENCH_VAR / f"roster-{args.persons}-1.csv"
    xlsx_rows_n = min(args.xlsx_rows, args.persons)
    xlsx_path = BENCH_VAR / f"roster-{args.persons}-1-first{xlsx_rows_n}.xlsx"

    results = []
    for kind in dict.fromkeys(kinds + xlsx_kinds):
        template = template_db(kind, args.persons, csv_path)
        if kind in kinds:
            results.append(measure(kind, template, csv_path, args.persons, csv_rows, "csv"))
        if kind in xlsx_kinds:
            t0 = time.perf_counter()
            write_xlsx(csv_path, xlsx_path, xlsx_rows_n)
            log(f"xlsx {xlsx_path.name} ready in {time.perf_counter() - t0:.1f} s")
            results.append(measure(kind, template, xlsx_path, xlsx_rows_n, xlsx_rows, "xlsx"))
        template.drop()
    saved = save_results("import", {"persons": args.persons, "results": results})
    log(f"results saved to {saved}")
    failed = [r for r in results if r["doorstep_persons"] != r["rows"] or r["doorstep_rejected"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
