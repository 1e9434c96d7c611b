"""Profile `manage.py import_roster` with cProfile on a fresh database (demo area tree).

    .venv/bin/python bench/profile_import.py FILE [--db sqlite|postgres] [--persons N] [--top 40]

FILE is a roster from the demo generator (e.g. the first 100k rows of the 1M CSV); --persons is
the size the area tree is planned for (that of the CSV the rows came from). Writes
var/bench/profile-<db>-<file>.prof and prints the top functions by own time and by cumulative time.
"""

import argparse
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common
from _common import (
    BENCH_VAR,
    DISTRICT_CODE,
    PYTHON,
    BenchDB,
    clean_child_imports,
    import_stats,
    measure_manage,
    template_db,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--skip-checks", action="store_true", help="pass --skip-checks to manage.py commands"
    )
    args = parser.parse_args()
    _common.SKIP_CHECKS = args.skip_checks
    csv_path = BENCH_VAR / f"roster-{args.persons}-1.csv"
    template = template_db(args.db, args.persons, csv_path)
    db = BenchDB(args.db, "doorstep_bench_profile")
    db.create_from(template)
    template.drop()
    out = BENCH_VAR / f"profile-{args.db}-{args.file.stem}.prof"
    t0 = time.perf_counter()
    run = measure_manage(
        ["import_roster", str(args.file.resolve()), "--area", DISTRICT_CODE, "--no-progress"],
        db.url,
        python=[PYTHON, "-m", "cProfile", "-o", str(out)],
    )
    clean_child_imports()
    print(
        f"{args.db} {args.file.name}: {run.seconds:.1f} s under cProfile "
        f"(wall {time.perf_counter() - t0:.1f} s), exit {run.returncode}, {import_stats(db)}"
    )
    db.drop()
    stats = pstats.Stats(str(out))
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
