"""The role dashboards against their bare reads on a database of one's own: `bench/command.py
--dashboards-only` run on a copy named for its shape and tag, plus the queries each role's
dashboard sends.

    .venv/bin/python bench/dash_parts.py --db sqlite|postgres --shape flat|realistic --tag T
                                         [--from TAG] [--areas 10000] [--rounds 60]

Every bench database this script makes is named `doorstep_bench_dash3_*` (PostgreSQL) or lives
in this tree's var/bench (SQLite), so it never meets another session's bench database. The
sweep database of a (shape, tag) is made once: from the copy of another tag (`--from`: the same
rows, then this tree's migrations) or from the roster import (then the campaign, the visits and
the spread, as `command.py` does); later runs reuse it. A/B: run the main tree's copy of this
script with `--tag main` and this tree's with `--tag branch --from main`, alternately.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common
from _common import BenchDB, log, manage

_init = BenchDB.__init__


def _own_name(self, kind: str, name: str) -> None:
    if name.startswith("doorstep_bench_") and not name.startswith("doorstep_bench_dash3_"):
        name = "doorstep_bench_dash3_" + name.removeprefix("doorstep_bench_")
    _init(self, kind, name)


BenchDB.__init__ = _own_name  # type: ignore[method-assign]

import command  # noqa: E402
from search_roster import ensure_imported  # noqa: E402


def sweep_db(kind: str, persons: int, shape: str, tag: str, source_tag: str | None) -> BenchDB:
    db = BenchDB(kind, f"doorstep_bench_dash3_sweep_{persons}_{shape}_{tag}")
    if not db.exists():
        if source_tag:
            source = BenchDB(kind, f"doorstep_bench_dash3_sweep_{persons}_{shape}_{source_tag}")
            assert source.exists(), source.name
        else:
            source = ensure_imported(kind, persons)
        log(f"copying {source.name} → {db.name}")
        db.create_from(source)
    manage(["migrate", "-v0"], db.url)
    return db


def query_counts(result: dict) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from doorstep.accounts.models import User
    from tests.two_factor import verify_session

    command_user = User.objects.get(username="bench_command")
    users = {"command": command_user}
    users.update(
        {
            n.removeprefix("bench_"): u
            for n, u in command.role_users(command_user.jurisdiction_area).items()
        }
    )
    for label, user in users.items():
        client = Client()
        client.force_login(user)
        if label == "command":
            verify_session(client, user)
        client.get("/")
        for page, url in (("dashboard", "/"), ("bare", "/accounts/password/")):
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            result[f"queries_{page}_{label}"] = len(queries)
        # the process's CPU time per request (the thread's: what the machine's other load moves
        # least), dashboard and bare read alternately
        cpu: dict[str, list[float]] = {"dashboard": [], "bare": []}
        for _ in range(60):
            for page, url in (("dashboard", "/"), ("bare", "/accounts/password/")):
                t0 = time.thread_time()
                client.get(url)
                cpu[page].append((time.thread_time() - t0) * 1000)
        for page, times in cpu.items():
            result[f"cpu_{page}_{label}_p50_ms"] = round(statistics.median(times), 2)
        result[f"cpu_ratio_{label}_p50"] = round(
            result[f"cpu_dashboard_{label}_p50_ms"] / result[f"cpu_bare_{label}_p50_ms"], 2
        )


def role_parts(result: dict, rounds: int) -> None:
    """Each role's dashboard parts alone in the process (no HTTP, no template), p50 in ms."""
    from doorstep.accounts.models import User
    from doorstep.command import dashboard as board
    from doorstep.core.views import home_context
    from doorstep.followup import selectors as followup

    command_user = User.objects.get(username="bench_command")
    users = {"command": command_user}
    users.update(
        {
            n.removeprefix("bench_"): u
            for n, u in command.role_users(command_user.jurisdiction_area).items()
        }
    )
    for label, user in users.items():
        parts = {
            "header": lambda user=user: home_context(user),
            "campaigns": lambda user=user: board._open_campaigns(user),
            "todos_standing": lambda user=user: board.dashboard_parts(user),
            "followup_due": lambda user=user: followup.due_now(user).count(),
        }
        for name, fn in parts.items():
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1000)
            result[f"inproc_{label}_{name}_p50_ms"] = round(statistics.median(times), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--areas", type=int, default=10_000)
    parser.add_argument("--shape", choices=["flat", "realistic"], default="flat")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--from", dest="source_tag")
    args = parser.parse_args()
    db = sweep_db(args.db, args.persons, args.shape, args.tag, args.source_tag)
    command.prepare = lambda kind, persons: db
    os.environ["SWEEP_REUSE"] = "1"
    result = command.run(
        args.db,
        args.persons,
        args.rounds,
        target_areas=args.areas,
        dashboards_only=True,
        shape=args.shape,
    )
    query_counts(result)
    role_parts(result, args.rounds)
    result.update(shape=args.shape, tag=args.tag, tree=str(_common.ROOT))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
