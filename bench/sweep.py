"""The dragnet sweep at district scale: a worker's list, the coverage rollup, visit submission.

    .venv/bin/python bench/sweep.py [--db sqlite|postgres|both] [--persons 1000000]
                                    [--rounds 30] [--seconds 20] [--skip-http]

Starts from the database bench/import_roster.py keeps (the 1M-person import; imported when
missing), copies it, and adds one campaign over the whole district with ~1,000,000 visits
(households 0-5 mod 10: two nobody-home knocks, a refusal and a screening with every member;
6: two nobody-home; 7: refused; 8: vacant; 9: not started). Progress is then rebuilt with
`recompute_progress --fix`, and checked again: the invariant must hold at scale.

Figures (median and p95 over `rounds`), each beside a baseline from the same run:
- a worker's list of ~1,000 households (selectors.worker_household_list, evaluated) vs the bare
  SQL that reads the same rows;                                          target <= 50 ms
- the district rollup (coverage.coverage_by_child_area for the district and for every street)
  vs the raw SQL GROUP BY over visits that counts the same screened households; target p95
  <= 100 ms;
- visit submission over HTTP under gunicorn with 16 concurrent clients (wrk), each request a
  fresh client UUID, vs a bare endpoint that inserts one row on the same stack; targets >= 300/s
  on SQLite, >= 500/s on PostgreSQL. Afterwards: visits stored == 2xx answers (nothing lost,
  nothing doubled).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_VAR,
    DISTRICT_CODE,
    PYTHON,
    ROOT,
    BenchDB,
    child_env,
    log,
    manage,
    save_results,
)
from search_roster import ensure_imported

WORKER_HOUSEHOLDS = 1000
HTTP_PORT = 8765
CONNECTIONS = 16


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(fn, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), percentile(times, 0.95)


def prepare(kind: str, persons: int) -> BenchDB:
    source = ensure_imported(kind, persons)
    db = BenchDB(kind, f"doorstep_bench_sweep_{persons}")
    if db.exists() and os.environ.get("SWEEP_REUSE") == "1":
        manage(["migrate", "-v0"], db.url)
        return db
    log(f"copying {source.name} → {db.name}")
    db.create_from(source)
    manage(["migrate", "-v0"], db.url)  # the copy may predate newer migrations
    return db


def setup_campaign(persons: int) -> dict:
    """In-process (Django set up for the bench database): campaign, users, visits, progress."""
    from django.db import connection
    from django.utils import timezone

    from doorstep.accounts.models import Role, User
    from doorstep.accounts.services import api_token_create
    from doorstep.areas.models import Area, AreaLevel
    from doorstep.core.bulk import insert_rows
    from doorstep.registry.models import Person
    from doorstep.screening.models import (
        Campaign,
        HouseholdProgress,
        PersonCheck,
        RiskArea,
        Visit,
    )
    from doorstep.screening.services import campaign_create

    district = Area.objects.get(code=DISTRICT_CODE)
    command, _ = User.objects.update_or_create(
        username="bench_command",
        defaults={"role": Role.COMMAND, "jurisdiction_area": district, "is_active": True},
    )
    RiskArea.objects.get_or_create(name="湖北")
    existing = Campaign.objects.filter(name="bench sweep").first()
    if existing is None:
        t0 = time.perf_counter()
        campaign = campaign_create(
            user=command,
            name="bench sweep",
            scope_area=district,
            starts_at=timezone.now() - timezone.timedelta(days=3),
            deadline=timezone.now() + timezone.timedelta(days=30),
            max_attempts=5,
        )
        enrol_s = time.perf_counter() - t0
        log(f"campaign created, {campaign.progress.count()} households enrolled in {enrol_s:.1f} s")
        visits_made = _make_visits(campaign, connection, insert_rows, Visit, PersonCheck, Person)
        t0 = time.perf_counter()
        manage(["recompute_progress", str(campaign.pk), "--fix"], connection_url(), check=False)
        log(f"progress rebuilt from {visits_made} visits in {time.perf_counter() - t0:.1f} s")
    else:
        campaign, enrol_s = existing, None
    t0 = time.perf_counter()
    check = manage(["recompute_progress", str(campaign.pk)], connection_url(), check=False)
    recompute_s = time.perf_counter() - t0
    log(f"recompute check: {check.stdout.strip()} ({recompute_s:.1f} s)")

    # A worker holding ~1,000 households: whole grids of one community until the count is met.
    grids = list(Area.objects.filter(level=AreaLevel.GRID).order_by("code"))
    worker, _ = User.objects.update_or_create(
        username="bench_worker",
        defaults={
            "role": Role.GRID_WORKER,
            "jurisdiction_area": grids[0].parent,
            "is_active": True,
        },
    )
    held = 0
    for grid in grids:
        if held >= WORKER_HOUSEHOLDS or not grid.path.startswith(grids[0].parent.path):
            break
        held += HouseholdProgress.objects.filter(campaign=campaign, grid=grid).update(
            assigned_to=worker
        )
    held = HouseholdProgress.objects.filter(campaign=campaign, assigned_to=worker).count()
    # Community-level jurisdiction so the grid check passes; the list is by assignment.
    _token, key = api_token_create(user=worker, name="bench")
    members = {}
    for person in Person.objects.filter(
        household__progress__campaign=campaign,
        household__progress__assigned_to=worker,
        status="active",
    ).values("household_id", "pk"):
        members.setdefault(person["household_id"], []).append(person["pk"])
    return {
        "campaign": campaign,
        "command": command,
        "worker": worker,
        "token": key,
        "held": held,
        "members": members,
        "visits": Visit.objects.filter(campaign=campaign).count(),
        "enrol_s": enrol_s,
        "recompute_check": check.stdout.strip(),
        "recompute_s": round(recompute_s, 1),
    }


def connection_url() -> str:
    return os.environ["DATABASE_URL"]


def _make_visits(campaign, connection, insert_rows, Visit, PersonCheck, Person) -> int:
    """~1M visits straight into the tables (the services would take an hour; the point here is
    reading at scale). Progress is rebuilt from them by the real recompute command."""
    import uuid
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    now = timezone.now()
    base = now - timezone.timedelta(days=2)
    progress = list(
        campaign.progress.values_list("household_id", flat=True).order_by("household_id")
    )
    members: dict[int, list[int]] = {}
    for household_id, pk in (
        Person.objects.filter(status="active")
        .values_list("household_id", "pk")
        .iterator(chunk_size=50000)
    ):
        members.setdefault(household_id, []).append(pk)
    plan = {
        **{r: ["not_home", "not_home", "refused", "screened"] for r in range(6)},
        6: ["not_home", "not_home"],
        7: ["refused"],
        8: ["vacant"],
        9: [],
    }
    columns = [
        "campaign",
        "household",
        "worker",
        "outcome",
        "source",
        "visited_at",
        "entered_at",
        "client_uuid",
        "body_hash",
        "notes",
    ]
    made = 0
    t0 = time.perf_counter()
    for start in range(0, len(progress), 20000):
        chunk = progress[start : start + 20000]
        rows, screened = [], []
        for household_id in chunk:
            for step, outcome in enumerate(plan[household_id % 10]):
                key = uuid.uuid4()
                at = base + timezone.timedelta(hours=5 * step, minutes=household_id % 50)
                rows.append(
                    (campaign.pk, household_id, None, outcome, "field", at, at, key, "", "")
                )
                if outcome == "screened":
                    screened.append((household_id, key))
        with transaction.atomic():
            insert_rows(Visit, columns, rows)
            made += len(rows)
            visit_ids = dict(
                Visit.objects.filter(client_uuid__in=[k for _h, k in screened]).values_list(
                    "household_id", "pk"
                )
            )
            checks = []
            for household_id, _key in screened:
                for index, person_id in enumerate(members.get(household_id, [])):
                    flagged = (household_id + index) % 97 == 0
                    temperature = Decimal("38.1") if flagged else Decimal("36.6")
                    checks.append(
                        (
                            visit_ids[household_id],
                            person_id,
                            "present",
                            "",
                            None,
                            temperature,
                            [],
                            "",
                            None,
                            "",
                            False,
                            "",
                            ["fever"] if flagged else [],
                            flagged,
                            "",
                        )
                    )
            insert_rows(
                PersonCheck,
                [
                    "visit",
                    "person",
                    "presence",
                    "whereabouts",
                    "expected_return",
                    "temperature",
                    "symptoms",
                    "travel_from",
                    "returned_on",
                    "travel_means",
                    "contact_with_case",
                    "notes",
                    "flags",
                    "flagged",
                    "temperature_not_measured",
                ],
                checks,
            )
        log(f"  visits {made:,} ({time.perf_counter() - t0:.0f} s)")
    return made


def measure_reads(ctx: dict, rounds: int, kind: str) -> dict:
    from django.db import connection

    from doorstep.accounts.models import User
    from doorstep.areas.models import Area, AreaLevel
    from doorstep.screening import coverage, selectors

    campaign, worker = ctx["campaign"], ctx["worker"]

    def worker_list():
        fresh = User.objects.select_related("jurisdiction_area").get(pk=worker.pk)
        rows = list(selectors.worker_household_list(fresh, campaign))
        assert len(rows) == ctx["held"], (len(rows), ctx["held"])

    table_p = "screening_householdprogress"

    def worker_list_bare():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT p.*, h.* FROM {table_p} p JOIN registry_household h "
                "ON h.id = p.household_id WHERE p.campaign_id = %s AND p.assigned_to_id = %s "
                "ORDER BY p.grid_id, h.building, h.unit, h.floor, h.room, h.id",
                [campaign.pk, worker.pk],
            )
            cursor.fetchall()

    list_median, list_p95 = timed(worker_list, rounds)
    bare_list_median, _bare_list_p95 = timed(worker_list_bare, rounds)

    district = Area.objects.get(code=DISTRICT_CODE)
    streets = list(Area.objects.filter(level=AreaLevel.STREET))

    district_median, district_p95 = timed(
        lambda: coverage.coverage_by_child_area(campaign, district), rounds
    )
    street_times = []
    for street in streets:
        t0 = time.perf_counter()
        coverage.coverage_by_child_area(campaign, street)
        street_times.append((time.perf_counter() - t0) * 1000)
    depth = len(district.path) + 10  # '/500109/' + the 9-character street code + '/'

    def raw_group_by():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT substr(a.path, 1, %s), COUNT(DISTINCT v.household_id) "
                "FROM screening_visit v JOIN registry_household h ON h.id = v.household_id "
                "JOIN areas_area a ON a.id = h.grid_id "
                "WHERE v.campaign_id = %s AND v.outcome = 'screened' GROUP BY 1",
                [depth, campaign.pk],
            )
            return dict(cursor.fetchall())

    raw_median, raw_p95 = timed(raw_group_by, max(5, rounds // 3))
    raw = raw_group_by()
    total, children = coverage.coverage_by_child_area(campaign, district)
    mine = {c.key.path: c.by_state.get("screened", 0) for c in children}
    agree = all(raw.get(path, 0) == n for path, n in mine.items())
    return {
        "worker_households": ctx["held"],
        "worker_list_median_ms": round(list_median, 1),
        "worker_list_p95_ms": round(list_p95, 1),
        "worker_list_bare_median_ms": round(bare_list_median, 1),
        "worker_list_ratio": round(list_median / bare_list_median, 2),
        "rollup_district_median_ms": round(district_median, 1),
        "rollup_district_p95_ms": round(district_p95, 1),
        "rollup_streets_p95_ms": round(percentile(street_times, 0.95), 1),
        "raw_group_by_visits_median_ms": round(raw_median, 1),
        "raw_group_by_visits_p95_ms": round(raw_p95, 1),
        "rollup_ratio_vs_raw": round(district_median / raw_median, 3),
        "screened_by_street_agrees_with_raw": agree,
        "district_households": total.households,
        "district_closed": total.closed,
    }


WRK_SCRIPT = r"""
local bodies = {}
local campaign = %(campaign)d
local households = %(households)s
local counter = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) %% 100000)
local function uuid4()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (t:gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%%x", v)
  end))
