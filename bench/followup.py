"""Follow-up at scale (issue 10): N persons under monitoring with 14 days of checks each.

Prints, each beside a baseline measured in the same run on the same database:
- a community's "due now" list (followup.field_reads.due_now_rows, as the due API reads it) and
  a worker's today page (the page through Django's test client) — median, against bare SQL
  reading the same rows;
- the district's counts for all 17 streets (followup.counts.counts_by_child_area) — p95,
  against a GROUP BY over the raw checks computing the same figures;
- check submission through the API (in process, Django's full request stack) — checks/s,
  against the bare one-row insert endpoint on the same stack (/api/bench/insert-one); lost = 0.

    .venv/bin/python bench/followup.py [--monitored 50000] [--rounds 30] [--submissions 300] \
        [--backend postgres|sqlite] [--db-name doorstep_bench_followup] [--reuse]

PostgreSQL by default, or SQLite (var/bench/NAME.sqlite3) with --backend sqlite: database
--db-name (default doorstep_bench_followup, or $DOORSTEP_BENCH_DB_NAME), dropped and made again
each run unless --reuse finds it built for the same --monitored.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal

from _common import ROOT, BenchDB, child_env, log, manage, save_results

DAYS = 14
# The columns of the checks the bench writes with insert_rows, in the order of its tuples.
CHECK_COLUMNS = [
    "monitoring_id",
    "slot_date",
    "slot",
    "outcome",
    "method",
    "temperature",
    "symptoms",
    "measured_at",
    "entered_at",
    "entered_by_id",
    "late",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(fn, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2), round(percentile(times, 0.95), 2)


def timed_pair(fn, bare, rounds: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """fn and its baseline in turns (fn, bare, fn, bare, ...): on a machine whose load moves
    during the run, both sides see the same load. ((median, p95) of fn, of bare)."""
    fn()
    bare()  # one untimed call of each first: connections, caches, plans
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for side, call in ((0, fn), (1, bare)):
            t0 = time.perf_counter()
            call()
            times[side].append((time.perf_counter() - t0) * 1000)
    return (
        (round(statistics.median(times[0]), 2), round(percentile(times[0], 0.95), 2)),
        (round(statistics.median(times[1]), 2), round(percentile(times[1], 0.95), 2)),
    )


def build(monitored: int) -> dict:
    """Areas (the demo's 17 streets), one household and person per key person, monitorings that
    started DAYS-1 days ago, two checks a day up to now (some missing), the tally in step."""
    from django.db import connection
    from django.utils import timezone

    from doorstep.accounts.models import Role, User
    from doorstep.areas.models import Area, AreaLevel
    from doorstep.core.bulk import insert_rows
    from doorstep.demo.services import demo_areas_create
    from doorstep.followup import schedule
    from doorstep.followup.models import Check, KeyPerson, Monitoring
    from doorstep.registry.models import Household, Person

    district = demo_areas_create(persons=monitored * 20)
    grids = list(
        Area.objects.filter(level=AreaLevel.GRID).select_related("parent").order_by("code")
    )
    log(f"{len(grids)} grids; writing {monitored} persons and key persons")
    now = timezone.now()
    today = schedule.local_date(now)
    current = schedule.slot_of(now)
    ended_today = schedule.ended_slots_today(now)
    start = today - datetime.timedelta(days=DAYS - 1)
    started_at = schedule.local_moment(start, datetime.time(8))
    command, _ = User.objects.update_or_create(
        username="bench_command", defaults={"role": Role.COMMAND, "jurisdiction_area": district}
    )
    first_community = grids[0].parent
    admin, _ = User.objects.update_or_create(
        username="bench_admin",
        defaults={"role": Role.COMMUNITY_ADMIN, "jurisdiction_area": first_community},
    )
    worker, _ = User.objects.update_or_create(
        username="bench_worker", defaults={"role": Role.GRID_WORKER, "jurisdiction_area": grids[0]}
    )
    hh_rows, person_rows = [], []
    for n in range(monitored):
        grid = grids[n % len(grids)]
        hh_rows.append(
            (
                grid.pk,
                f"BF{n:08d}",
                "演示路",
                f"{n}号",
                "",
                "",
                "",
                "",
                "registered",
                "occupied",
                now,
                now,
            )
        )
    insert_rows(
        Household,
        [
            "grid_id",
            "household_number",
            "road",
            "house_number",
            "building",
            "unit",
            "room",
            "address",
            "kind",
            "status",
            "created_at",
            "updated_at",
        ],
        hh_rows,
    )
    households = dict(
        Household.objects.filter(household_number__startswith="BF").values_list(
            "household_number", "pk"
        )
    )
    for n in range(monitored):
        person_rows.append(
            (
                households[f"BF{n:08d}"],
                f"重点{n}",
                "none",
                "",
                "",
                "",
                "permanent",
                "active",
                False,
                now,
                now,
            )
        )
    insert_rows(
        Person,
        [
            "household_id",
            "name",
            "id_type",
            "phone",
            "sex",
            "relation",
            "residency",
            "status",
            "is_new",
            "created_at",
            "updated_at",
        ],
        person_rows,
    )
    persons = list(
        Person.objects.filter(household__household_number__startswith="BF")
        .order_by("household__household_number")
        .values_list("pk", flat=True)
    )
    kp_rows = []
    for n, person_id in enumerate(persons):
        grid = grids[n % len(grids)]
        # the worker holds the key persons of the first grid
        kp_rows.append(
            (person_id, grid.parent_id, worker.pk if grid.pk == grids[0].pk else None, now)
        )
    insert_rows(KeyPerson, ["person_id", "community_id", "worker_id", "created_at"], kp_rows)
    key_persons = list(KeyPerson.objects.order_by("pk").values_list("pk", flat=True))
    m_rows, plan = [], {}
    for n, kp in enumerate(key_persons):
        end = today + datetime.timedelta(days=n % 3)  # some end today
        missing_today = n % 10 == 0  # 10 % missed today
        lost = n % 50 == 1  # 2 % lost: nothing for the last 3 days
        mask = 0 if missing_today else (1 << ended_today) - 1 if ended_today else 0
        if not missing_today and current.index < schedule.slots_per_day() and n % 2 == 0:
            mask |= 1 << current.index  # half already checked in the current slot
        last = (
            None
            if lost
            else (
                now - datetime.timedelta(minutes=30) if mask else now - datetime.timedelta(hours=13)
            )
        )
        plan[kp] = (mask, lost)
        m_rows.append(
            (
                kp,
                "home_isolation",
                "active",
                started_at,
                start,
                end,
                0,
                {},
                "",
                "",
                last,
                None if lost else today if mask else today - datetime.timedelta(days=1),
                mask if not lost else 0,
            )
        )
    insert_rows(
        Monitoring,
        [
            "key_person_id",
            "measure",
            "status",
            "started_at",
            "start_date",
            "end_date",
            "extension_days",
            "eligibility",
            "release_reason",
            "early_release_reason",
            "last_check_at",
            "checked_on",
            "checked_mask",
        ],
        m_rows,
    )
    monitorings = dict(Monitoring.objects.values_list("key_person_id", "pk"))
    log("writing the checks")
    total = 0
    batch = []
    for kp, (mask, lost) in plan.items():
        m_id = monitorings[kp]
        for day_offset in range(DAYS):
            day = start + datetime.timedelta(days=day_offset)
            if lost and day >= today - datetime.timedelta(days=2):
                continue
            for index in range(schedule.slots_per_day()):
                slot = schedule.Slot(day, index)
                if day == today:
                    if not mask & (1 << index):
                        continue
                elif day == today - datetime.timedelta(days=1) and index == 1 and not mask:
                    continue
                measured = min(
                    slot.ends_at - datetime.timedelta(hours=1), now - datetime.timedelta(minutes=30)
                )
                batch.append(
                    (
                        m_id,
                        day,
                        index,
                        "measured",
                        "visit",
                        Decimal("36.5"),
                        [],
                        measured,
                        measured,
                        worker.pk,
                        False,
                    )
                )
                if len(batch) >= 20000:
                    insert_rows(Check, CHECK_COLUMNS, batch)
                    total += len(batch)
                    batch = []
    insert_rows(Check, CHECK_COLUMNS, batch)
    total += len(batch)
    log(f"{total} checks written")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "command": command,
        "admin": admin,
        "worker": worker,
        "district": district,
        "checks": total,
    }


def reused(monitored: int) -> dict | None:
    """The context of a database built by an earlier run for the same size, or None."""
    from django.db import connection

    from doorstep.accounts.models import User
    from doorstep.followup.models import Check, Monitoring

    users = {u.username: u for u in User.objects.filter(username__startswith="bench_")}
    if Monitoring.objects.count() != monitored or not {
        "bench_command",
        "bench_admin",
        "bench_worker",
    } <= set(users):
        return None
    # the checks an earlier run submitted through the API (the build writes none with a
    # submission) go, and their monitorings' tallies are folded again: the worker's checks are
    # due again
    from doorstep.followup.services.checks import tally_of_checks

    submitted = Check.objects.filter(submissions__isnull=False)
    touched = set(submitted.values_list("monitoring_id", flat=True))
    submitted.delete()
    for monitoring in Monitoring.objects.filter(pk__in=touched):
        monitoring.last_check_at, monitoring.checked_on, monitoring.checked_mask = tally_of_checks(
            monitoring
        )
        monitoring.save(update_fields=["last_check_at", "checked_on", "checked_mask"])
    log(f"{len(touched)} checks of an earlier run's submissions removed")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "command": users["bench_command"],
        "admin": users["bench_admin"],
        "worker": users["bench_worker"],
        "district": users["bench_command"].jurisdiction_area,
        "checks": Check.objects.count(),
    }


def measure(ctx: dict, rounds: int, submissions: int) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from doorstep.accounts.models import User
    from doorstep.accounts.services import api_token_create
    from doorstep.followup import counts, field_reads, schedule, selectors
    from doorstep.followup.models import Check, CheckSubmission, KeyPerson

    result: dict = {"checks": ctx["checks"]}
    admin = User.objects.select_related("jurisdiction_area").get(pk=ctx["admin"].pk)
    worker = User.objects.select_related("jurisdiction_area").get(pk=ctx["worker"].pk)
    command = User.objects.select_related("jurisdiction_area").get(pk=ctx["command"].pk)
    now = timezone.now()
    current = schedule.slot_of(now)
    bit = 1 << current.index
    # a moment as the database's own columns hold it (SQLite: text in UTC, no offset)
    moment = connection.ops.adapt_datetimefield_value

    due_rows = len(field_reads.due_now_rows(admin, now))
    # every row of the list (none cut by its limit): the models' queryset holds as many
    assert due_rows == selectors.due_now(admin, now).count()
    result["due_rows"] = due_rows

    def due_orm():
        rows = field_reads.due_now_rows(admin, now)
        assert len(rows) == due_rows

    def due_bare():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT m.*, k.*, p.*, a.* FROM followup_monitoring m "
                "JOIN followup_keyperson k ON k.id = m.key_person_id "
                "JOIN registry_person p ON p.id = k.person_id "
                "JOIN areas_area a ON a.id = k.community_id "
                "WHERE k.community_id = %s AND m.status = 'active' AND m.end_date >= %s "
                "AND m.started_at < %s AND (m.checked_on IS NULL OR m.checked_on < %s "
                "OR (m.checked_on = %s AND (m.checked_mask & %s) = 0)) ORDER BY a.path, k.id",
                [
                    admin.jurisdiction_area_id,
                    current.day,
                    moment(current.ends_at),
                    current.day,
                    current.day,
                    bit,
                ],
            )
            assert len(cursor.fetchall()) == due_rows

    (result["due_median_ms"], result["due_p95_ms"]), (result["due_bare_median_ms"], _) = timed_pair(
        due_orm, due_bare, rounds
    )
    result["due_ratio"] = round(result["due_median_ms"] / result["due_bare_median_ms"], 2)

    client = Client()
    client.force_login(worker)
    held = KeyPerson.objects.filter(worker=worker).count()
    result["worker_key_persons"] = held

    def today_page():
        response = client.get("/followup/today/")
        assert response.status_code == 200

    arrival_hours = settings.FOLLOWUP_REFERRAL_ARRIVAL_HOURS

    def today_bare():
        # the same rows the page reads: the worker's active monitorings with their person, the
        # last two days' checks of them, the key persons given to them in the last day with
        # their names, and their open referrals not arrived in time (the page's two short
        # lists; until 2026-11-30 the bare side read only the first two)
        today_bare_lists()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT k.*, p.* FROM followup_keyperson k "
                "JOIN registry_person p ON p.id = k.person_id "
                "WHERE k.worker_id = %s AND k.created_at >= %s",
                [worker.pk, moment(now - datetime.timedelta(days=1))],
            )
            cursor.fetchall()
            cursor.execute(
                "SELECT r.*, p.name FROM followup_referral r "
                "JOIN followup_keyperson k ON k.id = r.key_person_id "
                "JOIN registry_person p ON p.id = k.person_id "
                "WHERE k.worker_id = %s AND r.status = 'open' AND r.opened_at < %s LIMIT 50",
                [worker.pk, moment(now - datetime.timedelta(hours=arrival_hours))],
            )
            cursor.fetchall()

    def today_bare_lists():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT m.*, k.*, p.* FROM followup_monitoring m "
                "JOIN followup_keyperson k ON k.id = m.key_person_id "
                "JOIN registry_person p ON p.id = k.person_id "
                "WHERE k.worker_id = %s AND m.status = 'active'",
                [worker.pk],
            )
            cursor.fetchall()
            cursor.execute(
                "SELECT c.monitoring_id, c.slot_date, c.slot FROM followup_check c "
                "JOIN followup_monitoring m ON m.id = c.monitoring_id "
                "JOIN followup_keyperson k ON k.id = m.key_person_id "
                "WHERE k.worker_id = %s AND c.slot_date >= %s",
                [worker.pk, current.day - datetime.timedelta(days=1)],
            )
            cursor.fetchall()

    (result["today_median_ms"], result["today_p95_ms"]), (result["today_bare_median_ms"], _) = (
        timed_pair(today_page, today_bare, rounds)
    )
    result["today_ratio"] = round(result["today_median_ms"] / result["today_bare_median_ms"], 2)
    # the baseline of the runs before 2026-11-30's (the two lists only), for comparison
    _page, (result["today_bare_two_lists_median_ms"], _) = timed_pair(
        today_page, today_bare_lists, max(5, rounds // 3)
    )
    result["today_ratio_vs_two_lists"] = round(
        result["today_median_ms"] / result["today_bare_two_lists_median_ms"], 2
    )

    district = command.jurisdiction_area
    total, streets = counts.counts_by_child_area(command, district, now)
    result["streets"] = len(streets)
    result["under_monitoring"] = total.figures["under"]
    day = counts.day_of(now)
    depth = len(district.path) + len(streets[0].area.code) + 1 if streets else 0

    def raw_group_by():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT substr(a.path, 1, %s) AS street, COUNT(*) FILTER (WHERE t.n_today > 0), "
                "COUNT(*) FILTER (WHERE t.n_today < %s), COUNT(*) FILTER (WHERE t.last_at IS NULL "
                "OR t.last_at < %s) FROM (SELECT m.id, k.community_id, "
                "COUNT(c.id) FILTER (WHERE c.slot_date = %s AND c.slot < %s) AS n_today, "
                "MAX(c.measured_at) AS last_at FROM followup_monitoring m "
                "JOIN followup_keyperson k ON k.id = m.key_person_id "
                "LEFT JOIN followup_check c ON c.monitoring_id = m.id "
                "WHERE m.status = 'active' GROUP BY m.id, k.community_id) t "
                "JOIN areas_area a ON a.id = t.community_id GROUP BY 1",
                [depth, day.ended, moment(day.lost_before), day.today, day.ended],
            )
            cursor.fetchall()

    result["counts_median_ms"], result["counts_p95_ms"] = timed(
        lambda: counts.counts_by_child_area(command, district, now), rounds
    )
    result["raw_group_by_median_ms"], result["raw_group_by_p95_ms"] = timed(
        raw_group_by, max(5, rounds // 3)
    )
    result["counts_vs_raw"] = round(result["counts_p95_ms"] / result["raw_group_by_p95_ms"], 3)

    # check submission through the API against the bare insert endpoint, same stack
    _token, key = api_token_create(user=worker, name="bench")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    targets = list(
        selectors.due_now(worker, now).values_list("key_person_id", flat=True)[:submissions]
    )
    before = CheckSubmission.objects.count()
    assert api.post("/api/bench/insert-one").status_code == 200  # untimed: the token's first use
    # one check, then one bare insert, in turns (the same load on both sides)
    api_s = bare_s = 0.0
    for kp in targets:
        body = {
            "client_uuid": str(uuid.uuid4()),
            "measured_at": now.isoformat(),
            "temperature": "36.6",
        }
        t0 = time.perf_counter()
        response = api.post(
            f"/api/followup/key-persons/{kp}/checks",
            json.dumps(body),
            content_type="application/json",
        )
        api_s += time.perf_counter() - t0
        assert response.status_code in (200, 201), response.content
        t0 = time.perf_counter()
        bare_response = api.post("/api/bench/insert-one")
        bare_s += time.perf_counter() - t0
        assert bare_response.status_code == 200
    stored = CheckSubmission.objects.count() - before
    n = max(1, len(targets))
    result["submissions"] = len(targets)
    result["checks_per_s"] = round(n / api_s, 1)
    result["bare_inserts_per_s"] = round(n / bare_s, 1)
    result["submit_ratio"] = round(result["checks_per_s"] / result["bare_inserts_per_s"], 2)
    result["lost"] = len(targets) - stored
    result["checks_now"] = Check.objects.count()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--monitored", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument(
        "--backend",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="the database of the run: PostgreSQL (the default) or a SQLite file under var/bench",
    )
    parser.add_argument(
        "--db-name",
        default=os.environ.get("DOORSTEP_BENCH_DB_NAME", "doorstep_bench_followup"),
        help="the PostgreSQL database of the run (one per person benching on a shared server)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database of an earlier run with the same --monitored (migrated again, "
        "not rebuilt): for iterating on the code; the data's 'now' is then that run's",
    )
    args = parser.parse_args()
    db = BenchDB(args.backend, args.db_name)
    reuse = args.reuse and db.exists()
    if not reuse:
        if db.exists():
            db.drop()
        db.create_empty()
    manage(["migrate", "-v0"], db.url)
    os.environ.update(child_env(db.url))
    os.environ["DOORSTEP_DEBUG"] = "0"
    os.environ["DOORSTEP_BENCH_ENDPOINTS"] = "1"
    os.environ["DOORSTEP_ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["DOORSTEP_RATE_SCOPED"] = "1000000/m"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    t0 = time.perf_counter()
    ctx = reused(args.monitored) if reuse else None
    if ctx is None:
        ctx = build(args.monitored)
        log(f"built in {time.perf_counter() - t0:.0f} s")
    else:
        log("reusing the database of an earlier run")
    result = {
        "backend": args.backend,
        "monitored": args.monitored,
        **measure(ctx, args.rounds, args.submissions),
    }
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    checks = [
        ("due now median ≤ 2× bare", result["due_ratio"] <= 2),
        ("due now median ≤ 50 ms", result["due_median_ms"] <= 50),
        ("today page median ≤ 2× bare", result["today_ratio"] <= 2),
        ("today page median ≤ 50 ms", result["today_median_ms"] <= 50),
        ("counts p95 ≤ 100 ms", result["counts_p95_ms"] <= 100),
        ("counts faster than the raw GROUP BY", result["counts_vs_raw"] < 1),
        ("submission ≥ 0.5× bare insert", result["submit_ratio"] >= 0.5),
        ("0 lost", result["lost"] == 0),
    ]
    for label, ok in checks:
        print(f"{label}: {'OK' if ok else 'MISSED'}")
    print(f"saved {save_results('followup', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
