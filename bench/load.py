"""Load: field workers and dashboard users at once, against gunicorn, for minutes.

    .venv/bin/python bench/load.py [--db postgres|sqlite] [--persons 100000] [--seconds 300]
                                   [--workers 50] [--dashboards 5] [--probes 2]
                                   [--gunicorn-workers 4] [--gunicorn-class sync|gthread]
                                   [--resend 0.02] [--timeout 10] [--seed 1] [--reuse]
                                   [--replica-port 5433]

The database is a copy of the roster import (`doorstep_bench_import_csv_<N>` when another script
already keeps it, else our own `doorstep_bench_load_import_<N>`), with the sweep campaign of
bench/sweep.py (every household enrolled, ~3 visits a household already made, progress rebuilt).

Simulated people, each a thread with its own `requests.Session` and its own seeded random:
- field workers (grid_worker, API bearer token, 100-200 households of one grid each, assigned by
  `assignment_create`): GET their household list, GET the members of the next household when it
  is screened, POST a visit (screened with every active member's checks 60 %, nobody home 30 %,
  refused 10 %; a fresh client UUID each), think 0.5-3 s. A timeout, connection error or 5xx is
  retried with the same body. A fraction (--resend) of the visits is sent a second time on
  purpose, half right after the answer (a lost answer), half as two requests at once (a double
  tap): each must come back as the first visit, never as a second row.
- dashboard users (one command user, the rest street admins; session cookie made here): the
  coverage page of their area, then one of a child area's coverage, the flagged persons and a
  gap list, every 5-10 s.
- probes, the baseline in the same run under the same load: `/api/bench/insert-one` (one INSERT
  on the same stack and authentication, DOORSTEP_BENCH_ENDPOINTS=1) and `/api/me` (an
  authenticated read of nothing), one of each every 0.5-1.5 s.

Latency percentiles count answered and timed-out requests (a timeout at the time it was given
up); beside them, the time inside a gunicorn worker from its access log, and the share of the
run the workers were busy: the difference is the wait for a free worker.

Afterwards, from the database: visits stored for the acknowledged client UUIDs (lost =
acknowledged but absent, or stored with fewer person checks than sent; duplicated = more than
one row per client UUID, or an answer naming another visit id), the same for the probe's
inserts, and `recompute_progress` over the campaign (progress written under load must equal the
fold of the visits). Error rate = non-2xx answers, timeouts and connection errors over all
requests; a 409 or a second "created" on a resent identical body is an error too.

Targets: visit p95 <= 300 ms, list p95 <= 500 ms (the worker's household list; the dashboard
pages are printed beside it with the same target), lost = duplicated = 0, errors < 0.1 %.
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH_VAR,
    DISTRICT_CODE,
    PG_HOST,
    PG_PORT,
    PG_USER,
    PYTHON,
    ROOT,
    BenchDB,
    child_env,
    import_stats,
    log,
    manage,
    save_results,
    template_db,
)

VISIT_TARGET_MS = 300
LIST_TARGET_MS = 500
ERROR_RATE_TARGET = 0.001
OUTCOMES = (("screened", 0.6), ("not_home", 0.3), ("refused", 0.1))
RETRIES = 3
FEVER_SHARE = 0.02
# The gap lists a dashboard user opens from the coverage table.
GAP_STATES = ("revisit", "not_started", "open", "refused")


# -- the database ----------------------------------------------------------------------------
def _roster_source(kind: str, persons: int) -> BenchDB:
    """A database holding the imported roster of `persons`: the one search_roster.py and
    sweep.py keep, when it is there and complete; else our own (made once, kept)."""
    for name in (f"doorstep_bench_import_csv_{persons}", f"doorstep_bench_load_import_{persons}"):
        db = BenchDB(kind, name)
        try:
            if db.exists() and import_stats(db).get("persons") == persons:
                return db
        except Exception as error:  # a half-made database: ours is made again below
            log(f"{name}: {error}")
    return _roster_import(kind, persons, db)


def _roster_import(kind: str, persons: int, db: BenchDB) -> BenchDB:
    """Like search_roster.ensure_imported, under names of our own: two scripts importing into
    the same template database at once would break each other."""
    csv_path = BENCH_VAR / f"roster-{persons}-1.csv"
    log(f"{db.name} missing: importing {persons} persons")
    template = template_db(kind, persons, csv_path, prefix="doorstep_bench_load")
    db.create_from(template)
    template.drop()
    t0 = time.perf_counter()
    manage(["import_roster", str(csv_path), "--area", DISTRICT_CODE, "--no-progress"], db.url)
    log(f"imported in {time.perf_counter() - t0:.0f} s")
    return db


def prepare(kind: str, persons: int, reuse: bool) -> BenchDB:
    db = BenchDB(kind, f"doorstep_bench_load_{persons}")
    if not (reuse and db.exists()):
        source = _roster_source(kind, persons)
        log(f"copying {source.name} → {db.name}")
        db.create_from(source)
    manage(["migrate", "-v0"], db.url)  # the copy may predate newer migrations
    return db


# -- the people ------------------------------------------------------------------------------
@dataclass
class FieldWorker:
    username: str
    user_id: int
    token: str
    households: int


@dataclass
class DashboardUser:
    username: str
    cookie: str
    area_code: str
    child_codes: list[str]


def _grids_for_workers(campaign, count: int, avoid_path: str) -> list:
    """`count` grids spread over the streets (one street after another), so each street admin
    watches streets with people working in them."""
    from doorstep.areas.models import Area, AreaLevel

    by_street: dict[str, list] = defaultdict(list)
    for grid in Area.objects.filter(level=AreaLevel.GRID).order_by("code"):
        if grid.path.startswith(campaign.scope_area.path) and not grid.path.startswith(avoid_path):
            by_street[grid.path.split("/")[2]].append(grid)
    streets = [by_street[k] for k in sorted(by_street)]
    picked: list = []
    while len(picked) < count and any(streets):
        for grids in streets:
            if grids and len(picked) < count:
                picked.append(grids.pop(0))
    if len(picked) < count:
        raise SystemExit(f"only {len(picked)} grids for {count} workers: use a larger --persons")
    return picked


def field_workers_create(ctx: dict, count: int, rnd: random.Random) -> list[FieldWorker]:
    """Grid workers holding 100-200 households each of their own grid (an assignment by list,
    through the service, as a community admin would make it)."""
    from doorstep.accounts.models import Role, User
    from doorstep.accounts.services import api_token_create
    from doorstep.screening.models import HouseholdProgress
    from doorstep.screening.selectors import WALK_ORDER
    from doorstep.screening.services import assignment_create

    campaign, manager = ctx["campaign"], ctx["command"]
    # The sweep's own worker holds whole grids of the first community: leave them to it.
    avoid = ctx["worker"].jurisdiction_area.path
    workers = []
    for index, grid in enumerate(_grids_for_workers(campaign, count, avoid)):
        user, _ = User.objects.update_or_create(
            username=f"load_worker_{index:03d}",
            defaults={"role": Role.GRID_WORKER, "jurisdiction_area": grid, "is_active": True},
        )
        wanted = rnd.randint(100, 200)
        household_ids = list(
            HouseholdProgress.objects.filter(campaign=campaign, grid=grid)
            .order_by(*WALK_ORDER)
            .values_list("household_id", flat=True)[:wanted]
        )
        assignment_create(
            user=manager, campaign=campaign, worker=user, grid=grid, household_ids=household_ids
        )
        _token, key = api_token_create(user=user, name="bench load")
        held = HouseholdProgress.objects.filter(campaign=campaign, assigned_to=user).count()
        workers.append(FieldWorker(user.username, user.pk, key, held))
    return workers


def _session_cookie(user) -> str:
    """A logged-in session, as the login view leaves it (and two-factor verified, when the
    project has django-otp: the command role may be asked for it)."""
    from importlib import import_module

    from django.apps import apps
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if apps.is_installed("django_otp.plugins.otp_totp"):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="bench load", defaults={"confirmed": True}
        )
        store["otp_device_id"] = device.persistent_id
    store.create()
    return store.session_key


def dashboard_users_create(campaign, count: int, worker_grids: list) -> list[DashboardUser]:
    """One command user (the district), then street admins of the streets the workers are in."""
    from doorstep.accounts.models import Role, User
    from doorstep.areas.models import Area

    district = Area.objects.get(code=DISTRICT_CODE)
    streets = []
    for grid in worker_grids:
        street = grid.parent.parent
        if street not in streets:
            streets.append(street)
    people = []
    for index in range(count):
        if index == 0:
            role, area, name = Role.COMMAND, district, "load_command"
        else:
            role, area = Role.STREET_ADMIN, streets[(index - 1) % len(streets)]
            name = f"load_street_{index:02d}"
        user, _ = User.objects.update_or_create(
            username=name, defaults={"role": role, "jurisdiction_area": area, "is_active": True}
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        children = list(area.children.order_by("code").values_list("code", flat=True))
        people.append(DashboardUser(name, _session_cookie(user), area.code, children))
    return people


def probe_user_create() -> str:
    from doorstep.accounts.models import Role, User
    from doorstep.accounts.services import api_token_create
    from doorstep.areas.models import Area

    user, _ = User.objects.update_or_create(
        username="load_probe",
        defaults={
            "role": Role.COMMAND,
            "jurisdiction_area": Area.objects.get(code=DISTRICT_CODE),
            "is_active": True,
        },
    )
    # A command token is made against a code from the user's authenticator.
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    # A new authenticator each run: a code is accepted once, and two runs may fall in one step.
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name="bench load", confirmed=True)
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
    return api_token_create(user=user, name="bench load probe", code=code, days=1)[1]


# -- the run ---------------------------------------------------------------------------------
@dataclass
class Sample:
    kind: str
    at: float  # seconds since the start
    ms: float
    status: int | str  # HTTP status, or "timeout" / "connection"


@dataclass
class Ledger:
    """What the clients saw, appended to from every thread (list.append is atomic)."""

    samples: list[Sample] = field(default_factory=list)
    acknowledged: dict[str, tuple[int, int]] = field(default_factory=dict)  # uuid → (id, checks)
    answered_ids: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    created_answers: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    retries: int = 0
    retries_answered: int = 0
    resends: int = 0
    resend_mismatch: int = 0
    unacknowledged: int = 0
    bare_ids: list[int] = field(default_factory=list)
    redirects: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Clock:
    def __init__(self, seconds: float):
        self.t0 = time.monotonic()
        self.deadline = self.t0 + seconds

    def now(self) -> float:
        return time.monotonic() - self.t0

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def sleep(self, seconds: float) -> bool:
        """Sleep (never past the deadline); False when the run is over."""
        time.sleep(max(0.0, min(seconds, self.left())))
        return self.left() > 0


def _request(session, ledger, clock, kind, method, url, timeout, **kwargs):
    t0 = time.perf_counter()
    try:
        response = session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
        status: int | str = response.status_code
    except requests.Timeout:
        response, status = None, "timeout"
    except requests.ConnectionError:
        response, status = None, "connection"
    ledger.samples.append(Sample(kind, clock.now(), (time.perf_counter() - t0) * 1000, status))
    return response


def _outcome(rnd) -> str:
    return rnd.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]


def _visit_body(rnd, household_id: int, outcome: str, members: list[int]) -> dict:
    checks = []
    if outcome == "screened":
        for person_id in members:
            fever = rnd.random() < FEVER_SHARE
            temperature = rnd.uniform(38.0, 39.0) if fever else rnd.uniform(36.0, 37.2)
            checks.append({"person_id": person_id, "temperature": f"{temperature:.1f}"})
    return {
        "client_uuid": str(uuid.uuid4()),  # fresh each run, never from the seeded random
        "household_id": household_id,
        "outcome": outcome,
        "visited_at": datetime.now(UTC).isoformat(),
        "person_checks": checks,
    }


def _post_visit(session, ledger, clock, url, body, timeout):
    """POST until an answer that is not a transport error or a 5xx (at most 1 + RETRIES
    times, always the same bytes); the final answer, or None."""
    data = json.dumps(body)
    headers = {"Content-Type": "application/json"}
    for attempt in range(1 + RETRIES):
        if attempt:
            with ledger.lock:
                ledger.retries += 1
        response = _request(
            session, ledger, clock, "visit", "POST", url, timeout, data=data, headers=headers
        )
        if response is not None and response.status_code < 500:
            if attempt:
                with ledger.lock:
                    ledger.retries_answered += 1
            return response
        time.sleep(0.2 * (attempt + 1))
    return None


def _note_answer(ledger, body, response) -> None:
    key = body["client_uuid"]
    if response is None or response.status_code not in (200, 201):
        return
    answer = response.json()
    with ledger.lock:
        ledger.answered_ids[key].add(answer["id"])
        ledger.created_answers[key] += bool(answer["created"])
        ledger.acknowledged[key] = (answer["id"], len(body["person_checks"]))


def field_worker_loop(worker, base, campaign_id, ledger, clock, rnd, args) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {worker.token}"
    twin = requests.Session()  # the second finger of a double tap
    twin.headers["Authorization"] = f"Bearer {worker.token}"
    api = f"{base}/api/campaigns/{campaign_id}"
    cursor = rnd.randrange(200)
    if not clock.sleep(rnd.uniform(0, 3)):  # people do not all start in the same second
        return
    while clock.left() > 0:
        response = _request(
            session, ledger, clock, "list", "GET", f"{api}/households?limit=500", args.timeout
        )
        if response is None or response.status_code != 200:
            clock.sleep(rnd.uniform(0.5, 3.0))
            continue
        rows = response.json()["items"]
        if not rows:
            return
        # The next door still open in walking order; when every one is closed, walk again.
        order = [rows[(cursor + i) % len(rows)] for i in range(len(rows))]
        row = next((r for r in order if not r["closed"]), order[0])
        cursor = rows.index(row) + 1
        outcome, members = _outcome(rnd), []
        if outcome == "screened":  # the app shows who lives there
            url = f"{api}/households/{row['household_id']}/members"
            answer = _request(session, ledger, clock, "members", "GET", url, args.timeout)
            if answer is not None and answer.status_code == 200:
                members = [m["id"] for m in answer.json() if m["status"] == "active"]
            if not members:  # nobody on the roster lives there any more
                outcome = "not_home"
        body = _visit_body(rnd, row["household_id"], outcome, members)
        resend = rnd.random() < args.resend
        send = partial(
            _post_visit,
            ledger=ledger,
            clock=clock,
            url=f"{api}/visits",
            body=body,
            timeout=args.timeout,
        )
        if resend and rnd.random() < 0.5:
            with ThreadPoolExecutor(2) as pool:  # a double tap: both requests at once
                answers = list(pool.map(send, (session, twin)))
        else:
            answers = [send(session)]
            if resend and answers[0] is not None and answers[0].status_code in (200, 201):
                answers.append(send(session))  # the first answer was lost on the stairs
        for answer in answers:
            _note_answer(ledger, body, answer)
        if resend:
            with ledger.lock:
                ledger.resends += 1
                codes = [a.status_code if a is not None else None for a in answers]
                if (
                    any(c not in (200, 201) for c in codes)
                    or len(ledger.answered_ids[body["client_uuid"]]) != 1
                ):
                    ledger.resend_mismatch += 1
        if all(a is None or a.status_code not in (200, 201) for a in answers):
            with ledger.lock:
                ledger.unacknowledged += 1
        clock.sleep(rnd.uniform(0.5, 3.0))


def dashboard_loop(person, base, campaign_id, ledger, clock, rnd, args) -> None:
    from django.conf import settings

    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, person.cookie)
    pages = f"{base}/campaigns/{campaign_id}"
    if not clock.sleep(rnd.uniform(0, 5)):
        return
    while clock.left() > 0:
        choices = [
            ("flagged", f"{pages}/flagged/"),
            ("gap list", f"{pages}/coverage/list/?state={rnd.choice(GAP_STATES)}"),
        ]
        if person.child_codes:
            child = rnd.choice(person.child_codes)
            choices.append(("coverage child", f"{pages}/coverage/?area={child}"))
        for kind, url in [("coverage", f"{pages}/coverage/"), rnd.choice(choices)]:
            response = _request(session, ledger, clock, f"dash {kind}", "GET", url, args.timeout)
            if response is not None and 300 <= response.status_code < 400:
                ledger.redirects[person.username] = response.headers.get("Location", "")
            if clock.left() <= 0:
                return
        clock.sleep(rnd.uniform(5, 10))


def probe_loop(token, base, ledger, clock, rnd, args) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    insert_url = f"{base}/api/bench/insert-one"
    while clock.left() > 0:
        response = _request(session, ledger, clock, "bare insert", "POST", insert_url, args.timeout)
        if response is not None and response.status_code in (200, 201):
            ledger.bare_ids.append(response.json()["id"])
        if not clock.sleep(rnd.uniform(0.25, 0.75)):
            return
        _request(session, ledger, clock, "bare read", "GET", f"{base}/api/me", args.timeout)
        clock.sleep(rnd.uniform(0.25, 0.75))


# -- gunicorn --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(
    db: BenchDB, args, port: int, log_path: Path, access_path: Path
) -> subprocess.Popen:
    env = child_env(db.url)
    env.update(DOORSTEP_BENCH_ENDPOINTS="1", DOORSTEP_DEBUG="0", DOORSTEP_LOG_LEVEL="WARNING")
    if args.replica_port:
        # The dashboards' pages opt into stale reads: with a replica they read there.
        replica = f"{PG_HOST}:{args.replica_port}"
        env["DOORSTEP_REPLICA_URL"] = f"postgres://{PG_USER}@{replica}/{db.name}"
    argv = [
        str(Path(PYTHON).parent / "gunicorn"),
        "doorstep.wsgi",
        "-w",
        str(args.gunicorn_workers),
        "-k",
        args.gunicorn_class,
        "-b",
        f"127.0.0.1:{port}",
        "--timeout",
        "60",
        "--log-level",
        "warning",
        # Time spent inside a worker per request (%(D)s, microseconds): the client's latency
        # minus this is the wait for a free worker.
        "--access-logfile",
        str(access_path),
        "--access-logformat",
        "%(m)s %(U)s %(q)s %(s)s %(D)s",
    ]
    if args.gunicorn_class == "gthread":
        argv += ["--threads", str(args.gunicorn_threads)]
    access_path.unlink(missing_ok=True)  # gunicorn appends: keep only this run's requests
    handle = log_path.open("w")
    server = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=handle, stderr=handle, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            # Each worker loads Django when it boots: on a busy machine that takes seconds.
            if requests.get(f"{base}/api/me", timeout=30).status_code in (200, 401, 403):
                return server
        except requests.RequestException:
            pass
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited ({server.returncode}): see {log_path}")
        time.sleep(0.5)
    gunicorn_stop(server)
    raise SystemExit(f"gunicorn did not answer in 120 s: see {log_path}")


def gunicorn_stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


# -- figures ---------------------------------------------------------------------------------
def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _kind_of(path: str, query: str) -> str | None:
    """The client's name for a request, from the server's access log line."""
    if path == "/api/bench/insert-one":
        return "bare insert"
    if path == "/api/me":
        return "bare read"
    if path.startswith("/api/campaigns/"):
        if path.endswith("/members"):
            return "members"
        if path.endswith("/visits"):
            return "visit"
        if path.endswith("/households"):
            return "list"
    if path.endswith("/coverage/"):
        return "dash coverage child" if "area=" in query else "dash coverage"
    if path.endswith("/coverage/list/"):
        return "dash gap list"
    if path.endswith("/flagged/"):
        return "dash flagged"
    return None


def server_times(access_path: Path) -> dict[str, list[float]]:
    """Milliseconds spent inside a gunicorn worker, per request kind."""
    times: dict[str, list[float]] = defaultdict(list)
    for line in access_path.read_text(errors="replace").splitlines():
        parts = line.split(" ")
        if len(parts) != 5 or not parts[4].isdigit():
            continue
        _method, path, query, status, micros = parts
        kind = _kind_of(path, query)
        if kind == "bare read" and status == "401":  # the readiness check before the run
            continue
        if kind is not None:
            times[kind].append(int(micros) / 1000)
    return times


def latency_table(samples: list[Sample], inside: dict[str, list[float]]) -> dict:
    """Per kind: count, p50/p95/p99/max (answered and timed-out requests), what went wrong,
    and the time inside gunicorn."""
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_kind[sample.kind].append(sample)
    table = {}
    for kind, rows in sorted(by_kind.items()):
        # A timed-out request counts at the time it was given up: its latency is at least that.
        answered = [s.ms for s in rows if s.status != "connection"]
        statuses: dict[str, int] = defaultdict(int)
        for s in rows:
            statuses[str(s.status)] += 1
        table[kind] = {
            "requests": len(rows),
            "p50_ms": _round(percentile(answered, 0.50)),
            "p95_ms": _round(percentile(answered, 0.95)),
            "p99_ms": _round(percentile(answered, 0.99)),
            "max_ms": _round(max(answered) if answered else None),
            "errors": sum(1 for s in rows if not _ok(s.status)),
            "statuses": dict(statuses),
            "server_p50_ms": _round(percentile(inside.get(kind, []), 0.50)),
            "server_p95_ms": _round(percentile(inside.get(kind, []), 0.95)),
        }
    return table


def _ok(status) -> bool:
    return isinstance(status, int) and 200 <= status < 300


def _round(value):
    return None if value is None else round(value, 1)


def writes_accounting(ledger: Ledger, worker_ids: list[int], started: datetime) -> dict:
    """What the database holds against what the clients were told."""
    from django.db.models import Count

    from doorstep.core.models import AuditEvent
    from doorstep.screening.models import Visit

    stored = {
        str(key): (pk, checks)
        for key, pk, checks in Visit.objects.filter(
            worker_id__in=worker_ids, entered_at__gte=started
        )
        .annotate(n_checks=Count("checks"))
        .values_list("client_uuid", "pk", "n_checks")
    }
    doubled_rows = (
        Visit.objects.filter(client_uuid__in=list(ledger.acknowledged))
        .values("client_uuid")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    lost = [k for k in ledger.acknowledged if k not in stored]
    short = [
        k for k, (_pk, sent) in ledger.acknowledged.items() if k in stored and stored[k][1] != sent
    ]
    other_id = [
        k
        for k, ids in ledger.answered_ids.items()
        if len(ids) > 1 or (k in stored and stored[k][0] not in ids)
    ]
    created_twice = sum(1 for n in ledger.created_answers.values() if n > 1)
    bare_stored = AuditEvent.objects.filter(pk__in=ledger.bare_ids, action="bench.insert").count()
    return {
        "visits_acknowledged": len(ledger.acknowledged),
        "visits_stored": len(stored),
        "visits_lost": len(lost) + len(short),
        "visits_lost_whole": len(lost),
        "visits_stored_without_all_checks": len(short),
        "visits_duplicated": doubled_rows + len(other_id) + created_twice,
        "visits_duplicate_rows": doubled_rows,
        "answers_naming_another_visit": len(other_id),
        "resent_bodies_created_twice": created_twice,
        "stored_not_acknowledged": len(set(stored) - set(ledger.acknowledged)),
        "person_checks_stored": sum(c for _pk, c in stored.values()),
        "bare_acknowledged": len(ledger.bare_ids),
        "bare_lost": len(ledger.bare_ids) - bare_stored,
        "bare_duplicated": len(ledger.bare_ids) - len(set(ledger.bare_ids)),
        "examples_lost": lost[:5] + short[:5],
        "examples_duplicated": other_id[:5],
    }


def database_reads(name: str, replica_port: int) -> dict:
    """Transactions and rows read in the bench database so far, on the primary and (when there
    is one) on the replica: their growth over the run shows where the reads went."""
    import psycopg

    sql = (
        "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched "
        "FROM pg_stat_database WHERE datname = %s"
    )
    ports = {"primary": PG_PORT, **({"replica": str(replica_port)} if replica_port else {})}
    found = {}
    for where, port in ports.items():
        with psycopg.connect(
            host=PG_HOST, port=port, user=PG_USER, dbname=name, autocommit=True
        ) as conn:
            transactions, rows = conn.execute(sql, [name]).fetchone()
        found[where] = {"transactions": transactions, "rows_read": rows}
    return found


def run(args) -> dict:
    db = prepare(args.db, args.persons, args.reuse)
    os.environ.update(child_env(db.url))
    os.environ["DOORSTEP_DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone
    from sweep import setup_campaign

    from doorstep.accounts.models import User

    rnd = random.Random(args.seed)
    if args.db == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    ctx = setup_campaign(args.persons)
    campaign = ctx["campaign"]
    workers = field_workers_create(ctx, args.workers, rnd)
    grids = [User.objects.get(pk=w.user_id).jurisdiction_area for w in workers]
    dashboards = dashboard_users_create(campaign, args.dashboards, grids)
    probe_token = probe_user_create()
    if args.db == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    log(
        f"{len(workers)} workers holding {min(w.households for w in workers)}-"
        f"{max(w.households for w in workers)} households, {len(dashboards)} dashboard users, "
        f"campaign {campaign.pk} with {ctx['visits']} visits"
    )
    connection.close()

    port = args.port or _free_port()
    log_path = BENCH_VAR / "load-gunicorn.log"
    access_path = BENCH_VAR / "load-gunicorn-access.log"
    server = gunicorn_start(db, args, port, log_path, access_path)
    base = f"http://127.0.0.1:{port}"
    ledger = Ledger()
    started = timezone.now()
    log(
        f"gunicorn on {base} ({args.gunicorn_workers} {args.gunicorn_class} workers); "
        f"running {args.seconds} s"
    )
    clock = Clock(args.seconds)
    # Each simulated person: its loop, its own arguments, and the seed of its own random.
    people = [
        *[(field_worker_loop, (w, base, campaign.pk), 1000, i) for i, w in enumerate(workers)],
        *[(dashboard_loop, (d, base, campaign.pk), 2000, i) for i, d in enumerate(dashboards)],
        *[(probe_loop, (probe_token, base), 3000, i) for i in range(args.probes)],
    ]
    threads = [
        threading.Thread(
            target=loop,
            args=(*own, ledger, clock, random.Random(args.seed * group + index), args),
        )
        for loop, own, group, index in people
    ]
    load_before = os.getloadavg()
    reads_before = database_reads(db.name, args.replica_port)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            # Bounded: a request never outlives its timeout times the retries.
            thread.join(timeout=args.seconds + (RETRIES + 2) * (args.timeout + 1) + 30)
        wall = clock.now()
    finally:
        gunicorn_stop(server)
    load_after = os.getloadavg()
    reads_after = database_reads(db.name, args.replica_port)
    server_errors = log_path.read_text(errors="replace").count("Traceback")

    accounting = writes_accounting(ledger, [w.user_id for w in workers], started)
    t0 = time.perf_counter()
    check = manage(["recompute_progress", str(campaign.pk)], db.url, check=False)
    recompute = check.stdout.strip() or check.stderr.strip()[-300:]
    log(f"recompute check: {recompute} ({time.perf_counter() - t0:.1f} s)")

    inside = server_times(access_path)
    table = latency_table(ledger.samples, inside)
    # Share of the run the gunicorn workers were busy: near 100 % the latencies are queueing.
    busy = sum(sum(v) for v in inside.values()) / 1000 / (wall * args.gunicorn_workers)
    field_kinds = ("list", "members", "visit")
    dash_kinds = [k for k in table if k.startswith("dash ")]
    probe_kinds = ("bare insert", "bare read")
    counted = [s for s in ledger.samples if s.kind in (*field_kinds, *dash_kinds)]
    baseline = [s for s in ledger.samples if s.kind in probe_kinds]
    visits_done = table.get("visit", {}).get("statuses", {})
    return {
        "db": args.db,
        "persons": args.persons,
        "seconds": args.seconds,
        "wall_s": round(wall, 1),
        "field_workers": len(workers),
        "households_per_worker": [w.households for w in workers],
        "dashboard_users": [d.username for d in dashboards],
        "probes": args.probes,
        "gunicorn": f"{args.gunicorn_workers} {args.gunicorn_class}",
        "resend_share": args.resend,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "visits_per_s": round(
            (visits_done.get("201", 0) + visits_done.get("200", 0)) / max(wall, 1e-9), 2
        ),
        "requests_total": len(counted),
        "errors_total": sum(1 for s in counted if not _ok(s.status)),
        "error_rate": sum(1 for s in counted if not _ok(s.status)) / max(1, len(counted)),
        "bare_requests": len(baseline),
        "bare_error_rate": sum(1 for s in baseline if not _ok(s.status)) / max(1, len(baseline)),
        "retries": ledger.retries,
        "retries_answered": ledger.retries_answered,
        "resends": ledger.resends,
        "resends_not_answered_with_the_first_visit": ledger.resend_mismatch,
        "visits_never_acknowledged": ledger.unacknowledged,
        "dashboard_redirects": ledger.redirects,
        "server_tracebacks": server_errors,
        "gunicorn_busy_share": round(busy, 3),
        "replica_port": args.replica_port,
        "database_reads": {
            where: {k: reads_after[where][k] - reads_before[where][k] for k in reads_after[where]}
            for where in reads_after
        },
        "recompute_check": recompute,
        "recompute_exit": check.returncode,
        **accounting,
        "latency": table,
    }


def _fmt(value, unit=" ms") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def report(result: dict) -> None:
    table = result["latency"]

    def p95(kind):
        return table.get(kind, {}).get("p95_ms")

    print(
        f"\n{result['db']}, {result['persons']:,} persons, {result['field_workers']} field workers"
        f" + {len(result['dashboard_users'])} dashboard users + {result['probes']} probes, "
        f"{result['wall_s']} s, gunicorn {result['gunicorn']}, "
        f"load average {result['load_average_before'][0]} → {result['load_average_after'][0]}"
    )
    print(
        f"\n{'client-side':<20}{'n':>6}{'p50':>11}{'p95':>11}{'p99':>11}{'max':>11}{'errors':>7}"
        f"   {'inside gunicorn p50':>19}{'p95':>10}"
    )
    for kind, row in table.items():
        print(
            f"{kind:<20}{row['requests']:>6}{_fmt(row['p50_ms']):>11}{_fmt(row['p95_ms']):>11}"
            f"{_fmt(row['p99_ms']):>11}{_fmt(row['max_ms']):>11}{row['errors']:>7}"
            f"   {_fmt(row['server_p50_ms']):>19}{_fmt(row['server_p95_ms']):>10}"
        )
    print(
        f"gunicorn workers busy {result['gunicorn_busy_share']:.0%} of the run "
        "(near 100 %: the client-side figures are mostly the wait for a free worker)"
    )

    def line(label, value, target, baseline, ok):
        mark = "OK" if ok else "MISSED"
        print(f"{label:<30}{value:>14}   target {target:<10}{baseline:>22}   {mark}")

    print(f"\n{'figure':<30}{'measured':>14}   {'':<17}{'baseline (same run)':>22}")
    visit, bare_insert, bare_read = p95("visit"), p95("bare insert"), p95("bare read")
    line(
        "visit submission p95",
        _fmt(visit),
        f"<= {VISIT_TARGET_MS} ms",
        f"bare insert {_fmt(bare_insert)}",
        visit is not None and visit <= VISIT_TARGET_MS,
    )
    for kind in ["list", *[k for k in table if k.startswith("dash ")]]:
        value = p95(kind)
        label = "worker list p95" if kind == "list" else f"{kind[5:]} page p95"
        line(
            label,
            _fmt(value),
            f"<= {LIST_TARGET_MS} ms",
            f"bare read {_fmt(bare_read)}",
            value is not None and value <= LIST_TARGET_MS,
        )
    lost, doubled = result["visits_lost"], result["visits_duplicated"]
    line(
        "lost writes",
        f"{lost} of {result['visits_acknowledged']}",
        "0",
        f"bare {result['bare_lost']} of {result['bare_acknowledged']}",
        lost == 0,
    )
    line("duplicated writes", str(doubled), "0", f"bare {result['bare_duplicated']}", doubled == 0)
    rate, bare_rate = result["error_rate"], result["bare_error_rate"]
    line("error rate", f"{rate:.3%}", "< 0.1 %", f"bare {bare_rate:.3%}", rate < ERROR_RATE_TARGET)
    print(
        f"\nvisits/s {result['visits_per_s']}; acknowledged {result['visits_acknowledged']}, "
        f"stored {result['visits_stored']} (+{result['stored_not_acknowledged']} never "
        f"acknowledged); retries {result['retries']} ({result['retries_answered']} answered); "
        f"resends {result['resends']} ({result['resends_not_answered_with_the_first_visit']} "
        f"not answered with the first visit); server tracebacks {result['server_tracebacks']}"
    )
    print(f"progress vs fold of the visits: {result['recompute_check']}")
    for where, reads in result.get("database_reads", {}).items():
        print(
            f"{where}: {reads['transactions']:,} transactions, {reads['rows_read']:,} rows read "
            "in the bench database during the run"
        )
    if result["dashboard_redirects"]:
        print(
            f"WARNING dashboard redirected (session not accepted?): {result['dashboard_redirects']}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--workers", type=int, default=50, help="simulated field workers")
    parser.add_argument("--dashboards", type=int, default=5, help="simulated dashboard users")
    parser.add_argument("--probes", type=int, default=2, help="baseline probe threads")
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--gunicorn-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--gunicorn-threads", type=int, default=4, help="gthread only")
    parser.add_argument("--resend", type=float, default=0.02, help="share of visits sent twice")
    parser.add_argument("--timeout", type=float, default=10.0, help="client timeout, seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument(
        "--reuse", action="store_true", help="keep doorstep_bench_load_<N> from the last run"
    )
    parser.add_argument(
        "--replica-port",
        type=int,
        default=0,
        help="a streaming replica of the local PostgreSQL on this port (scripts/replica): the "
        "dashboards' pages read there",
    )
    args = parser.parse_args()
    result = run(args)
    report(result)
    print(f"saved {save_results(f'load-{args.db}', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