end
request = function()
  counter = counter + 1
  local h = households[(counter %% #households) + 1]
  local checks = {}
  for i, pid in ipairs(h[2]) do
    checks[#checks + 1] = string.format('{"person_id": %%d, "temperature": "36.6"}', pid)
  end
  local body = string.format(
    '{"client_uuid": "%%s", "household_id": %%d, "outcome": "screened", ' ..
    '"visited_at": "%(visited_at)s", "person_checks": [%%s]}',
    uuid4(), h[1], table.concat(checks, ", "))
  return wrk.format("POST", "%(path)s", nil, body)
end
"""

BARE_SCRIPT = r"""
request = function()
  return wrk.format("POST", "/api/bench/insert-one", nil, "")
end
"""


def run_wrk(script: str, token: str, seconds: int) -> dict:
    path = BENCH_VAR / "wrk-script.lua"
    path.write_text(script)
    done = BENCH_VAR / "wrk-done.lua"
    done.write_text("")
    proc = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(path),
            "-H",
            f"Authorization: Bearer {token}",
            "-H",
            "Content-Type: application/json",
            f"http://127.0.0.1:{HTTP_PORT}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    out = proc.stdout
    stats = {"raw": out}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            stats["rps"] = float(line.split()[1])
        elif "requests in" in line:
            stats["requests"] = int(line.split()[0])
        elif line.startswith("Non-2xx or 3xx responses:"):
            stats["non_2xx"] = int(line.split()[-1])
        elif line.startswith("99%"):
            stats["p99"] = line.split()[1]
        elif line.startswith("50%"):
            stats["p50"] = line.split()[1]
    stats.setdefault("non_2xx", 0)
    return stats


def measure_http(ctx: dict, db: BenchDB, seconds: int) -> dict:
    from django.utils import timezone

    from doorstep.screening.models import Visit

    if not shutil.which("wrk"):
        return {"skipped": "wrk not installed: apt-get install wrk"}
    households = (
        "{"
        + ", ".join(
            "{{{}, {{{}}}}}".format(h, ", ".join(str(p) for p in pids))
            for h, pids in list(ctx["members"].items())[:500]
        )
        + "}"
    )
    visited_at = (timezone.now() - timezone.timedelta(minutes=30)).isoformat()
    env = child_env(db.url)
    env.update(DOORSTEP_BENCH_ENDPOINTS="1", DOORSTEP_DEBUG="0", DOORSTEP_LOG_LEVEL="WARNING")
    workers = os.environ.get("SWEEP_GUNICORN_WORKERS", "4")
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "doorstep.wsgi",
            "-w",
            workers,
            "-b",
            f"127.0.0.1:{HTTP_PORT}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        time.sleep(4)
        before = Visit.objects.filter(campaign=ctx["campaign"]).count()
        run_wrk(BARE_SCRIPT, ctx["token"], 3)  # warm the workers
        bare = run_wrk(BARE_SCRIPT, ctx["token"], seconds)
        visits = run_wrk(
            WRK_SCRIPT
            % {
                "campaign": ctx["campaign"].pk,
                "households": households,
                "visited_at": visited_at,
                "path": f"/api/campaigns/{ctx['campaign'].pk}/visits",
            },
            ctx["token"],
            seconds,
        )
        after = Visit.objects.filter(campaign=ctx["campaign"]).count()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    ok = visits.get("requests", 0) - visits["non_2xx"]
    return {
        "gunicorn_workers": int(workers),
        "connections": CONNECTIONS,
        "seconds": seconds,
        "visits_per_s": visits.get("rps"),
        "visit_p50": visits.get("p50"),
        "visit_p99": visits.get("p99"),
        "visit_non_2xx": visits["non_2xx"],
        "bare_insert_per_s": bare.get("rps"),
        "bare_p50": bare.get("p50"),
        "ratio_visit_vs_bare": round(visits.get("rps", 0) / bare["rps"], 3)
        if bare.get("rps")
        else None,
        # Requests still in flight when wrk stops are stored but not counted by wrk: stored may
        # exceed acknowledged by at most one per connection; fewer stored would be a loss.
        "visits_stored": after - before,
        "visits_acknowledged": ok,
        "lost": max(0, ok - (after - before)),
        "in_flight_at_stop": max(0, (after - before) - ok),
    }


def run(kind: str, persons: int, rounds: int, seconds: int, skip_http: bool) -> dict:
    db = prepare(kind, persons)
    os.environ.update(child_env(db.url))
    os.environ["DOORSTEP_DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    if kind == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    ctx = setup_campaign(persons)
    if kind == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    result = {
        "db": kind,
        "persons": persons,
        "visits": ctx["visits"],
        "enrol_s": ctx["enrol_s"],
        "recompute_check": ctx["recompute_check"],
        "recompute_s": ctx["recompute_s"],
    }
    result.update(measure_reads(ctx, rounds, kind))
    if not skip_http:
        connection.close()
        result.update(measure_http(ctx, db, seconds))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    result = run(args.db, args.persons, args.rounds, args.seconds, args.skip_http)
    targets = {
        "worker list": ("worker_list_median_ms", 50, "<="),
        "district rollup p95": ("rollup_district_p95_ms", 100, "<="),
    }
    if "visits_per_s" in result:
        targets["visits/s"] = ("visits_per_s", 300 if args.db == "sqlite" else 500, ">=")
    print(
        json.dumps(
            {k: v for k, v in result.items() if k != "raw"},
            indent=2,
            ensure_ascii=False,
            default=str,
        )
    )
    for label, (key, target, op) in targets.items():
        value = result.get(key)
        ok = value is not None and (value <= target if op == "<=" else value >= target)
        print(f"{args.db} {label}: {value} (target {op} {target}) {'OK' if ok else 'MISSED'}")
    print(f"saved {save_results(f'sweep-{args.db}', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
