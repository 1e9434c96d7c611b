"""What a stable re-import costs: the same roster file imported again (every row unchanged),
with the import marking the rows it matched (imports/conflicts.py, so that a file giving one
household number two addresses is refused the same way on every run) against the same re-import
without the marking, alternately, in one run on one database.

    .venv/bin/python bench/reimport_roster.py [--persons 200000] [--db sqlite|postgres]
                                              [--rounds 2] [--pg-db NAME]

Prints the first import's time, each re-import's, the medians and the ratio marked/unmarked.
Runs in process (the services, not manage.py): the marking is switched off by replacing
RowConflicts.mark_seen for the baseline runs. Asserts nothing.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_VAR = ROOT / "var" / "bench"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def database_url(kind: str, pg_db: str) -> str:
    if kind == "sqlite":
        path = BENCH_VAR / "reimport.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{pg_db}"')
        c.execute(f'CREATE DATABASE "{pg_db}"')
    return f"postgres://postgres@127.0.0.1:5432/{pg_db}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pg-db", default=f"doorstep_bench_reimport_{os.getpid()}")
    args = parser.parse_args()
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="doorstep.settings.dev",
        DATABASE_URL=database_url(args.db, args.pg_db),
        DOORSTEP_VAR_DIR=str(BENCH_VAR / "var"),
        DOORSTEP_LOG_LEVEL="WARNING",
        DOORSTEP_DEBUG="0",
    )
    import django

    django.setup()
    from django.core.management import call_command

    from doorstep.demo.generator import write_roster_csv
    from doorstep.demo.services import demo_areas_create
    from doorstep.imports import conflicts
    from doorstep.imports.services import (
        roster_import_create,
        roster_import_run,
        roster_import_start,
    )

    call_command("migrate", verbosity=0)
    district = demo_areas_create(persons=args.persons)
    path = BENCH_VAR / f"reimport-{args.persons}.csv"
    write_roster_csv(path, persons=args.persons, seed=1)

    def run_import() -> tuple[float, str]:
        with open(path, "rb") as stream:
            job = roster_import_create(
                user=None, area=district, stream=stream, original_name=path.name
            )
        roster_import_start(user=None, job=job, enqueue=False)
        started = time.perf_counter()
        job = roster_import_run(job_id=job.pk)
        return time.perf_counter() - started, job.summary_line()

    first, summary = run_import()
    log(f"first import {first:.1f} s ({summary})")
    marking = conflicts.RowConflicts.mark_seen
    times: dict[str, list[float]] = {"unmarked": [], "marked": []}
    for _round in range(args.rounds):
        for label in ("unmarked", "marked"):
            conflicts.RowConflicts.mark_seen = marking if label == "marked" else lambda *a: None
            seconds, summary = run_import()
            times[label].append(seconds)
            log(f"re-import, {label}: {seconds:.1f} s ({summary})")
    conflicts.RowConflicts.mark_seen = marking
    unmarked, marked = (statistics.median(times[k]) for k in ("unmarked", "marked"))
    print(
        f"{args.db}, {args.persons:,} persons: first import {first:.1f} s; re-import "
        f"without marking {unmarked:.1f} s, with marking {marked:.1f} s "
        f"(median of {args.rounds}); ratio marked/unmarked {marked / unmarked:.2f}"
    )
    if args.db == "postgres":
        from django.db import connections

        connections.close_all()
        database_url("postgres", args.pg_db)  # leaves an empty database behind; drop it
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{args.pg_db}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
