"""Shared plumbing for the benchmark scripts: fresh databases, manage.py in a subprocess, the
measurement of a child process (wall time and peak RSS), and a raw connection for the floors.

Nothing here imports Django: the scripts talk to the project through `manage.py` subprocesses
(like an operator would), and to the database through the driver directly.
"""

import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():
    PYTHON = sys.executable
BENCH_VAR = ROOT / "var" / "bench"
# VAR_DIR of the children: the import stores a copy of each file under VAR_DIR/imports.
CHILD_VAR = BENCH_VAR / "var"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", "5432", "postgres"
DISTRICT_CODE = "500109"
# Set by --skip-checks: pass --skip-checks to manage.py commands that run system checks, for
# when a half-finished edit elsewhere in the tree breaks the URL checks but not the import.
SKIP_CHECKS = False


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class ChildRun:
    seconds: float
    peak_rss_kb: int
    returncode: int
    stdout: str
    stderr: str


# Runs argv as its only child, then reports that child's peak RSS: RUSAGE_CHILDREN of this
# wrapper covers exactly one process tree, never the benchmark script's other children.
_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "dt = time.perf_counter() - t\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(json.dumps({'rc': rc, 'seconds': dt, 'maxrss': ru.ru_maxrss}))\n"
)


def child_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="doorstep.settings.dev",
        DOORSTEP_VAR_DIR=str(CHILD_VAR),
        PYTHONUNBUFFERED="1",
    )
    return env


def _with_skip_checks(args: list[str]) -> list[str]:
    if SKIP_CHECKS and args and args[0] != "shell":
        return [*args, "--skip-checks"]
    return args


def manage(args: list[str], db_url: str, *, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [PYTHON, "manage.py", *_with_skip_checks(args)],
        cwd=ROOT,
        env=child_env(db_url),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def measure_manage(args: list[str], db_url: str, *, python: list[str] | None = None) -> ChildRun:
    """Wall time (seen by the wrapper, around the child only) and the child's peak RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".json", dir=BENCH_VAR) as out:
        proc = subprocess.run(
            [
                PYTHON,
                "-c",
                _WRAPPER,
                out.name,
                *(python or [PYTHON]),
                "manage.py",
                *_with_skip_checks(args),
            ],
            cwd=ROOT,
            env=child_env(db_url),
            capture_output=True,
            text=True,
            check=False,
        )
        result = json.loads(Path(out.name).read_text())
    return ChildRun(
        seconds=result["seconds"],
        peak_rss_kb=result["maxrss"],  # Linux: kilobytes
        returncode=result["rc"],
        stdout=proc.stdout,
        stderr=proc.stderr,
    )


def clean_child_imports() -> None:
    """Drop the copies of the input files that each import stores (100+ MB per 1M rows)."""
    shutil.rmtree(CHILD_VAR / "imports", ignore_errors=True)


# -- databases -------------------------------------------------------------------------------
class BenchDB:
    """One database of a kind (sqlite | postgres), made fresh from a migrated template with the
    demo area tree, so each measurement starts from the same state."""

    def __init__(self, kind: str, name: str):
        # DOORSTEP_BENCH_PREFIX renames PostgreSQL bench databases ("doorstep_bench_NAME" for
        # "doorstep_bench"), so helpers sharing one server never drop each other's databases
        prefix = os.environ.get("DOORSTEP_BENCH_PREFIX")
        if kind == "postgres" and prefix and name.startswith("doorstep_bench_"):
            name = prefix + name.removeprefix("doorstep_bench")
        self.kind, self.name = kind, name

    # where
    @property
    def sqlite_path(self) -> Path:
        return BENCH_VAR / f"{self.name}.sqlite3"

    @property
    def url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    def exists(self) -> bool:
        if self.kind == "sqlite":
            return self.sqlite_path.exists()
        return bool(_pg_admin_query("SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)))

    def drop(self) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.sqlite_path}{suffix}").unlink(missing_ok=True)
        else:
            _pg_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def create_from(self, template: "BenchDB") -> None:
        """A fresh copy of `template` (migrated, with areas). The template must be idle."""
        self.drop()
        if self.kind == "sqlite":
            src = sqlite3.connect(template.sqlite_path)
            dst = sqlite3.connect(self.sqlite_path)
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=WAL")
            dst.close()
            src.close()
        else:
            _pg_admin(f'CREATE DATABASE "{self.name}" TEMPLATE "{template.name}"')

    def create_empty(self) -> None:
        self.drop()
        if self.kind == "postgres":
            _pg_admin(f'CREATE DATABASE "{self.name}"')

    # a raw connection, configured as Django configures its own
    def connect(self):
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None, timeout=30)
            for pragma in (
                "journal_mode=WAL",
                "synchronous=NORMAL",
                "foreign_keys=ON",
                "cache_size=-64000",
            ):
                conn.execute(f"PRAGMA {pragma}")
            return conn
        import psycopg

        return psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.name, autocommit=True
        )

    def param(self) -> str:
        return "?" if self.kind == "sqlite" else "%s"

    def now_value(self):
        """A timestamp as Django stores it: naive UTC text on SQLite, aware datetime on PG."""
        now = datetime.datetime.now(datetime.UTC)
        if self.kind == "sqlite":
            return str(now.replace(tzinfo=None))
        return now

    def query(self, sql: str, params=()) -> list[tuple]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql.replace("%s", self.param()), params)
            return list(cur.fetchall())
        finally:
            conn.close()


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql)


def _pg_admin_query(sql: str, params=()) -> list[tuple]:
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        return list(conn.execute(sql, params).fetchall())


def template_db(kind: str, persons: int, csv_path: Path, prefix: str = "doorstep_bench") -> BenchDB:
    """The migrated database with the demo area tree for `persons`; writes the roster CSV with
    `manage.py demo --csv-only` when it is not there yet (one CSV per size and seed). Scripts
    that may run beside another one pass their own `prefix`, so their templates never meet."""
    template = BenchDB(kind, f"{prefix}_tpl_{persons}")
    template.create_empty()
    t0 = time.perf_counter()
    manage(["migrate", "-v0"], template.url)
    if csv_path.exists():
        # The same area tree the demo command creates, without writing the CSV again.
        code = (
            "from doorstep.demo.services import demo_areas_create; "
            f"demo_areas_create(persons={persons})"
        )
        manage(["shell", "-c", code], template.url)
    else:
        partial = csv_path.with_suffix(f".part-{os.getpid()}.csv")
        manage(
            ["demo", "--persons", str(persons), "--seed", "1", "--csv-only", str(partial)],
            template.url,
        )
        partial.rename(csv_path)
    if kind == "sqlite":  # a checkpointed single file, ready to copy
        conn = template.connect()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
    log(f"{kind} template {template.name} ready in {time.perf_counter() - t0:.1f} s")
    return template


def import_stats(db: BenchDB) -> dict:
    persons = db.query("SELECT count(*) FROM registry_person")[0][0]
    households = db.query("SELECT count(*) FROM registry_household")[0][0]
    jobs = db.query(
        "SELECT status, rows_done, created_count, updated_count, rejected_count "
        "FROM imports_importjob ORDER BY created_at DESC"
    )
    stats = {"persons": persons, "households": households}
    if jobs:
        status, rows, created, updated, rejected = jobs[0]
        stats.update(status=status, rows=rows, created=created, updated=updated, rejected=rejected)
    return stats


def save_results(name: str, results: dict) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = BENCH_VAR / f"results-{name}-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    return path
