"""What the read replica takes off the primary: bench/load.py twice, the dashboards reading from
the primary and then from a streaming replica, and the same dashboard reads timed on each.

    .venv/bin/python bench/load_replica.py [--seconds 300] [--persons 100000] [--rounds 30]
                                           [--replica-port 5433] [--keep-replica]

1. `scripts/replica up` (a pg_basebackup -R replica of the local PostgreSQL; needs root).
2. `load.py` (50 field workers + 5 dashboard users + 2 probes, 4 sync gunicorn workers, as
   bench/README.md describes): the dashboards' reads on the primary.
3. `load.py --reuse --replica-port PORT`: the same load, the dashboards' pages reading from the
   replica (they opt in with `stale_ok_reads`; the field workers' lists and visits stay on the
   primary). The second run starts with the first run's visits on top (about 8,000 more of
   100,000+), which, if anything, makes it slower.
4. The dashboard reads (the district's coverage rollup, the flagged persons' first page and
   count, a gap list's first page and count) timed in one process on the primary and on the
   replica, alternating, `rounds` times each, once the load runs are over: the replica's figure
   and its ratio to the primary's (target: within 1.2x).
5. `scripts/replica down` (unless --keep-replica).

Prints both runs' tables, the comparison and the read timings; asserts nothing.
"""

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PG_HOST, PG_USER, PYTHON, ROOT, child_env, log, save_results


def replica(command: str, port: int) -> None:
    subprocess.run(
        ["./scripts/replica", command],
        cwd=ROOT,
        env={**os.environ, "REPLICA_PORT": str(port)},
        check=True,
    )


def load_run(arguments: list[str]) -> dict:
    proc = subprocess.run(
        [PYTHON, "bench/load.py", *arguments], cwd=ROOT, capture_output=True, text=True, check=False
    )
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"load.py failed ({proc.returncode})")
    saved = re.search(r"^saved (.+)$", proc.stdout, flags=re.MULTILINE).group(1)
    return json.loads(Path(saved).read_text())


