"""The command center at district scale: the district brief page, its XLSX export, the evening
freeze of every area, and the dashboard — each beside a baseline measured in the same run.

    .venv/bin/python bench/command.py [--db sqlite|postgres] [--persons 100000] [--rounds 20]
                                      [--areas 10000]

Starts from the sweep bench's database (bench/sweep.py: the roster import of N persons and one
campaign over the whole district with ~N visits, progress rebuilt), then:

- freezes yesterday and today (every area of the district: district, streets, communities and
  grids), timed — target ≤ 60 s for 10,000+ areas;
- the district brief page (GET /command/brief/ as the command user, through the whole Django
  stack) p50/p95, beside the same figures computed with GROUP BYs over the raw records (the
  campaign's fold over every visit in SQL, `as_of` a moment ago, plus the visit counts) —
  target p95 ≤ 500 ms and ≥ 3× faster;
- the brief's XLSX export (POST with a purpose) — target ≤ 3 s;
- the dashboard (GET /) of the command user, a street admin, a community admin and the sweep
  bench's grid worker, each p95 beside a bare authenticated read by the same user (GET of the
  password page) — target p95 ≤ 300 ms and ≤ 3× ("any dashboard"); and the command dashboard's
  parts timed alone in the process (the header's roster counts, the to-dos, the standing).

`--dashboards-only` skips the freeze, the brief page, the raw GROUP BYs and the XLSX export.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import child_env, log, save_results
from sweep import percentile, prepare, setup_campaign, timed


def load() -> float:
    """The 1-minute load average (the machine is shared: say how busy it was)."""
    return round(os.getloadavg()[0], 2)


def spread_grids(target: int) -> int:
    """Make the district hold at least `target` areas: new grids under every community, the
    community's households dealt round-robin over its old and new grids (households, their
    progress rows, the tallies and the roster counts moved with them). The demo tree has
    ~1,500 areas at 1M persons; a real district has 10,000+ (grids of a few hundred people).
    Idempotent."""
    from django.db import transaction

    from doorstep.areas.models import Area, AreaLevel

    have = Area.objects.count()
    if have >= target:
        return have
    communities = list(Area.objects.filter(level=AreaLevel.COMMUNITY).order_by("code"))
    per_community = -(-(target - have) // len(communities))
    with transaction.atomic():
        new = [
            Area(
                code=f"{c.code}B{n:03d}",
                name=f"B{n}网格",
                level=AreaLevel.GRID,
                parent=c,
                path=Area.path_for(parent=c, code=f"{c.code}B{n:03d}"),
            )
            for c in communities
            for n in range(per_community)
        ]
        Area.objects.bulk_create(new, batch_size=2000)
        deal_households(over="parent")
    return Area.objects.count()


def deal_households(*, over: str) -> None:
    """Deal every household round-robin over the grids under its own grid's parent ("parent":
    its community) or grandparent ("parent__parent": its street), moving its progress rows
    with it, then rebuild the roster counts and the tallies (the rows moved by raw UPDATEs, as
    an operator would after such a change: recount_roster --fix, recompute_progress --fix)."""
    from django.db import connection

    from doorstep.areas.models import Area, AreaLevel
    from doorstep.registry.counts import roster_counts_rebuild
    from doorstep.registry.models import Household
    from doorstep.screening.models import Campaign
    from doorstep.screening.tally import tally_rebuild

    grids: dict[int, list[int]] = {}
    for pk, key in (
        Area.objects.filter(level=AreaLevel.GRID).order_by("code").values_list("pk", over)
    ):
        grids.setdefault(key, []).append(pk)
    moves = []
    dealt: dict[int, int] = {}
    for household_id, key in (
        Household.objects.order_by("pk").values_list("pk", f"grid__{over}_id").iterator()
    ):
        n = dealt.get(key, 0)
        dealt[key] = n + 1
        choices = grids[key]
        moves.append((choices[n % len(choices)], household_id))
    with connection.cursor() as cursor:
        cursor.executemany("UPDATE registry_household SET grid_id = %s WHERE id = %s", moves)
        cursor.executemany(
            "UPDATE screening_householdprogress SET grid_id = %s WHERE household_id = %s",
            moves,
        )
    roster_counts_rebuild()
    for campaign in Campaign.objects.all():
        tally_rebuild(campaign=campaign)


def spread_realistic(target: int, grids_per_community: int = 30) -> int:
    """Make the district hold at least `target` areas in the shape of a real district: a few
    hundred communities of ~`grids_per_community` grids each (new communities under every
    street, each community, old or new, topped up with new grids), the street's households
    dealt round-robin over all its grids (households, their progress rows, the tallies and the
    roster counts moved with them, as `spread_grids` does). At 10,000 areas and 17 streets:
    ~320 communities of 30 grids. Idempotent."""
    from django.db import transaction
    from django.db.models import Count

    from doorstep.areas.models import Area, AreaLevel

    have = Area.objects.count()
    if have >= target:
        return have
    streets = list(Area.objects.filter(level=AreaLevel.STREET).order_by("code"))
    communities_now = Area.objects.filter(level=AreaLevel.COMMUNITY).count()
    # each community brings itself and its grids
    communities_wanted = -(-(target - len(streets) - 1) // (grids_per_community + 1))
    per_street = -(-max(0, communities_wanted - communities_now) // len(streets))
    with transaction.atomic():
        Area.objects.bulk_create(
            [
                Area(
                    code=f"{s.code}C{n:03d}",
                    name=f"C{n}社区",
                    level=AreaLevel.COMMUNITY,
                    parent=s,
                    path=Area.path_for(parent=s, code=f"{s.code}C{n:03d}"),
                )
                for s in streets
                for n in range(per_street)
            ],
            batch_size=2000,
        )
        new_grids = []
        communities = Area.objects.filter(level=AreaLevel.COMMUNITY).order_by("code")
        held = dict(
            Area.objects.filter(level=AreaLevel.GRID)
            .values_list("parent")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for c in communities:
            for n in range(held.get(c.pk, 0), grids_per_community):
                code = f"{c.code}B{n:03d}"
                new_grids.append(
                    Area(
                        code=code,
                        name=f"B{n}网格",
                        level=AreaLevel.GRID,
                        parent=c,
                        path=Area.path_for(parent=c, code=code),
                    )
                )
        Area.objects.bulk_create(new_grids, batch_size=2000)
        deal_households(over="parent__parent")
    return Area.objects.count()


def _in_brief_reads(fn) -> None:
    from doorstep.command.brief import brief_reads

    with brief_reads():
        fn()


def role_users(district) -> dict:
    """A street admin (the first street), a community admin (that street's first community)
    and the sweep bench's grid worker, made if missing."""
    from doorstep.accounts.models import Role, User
    from doorstep.areas.models import Area, AreaLevel

    street = Area.objects.filter(parent=district, level=AreaLevel.STREET).order_by("code").first()
    community = Area.objects.filter(parent=street).order_by("code").first()
    users = {}
    for name, role, area in (
        ("bench_street", Role.STREET_ADMIN, street),
        ("bench_community", Role.COMMUNITY_ADMIN, community),
    ):
        users[name], _ = User.objects.update_or_create(
            username=name,
            defaults={"role": role, "jurisdiction_area": area, "is_active": True},
        )
    worker = User.objects.filter(username="bench_worker").first()
    if worker is not None:
        users["bench_worker"] = worker
    return users


def time_dashboards(result: dict, command, rounds: int) -> None:
    """Each role's dashboard beside the same user's bare read, and the command dashboard's
    parts alone."""
    from django.test import Client

    from doorstep.command import dashboard as board
    from doorstep.core.views import home_context
    from tests.two_factor import verify_session

    users = {"command": command}
    users.update(
        {n.removeprefix("bench_"): u for n, u in role_users(command.jurisdiction_area).items()}
    )
    for label, user in users.items():
        client = Client()
        client.force_login(user)
        if label == "command":
            verify_session(client, user)
        assert client.get("/").status_code == 200  # warm

        def dashboard(client=client):
            assert client.get("/").status_code == 200

        def bare_read(client=client):
            assert client.get("/accounts/password/").status_code == 200

        key = "dashboard" if label == "command" else f"dashboard_{label}"
        bare = "bare" if label == "command" else f"bare_{label}"
        # alternately, one of each per round: on a shared machine a burst of load then falls
        # on both series instead of on one block of rounds
        pages: dict[str, list[float]] = {key: [], bare: []}
        for _ in range(rounds):
            for name, fn in ((key, dashboard), (bare, bare_read)):
                t0 = time.perf_counter()
                fn()
                pages[name].append((time.perf_counter() - t0) * 1000)
        for name, times in pages.items():
            result[f"{name}_p50_ms"] = round(statistics.median(times), 2)
            result[f"{name}_p95_ms"] = round(percentile(times, 0.95), 2)
        result[f"{key}_load"] = load()
        result[f"{key}_vs_bare_p95"] = round(result[f"{key}_p95_ms"] / result[f"{bare}_p95_ms"], 2)
        result[f"{key}_vs_bare_p50"] = round(result[f"{key}_p50_ms"] / result[f"{bare}_p50_ms"], 2)
        log(
            f"{label} dashboard p50/p95 {result[f'{key}_p50_ms']:.1f}/{result[f'{key}_p95_ms']:.1f}"
            f" ms, bare read {result[f'{bare}_p50_ms']:.1f}/{result[f'{bare}_p95_ms']:.1f} ms → "
            f"p95 {result[f'{key}_vs_bare_p95']}×, p50 {result[f'{key}_vs_bare_p50']}× "
            f"(load {result[f'{key}_load']})"
        )
    # the parts of the command dashboard, each alone (no HTTP, no template)
    parts = {
        "header": lambda: home_context(command),
        "todos": lambda: board.todos(command),
        "standing": lambda: board.standing(command),
    }
    if hasattr(board, "dashboard_parts"):  # the to-dos share the standing's roll-up
        parts["todos_and_standing"] = lambda: board.dashboard_parts(command)
    for name, fn in parts.items():
        result[f"part_{name}_p50_ms"], result[f"part_{name}_p95_ms"] = timed(fn, rounds)
    result["parts_load"] = load()


def run(
    kind: str,
    persons: int,
    rounds: int,
    skip_freeze: bool = False,
    raw_rounds: int = 3,
    target_areas: int = 0,
    dashboards_only: bool = False,
    shape: str = "flat",
    followup: bool = False,
) -> dict:
    db = prepare(kind, persons)
    os.environ.update(child_env(db.url))
    os.environ["DOORSTEP_DEBUG"] = "0"
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    settings.ALLOWED_HOSTS = ["*"]
    from doorstep.screening.models import Campaign, Visit

    reuse = os.environ.get("SWEEP_REUSE") == "1"
    if reuse and Campaign.objects.filter(name="bench sweep").exists():
        # the sweep bench's database as it was left (its recompute check already ran once)
        ctx = {"visits": Visit.objects.count()}
    else:
        ctx = setup_campaign(persons)
    if target_areas:
        t0 = time.perf_counter()
        log(f"spreading the district over {target_areas}+ areas")
        spread = (spread_realistic if shape == "realistic" else spread_grids)(target_areas)
        log(f"{spread} areas ({time.perf_counter() - t0:.1f} s)")
    scale: dict = {}
    if followup:
        from command_scale import fill

        t0 = time.perf_counter()
        log("writing the follow-up and checkpoint volumes")
        scale = fill()
        scale["fill_s"] = round(time.perf_counter() - t0, 1)
        log(f"follow-up and checkpoints: {scale}")
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        # the planner's statistics, as after an import (the stored counts and tallies included:
        # without them SQLite walks the district's 10,000 areas to find a few hundred parents).
        # PostgreSQL: VACUUM too, as autovacuum does on a production server (this one runs with
        # it off): the build leaves the progress rows' dead versions (~650,000 at 1M persons)
        # and no visibility map, so every index-only count fetched each row from the heap
        # (the command's overdue revisits at 1M: 38-47 ms, 5-7 after it). Outside a transaction
        # (Django's autocommit); a second run finds little to do.
        statement = "VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE"
        cursor.execute(statement)
    log(f"{statement}: {time.perf_counter() - t0:.1f} s")

    from doorstep.accounts.models import User
    from doorstep.areas.models import Area, AreaLevel
    from doorstep.checkpoints.brief import CheckpointsProvider
    from doorstep.command.brief import brief_query
    from doorstep.command.models import BriefSnapshot
    from doorstep.command.services import brief_freeze
    from doorstep.followup.brief import FollowupProvider
    from doorstep.screening.brief import campaign_day_fast, campaigns_on
    from tests.two_factor import verify_session

    command = User.objects.get(username="bench_command")
    district = command.jurisdiction_area
    areas = Area.objects.filter(path__startswith=district.path).count()
    grids = Area.objects.filter(path__startswith=district.path, level=AreaLevel.GRID).count()
    today = timezone.localdate()
    result: dict = {"db": kind, "persons": persons, "visits": ctx["visits"], "areas": areas}
    result["grids"] = grids
    from doorstep.registry.models import Household, Person

    result["persons_stored"] = Person.objects.count()
    result["households"] = Household.objects.count()
    result.update(scale)
    result["communities"] = Area.objects.filter(
        path__startswith=district.path, level=AreaLevel.COMMUNITY
    ).count()
    # The freeze of every area, yesterday's and (its cut-off past) today's.
    # the first day frozen finds no snapshot of its day before (a second pass per provider);
    # the next ones reuse the snapshot just written
    days = [
        ("day_before_yesterday", today - datetime.timedelta(days=2)),
        ("yesterday", today - datetime.timedelta(days=1)),
        ("today", today),
    ]
    if (
        skip_freeze or dashboards_only
    ):  # keep the snapshots a previous run froze (yesterday's is the baseline)
        days = []
    else:
        BriefSnapshot.objects.filter(day__gte=today - datetime.timedelta(days=2)).delete()
    for label, day in days:
        log(f"freezing {label} ({areas} areas)")
        t0 = time.perf_counter()
        try:
            written = brief_freeze(day=day)
        except ValueError as error:  # today's cut-off not passed yet
            log(f"freeze {label}: {error}")
            continue
        result[f"freeze_{label}_s"] = round(time.perf_counter() - t0, 2)
        result[f"freeze_{label}_snapshots"] = written
        result[f"freeze_{label}_load"] = load()
        log(f"froze {label}: {written} snapshots in {result[f'freeze_{label}_s']} s")
    # today's snapshot would make the page read it as a past day's: keep yesterday's only
    BriefSnapshot.objects.filter(day=today).delete()

    if dashboards_only:
        time_dashboards(result, command, rounds)
        return result
    client = Client()
    client.force_login(command)
    verify_session(client, command)
    page = client.get("/command/brief/")
    assert page.status_code == 200, page.status_code

    def brief_page():
        response = client.get("/command/brief/")
        assert response.status_code == 200

    def raw_sweep():
        query = brief_query(district, today, timezone.now() - datetime.timedelta(seconds=30))
        for campaign in campaigns_on(query):
            campaign_day_fast(campaign, query)  # not live: the fold over every visit in SQL

    # the follow-up's and the checkpoints' figures: GROUP BYs over their own records (the
    # checks, the arrivals, the handoffs' events), which the page runs as they are
    def raw_followup():
        FollowupProvider().sections(brief_query(district, today))

    def raw_checkpoints():
        CheckpointsProvider().sections(brief_query(district, today))

    log("timing the brief page and the raw GROUP BYs")
    result["brief_page_p50_ms"], result["brief_page_p95_ms"] = timed(brief_page, rounds)
    result["brief_page_load"] = load()
    raw_p50 = raw_p95 = 0.0
    for name, fn in (
        ("sweep", raw_sweep),
        ("followup", raw_followup),
        ("checkpoints", raw_checkpoints),
    ):
        # as the page reads (on PostgreSQL: a transaction, JIT off, the fold's planner settings)
        p50, p95 = timed(lambda fn=fn: _in_brief_reads(fn), raw_rounds)
        result[f"raw_{name}_p50_ms"] = round(p50, 1)
        raw_p50 += p50
        raw_p95 += p95
    result["raw_p50_ms"], result["raw_p95_ms"] = round(raw_p50, 1), round(raw_p95, 1)
    result["raw_load"] = load()
    result["brief_vs_raw"] = round(result["raw_p50_ms"] / result["brief_page_p50_ms"], 2)

    log("timing the XLSX export and the dashboard")
    times = []
    for n in range(3):
        t0 = time.perf_counter()
        response = client.post("/command/brief/export/", {"purpose": f"bench {n}"})
        body = b"".join(response.streaming_content)
        assert response.status_code == 200 and body[:2] == b"PK"
        times.append(time.perf_counter() - t0)
    result["xlsx_export_s"] = round(min(times), 2)
    result["xlsx_export_max_s"] = round(max(times), 2)
    result["xlsx_load"] = load()

    time_dashboards(result, command, rounds)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--raw-rounds", type=int, default=3)
    parser.add_argument("--skip-freeze", action="store_true")
    parser.add_argument("--dashboards-only", action="store_true")
    parser.add_argument(
        "--areas",
        type=int,
        default=0,
        help="spread the households over new grids until the district has this many areas",
    )
    parser.add_argument(
        "--shape",
        choices=["flat", "realistic"],
        default="flat",
        help="with --areas: flat = new grids under the existing communities (17 communities of "
        "~587 grids at 10,000 areas); realistic = new communities under every street too "
        "(~320 communities of 30 grids)",
    )
    parser.add_argument(
        "--followup",
        action="store_true",
        help="write the issue's follow-up and checkpoint volumes first (bench/command_scale.py: "
        "50,000 key persons, ~1.4M checks, 100,000 arrivals; skipped when already there)",
    )
    args = parser.parse_args()
    result = run(
        args.db,
        args.persons,
        args.rounds,
        args.skip_freeze,
        args.raw_rounds,
        args.areas,
        args.dashboards_only,
        args.shape,
        args.followup,
    )
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    checks = [
        ("district brief p95 ms", result.get("brief_page_p95_ms"), "<=", 500),
        ("brief vs raw GROUP BYs (×)", result.get("brief_vs_raw"), ">=", 3),
        ("XLSX export s", result.get("xlsx_export_s"), "<=", 3),
        ("freeze of every area s", result.get("freeze_yesterday_s"), "<=", 60),
        ("dashboard p95 ms", result.get("dashboard_p95_ms"), "<=", 300),
        ("dashboard / bare read p95 (×)", result.get("dashboard_vs_bare_p95"), "<=", 3),
    ]
    for role in ("street", "community", "worker"):
        checks.append(
            (f"{role} dashboard p95 ms", result.get(f"dashboard_{role}_p95_ms"), "<=", 300)
        )
        checks.append(
            (
                f"{role} dashboard / bare read p95 (×)",
                result.get(f"dashboard_{role}_vs_bare_p95"),
                "<=",
                3,
            )
        )
    for label, value, op, target in checks:
        if value is None:
            continue  # not measured in this run (--dashboards-only)
        ok = value is not None and (value <= target if op == "<=" else value >= target)
        print(f"{args.db} {label}: {value} (target {op} {target}) {'OK' if ok else 'MISSED'}")
    print(f"saved {save_results(f'command-{args.db}', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