def read_timings(persons: int, port: int, rounds: int) -> dict:
    """The dashboards' reads, each timed on the primary and on the replica, alternating."""
    name = f"doorstep_bench_load_{persons}"
    url = f"postgres://{PG_USER}@{PG_HOST}:5432/{name}"
    os.environ.update(child_env(url))
    os.environ["DOORSTEP_REPLICA_URL"] = f"postgres://{PG_USER}@{PG_HOST}:{port}/{name}"
    os.environ["DOORSTEP_DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from doorstep.areas.models import Area
    from doorstep.screening import coverage
    from doorstep.screening.models import Campaign, HouseholdProgress, PersonCheck

    campaign = Campaign.objects.get(name="bench sweep")
    district = Area.objects.get(code="500109")
    street = district.children.order_by("code").first()

    def rollup():
        coverage.coverage_by_child_area(campaign, district)

    def flagged():
        checks = PersonCheck.objects.filter(
            visit__campaign=campaign,
            flagged=True,
            visit__household__grid__path__startswith=street.path,
        )
        checks.count()
        list(checks.order_by("-visit__visited_at")[:50])

    def gap_list():
        rows = HouseholdProgress.objects.filter(
            campaign=campaign, state="revisit", grid__path__startswith=street.path
        )
        rows.count()
        list(rows.order_by("grid__path", "household_id")[:50])

    timings = {}
    for label, read in (("coverage rollup", rollup), ("flagged", flagged), ("gap list", gap_list)):
        on = {"primary": [], "replica": []}
        for where in ("primary", "replica", "primary", "replica"):  # warm both
            with _reads_on(where):
                read()
        for _ in range(rounds):
            for where in ("primary", "replica"):
                with _reads_on(where):
                    t0 = time.perf_counter()
                    read()
                    on[where].append((time.perf_counter() - t0) * 1000)
        primary, replica_ms = statistics.median(on["primary"]), statistics.median(on["replica"])
        timings[label] = {
            "primary_median_ms": round(primary, 2),
            "replica_median_ms": round(replica_ms, 2),
            "ratio": round(replica_ms / primary, 2),
        }
    return timings


@contextlib.contextmanager
def _reads_on(where: str):
    """Reads of the block on the primary or on the replica, whatever its lag: this measures
    how fast each server answers, not the router's choice (the tests check that)."""
    from doorstep.core import routers

    token = routers._choice.set(
        routers.ReadChoice(where if where == "replica" else "default", "bench")
    )
    try:
        yield
    finally:
        routers._choice.reset(token)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--replica-port", type=int, default=5433)
    parser.add_argument("--keep-replica", action="store_true")
    parser.add_argument(
        "--reads-only", action="store_true", help="only step 4, on the last runs' database"
    )
    args = parser.parse_args()
    if args.reads_only:
        replica("up", args.replica_port)
        try:
            reads = read_timings(args.persons, args.replica_port, args.rounds)
        finally:
            if not args.keep_replica:
                replica("down", args.replica_port)
        _print_reads(reads)
        print(f"saved {save_results('replica-reads', reads)}")
        return 0
    common = ["--seconds", str(args.seconds), "--persons", str(args.persons)]
    replica("up", args.replica_port)
    try:
        log("run 1: the dashboards read from the primary")
        without = load_run(common)
        log("run 2: the dashboards read from the replica")
        with_replica = load_run([*common, "--reuse", "--replica-port", str(args.replica_port)])
        log("the same dashboard reads, timed on the primary and on the replica")
        reads = read_timings(args.persons, args.replica_port, args.rounds)
    finally:
        if not args.keep_replica:
            replica("down", args.replica_port)

    def p95(result, kind, key="p95_ms"):
        return result["latency"].get(kind, {}).get(key)

    print("\n== the primary's field work, dashboards on the primary vs on the replica")
    print(f"{'figure':<34}{'primary only':>14}{'with replica':>14}")
    rows = [
        ("visits/s", without["visits_per_s"], with_replica["visits_per_s"], ""),
        ("visit p95 (client)", p95(without, "visit"), p95(with_replica, "visit"), " ms"),
        (
            "visit p95 (inside gunicorn)",
            p95(without, "visit", "server_p95_ms"),
            p95(with_replica, "visit", "server_p95_ms"),
            " ms",
        ),
        ("worker list p95", p95(without, "list"), p95(with_replica, "list"), " ms"),
        ("bare insert p95", p95(without, "bare insert"), p95(with_replica, "bare insert"), " ms"),
    ]
    for kind in sorted(k for k in without["latency"] if k.startswith("dash ")):
        rows.append((f"{kind} p95", p95(without, kind), p95(with_replica, kind), " ms"))
    for label, a, b, unit in rows:
        print(f"{label:<34}{a!s:>11}{unit:<3}{b!s:>11}{unit:<3}")
    for label, result in (("primary only", without), ("with replica", with_replica)):
        for where, reads_of in result["database_reads"].items():
            print(
                f"{label}: {where} served {reads_of['transactions']:,} transactions, "
                f"{reads_of['rows_read']:,} rows read"
            )
    _print_reads(reads)
    results = {"without_replica": without, "with_replica": with_replica, "reads": reads}
    print(f"saved {save_results('load-replica', results)}")
    return 0


def _print_reads(reads: dict) -> None:
    print("\n== the same dashboard reads on the primary and on the replica")
    for label, figures in reads.items():
        print(
            f"{label:<18} primary {figures['primary_median_ms']:>8.2f} ms   replica "
            f"{figures['replica_median_ms']:>8.2f} ms   ratio {figures['ratio']:.2f} "
            f"(target <= 1.2) {'OK' if figures['ratio'] <= 1.2 else 'MISSED'}"
        )


if __name__ == "__main__":
    sys.exit(main())
