"""Checkpoints: destination matching speed and accuracy, and arrival ingestion over HTTP.

    .venv/bin/python bench/checkpoints.py [--persons 1000000] [--labelled 20000]
                                          [--skip-http] [--http-seconds 20]
                                          [--risk-share 0.1] [--fever-share 0.01]

1. Matching, on one core: a DestinationIndex built from the demo generator's roster of
   `--persons` persons (the same rows `make run` imports, without the database), then a
   labelled set generated from that roster with the variations people type (province/city/
   district/street/community prefixes or none, Chinese numerals, 栋/幢/号楼/座, dashed
   building-unit-room, 室/号, a same-sounding wrong character in the road, a typo, the
   community's name alone). Prints addresses/s beside the baseline of the same run (a dict
   lookup of the exact roster address: the floor of any matcher), the same pass per second of
   CPU time (what the core does when a loaded machine gives the process only a share of it),
   the load average, and correct / uncertain / wrong / unmatched counts, overall and by kind of
   variation, with the methods that matched each kind (wrong must stay under 1 %).
2. Ingestion over HTTP: a fresh SQLite database, gunicorn (4 sync workers), 8 client threads
   posting batches of 20 vehicles (1-3 occupants each) to /api/checkpoints/<id>/arrivals/batch,
   beside 8 threads posting the bare one-row insert (/api/bench/insert-one) on the same stack.
   Prints vehicles/s and arrivals/s against inserts/s, the load average before and after, and
   that every created occupant is stored exactly once (0 lost). The server takes a free port.
   Traffic as at a real post: the database declares risk areas the way command does
   (`risk_areas_set`), `--risk-share` of the vehicles come from one of them (10 % by default;
   their occupants are risk arrivals, handed off where the destination matched a community),
   and `--fever-share` of the occupants (1 %) have a fever (a risk arrival, and a fever-clinic
   referral where the destination matched). Prints the handoffs and referrals made, and checks
   that every handed-off arrival has its handoff and every matched fever its referral.
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "doorstep.settings.dev")


def _setup_django() -> None:
    import django

    django.setup()


# -- 1. matching --------------------------------------------------------------------------------
SAME_SOUND = {"生": "声", "山": "珊", "京": "经", "陵": "凌", "江": "疆", "元": "园", "华": "化"}
SAME_SOUND |= {"云": "芸", "兴": "星", "码": "马", "星": "兴", "道": "到", "凤": "风", "金": "今"}
CHINESE = "零一二三四五六七八九"


def _chinese(n: int) -> str:
    if n < 10:
        return CHINESE[n]
    if n < 20:
        return "十" + (CHINESE[n % 10] if n % 10 else "")
    if n < 100:
        return CHINESE[n // 10] + "十" + (CHINESE[n % 10] if n % 10 else "")
    return str(n)


def roster_rows(persons: int):
    """(road, number, building, unit, room, household key, community name) per household."""
    from doorstep.demo.generator import RosterGenerator
    from doorstep.imports.words import split_address

    generator = RosterGenerator(persons=persons, seed=1)
    seen = set()
    for row in generator.rows():
        community, number, address = row[0], row[2], row[3]
        if number in seen:
            continue
        seen.add(number)
        parts = split_address(address)
        yield (
            parts["road"],
            parts["house_number"],
            parts["building"],
            parts["unit"],
            parts["room"],
            number,
            community,
            address,
        )


def variation(row, community: str, rnd: random.Random) -> tuple[str, str]:
    """(typed address, kind of variation)."""
    road, number, building, unit, room = row[:5]
    n = number.rstrip("号")
    kind = rnd.choice(
        [
            "plain",
            "prefix",
            "numerals",
            "building_word",
            "dashed",
            "room_word",
            "same_sound",
            "typo",
            "community_only",
            "community_and_door",
        ]
    )
    door = f"{building}栋{unit}单元{room}"
    if kind == "plain":
        return f"{road}{n}号{door}", kind
    if kind == "prefix":
        front = rnd.choice(["重庆市北碚区", "北碚区", "重庆北碚区", "北碚"])
        return f"{front}{road}{n}号{door}", kind
    if kind == "numerals" and n.isdigit():
        return f"{road}{_chinese(int(n))}号{_chinese(int(building))}栋{unit}单元{room}", kind
    if kind == "building_word":
        word = rnd.choice(["幢", "号楼", "座"])
        return f"{road}{n}号{building}{word}{unit}单元{room}", kind
    if kind == "dashed":
        return f"{road}{n}号{building}-{unit}-{room}", kind
    if kind == "room_word":
        return f"{road}{n}号{door}{rnd.choice(['室', '号'])}", kind
    if kind == "same_sound":
        chars = [SAME_SOUND.get(c, c) for c in road]
        if chars != list(road):
            i = next(i for i, c in enumerate(road) if c in SAME_SOUND)
            typed = road[:i] + SAME_SOUND[road[i]] + road[i + 1 :]
            return f"{typed}{n}号{door}", kind
    if kind == "typo" and len(road) >= 3:
        i = rnd.randrange(len(road) - 1)
        typed = road[:i] + road[i + 1 :] if rnd.random() < 0.5 else road[:i] + "乙" + road[i + 1 :]
        return f"{typed}{n}号{door}", kind
    if kind == "community_only":
        return f"北碚区{community}", kind
    if kind == "community_and_door":
        return f"{community}{road}{n}号{door}", kind
    return f"{road}{n}号{door}", "plain"


def bench_matching(persons: int, labelled: int) -> dict:
    from doorstep.checkpoints.matching import DestinationIndex

    t0 = time.perf_counter()
    rows = list(roster_rows(persons))
    names = sorted({r[6] for r in rows})
    community_ids = {name: i for i, name in enumerate(names, start=1)}
    households = [
        (r[0], r[1], r[2], r[3], r[4], i, community_ids[r[6]]) for i, r in enumerate(rows)
    ]
    generated = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = DestinationIndex.build(
        district_name="北碚区",
        streets=[],
        communities=[(i, n) for n, i in community_ids.items()],  # "状元社区": the roster's own
        households=households,
    )
    built = time.perf_counter() - t0
    rnd = random.Random(5)
    sample = rnd.sample(rows, min(labelled, len(rows)))
    cases = []
    for r in sample:
        typed, kind = variation(r, r[6], rnd)
        cases.append((typed, kind, community_ids[r[6]], r[7]))
    # baseline: the exact roster address looked up in a dict (the floor of any matcher)
    exact = {r[7]: community_ids[r[6]] for r in rows}
    t0 = time.perf_counter()
    for _typed, _kind, _expected, address in cases:
        exact.get(address)
    baseline = len(cases) / (time.perf_counter() - t0)
    outcome: Counter = Counter()
    by_kind: dict[str, Counter] = {}
    methods: dict[str, Counter] = {}
    load_before = os.getloadavg()
    t0, cpu0 = time.perf_counter(), time.process_time()
    results = [index.match(typed) for typed, _kind, _expected, _address in cases]
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    load_after = os.getloadavg()
    wrong_examples = []
    for (typed, kind, expected, _address), match in zip(cases, results, strict=True):
        if match.status == "matched":
            verdict = "correct" if match.community_id == expected else "wrong"
        elif match.status == "uncertain":
            in_candidates = any(c.community_id == expected for c in match.candidates)
            verdict = "uncertain" if in_candidates else "uncertain_without_it"
        else:
            verdict = match.status
        if verdict == "wrong" and len(wrong_examples) < 5:
            wrong_examples.append(typed)
        outcome[verdict] += 1
        by_kind.setdefault(kind, Counter())[verdict] += 1
        if match.status == "matched":
            methods.setdefault(kind, Counter())[match.method] += 1
    rate = len(cases) / elapsed
    return {
        "persons": persons,
        "households": len(rows),
        "communities": len(names),
        "roster_generated_s": round(generated, 1),
        "index_built_s": round(built, 1),
        "addresses": len(cases),
        "addresses_per_s": round(rate),
        # the same pass per second of this process's CPU time: what one core does when the
        # machine's other work leaves it a share of the core only
        "addresses_per_cpu_s": round(len(cases) / cpu),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "baseline_exact_lookups_per_s": round(baseline),
        "ratio_to_baseline": round(rate / baseline, 4),
        "outcome": dict(outcome),
        "correct_pct": round(100 * outcome["correct"] / len(cases), 2),
        "wrong_pct": round(100 * outcome["wrong"] / len(cases), 3),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "matched_by_method": {k: dict(v) for k, v in sorted(methods.items())},
        "wrong_examples": wrong_examples,
    }


# -- 2. ingestion over HTTP ---------------------------------------------------------------------
SETUP = """
import uuid
from doorstep.accounts.models import Role, User
from doorstep.accounts.tokens import api_token_create
from doorstep.areas.models import Area
from doorstep.checkpoints.models import Checkpoint, CheckpointOfficer
from doorstep.demo.services import demo_areas_create
from doorstep.screening.services.campaigns import risk_areas_set
district = demo_areas_create(persons=2000)
command = User.objects.create(username="command", role=Role.COMMAND)
risk_areas_set(user=command, names=RISK_AREAS)
cp = Checkpoint.objects.create(district=district, code="B1", name="bench", kind="highway_exit")
keys = []
for i in range(8):
    u = User.objects.create(username=f"officer{i}", role=Role.CHECKPOINT_OFFICER)
    CheckpointOfficer.objects.create(user=u, checkpoint=cp)
    keys.append(api_token_create(user=u, name="bench")[1])
print(cp.pk, ",".join(keys))
"""


def _post(url: str, key: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 (the bench's own localhost server)
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (localhost)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# The risk areas the bench database declares, the origins of its risk vehicles (each within a
# declared area) and of the others (none within one).
RISK_AREAS = ["湖北武汉", "湖北孝感", "湖北黄冈"]
RISK_ORIGINS = ["湖北武汉", "湖北武汉江岸区", "湖北孝感", "湖北黄冈"]
SAFE_ORIGINS = ["重庆渝中", "四川成都", "贵州遵义"]


def _vehicle(rnd: random.Random, risk_share: float, fever_share: float) -> dict:
    risky = rnd.random() < risk_share
    return {
        "client_uuid": str(uuid.uuid4()),
        "kind": "car",
        "plate": f"渝A{rnd.randrange(10**5):05d}",
        "origin": rnd.choice(RISK_ORIGINS if risky else SAFE_ORIGINS),
        "arrived_at": time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.localtime(time.time() - 60)),
        "occupants": [
            {
                "client_uuid": str(uuid.uuid4()),
                "name": "测试",
                "phone": "",
                "destination": rnd.choice(["天生路12号1栋1单元101", "状元社区", "无从查找"]),
                "temperature": "38.1" if rnd.random() < fever_share else "36.6",
            }
            for _ in range(rnd.randint(1, 3))
        ],
    }


# What the run made, read from the database once the server stopped: the handoffs and their
# events, the referrals, and what would be lost (a handed-off arrival without its handoff, a
# fever at a matched community without its referral).
COUNTS = """
import json
from django.db.models import F
from doorstep.checkpoints.models import Arrival, Handoff, HandoffEvent, Route, VehiclePassage
from doorstep.followup.models import KeyPerson, Referral
arrivals = Arrival.objects
# a fever: at or above the checkpoint's threshold (JSON "contains" does not run on SQLite)
fevers = arrivals.filter(temperature__gte=F("checkpoint__fever_threshold"))
fevers = fevers.filter(community__isnull=False).exclude(route=Route.PASSING)
print(json.dumps({
    "vehicles": VehiclePassage.objects.count(),
    "arrivals": arrivals.count(),
    "risk_arrivals": arrivals.filter(is_risk=True).count(),
    "handed_off": arrivals.filter(route=Route.HANDED_OFF).count(),
    "handed_off_without_handoff": arrivals.filter(
        route=Route.HANDED_OFF, handoff__isnull=True
    ).count(),
    "handoffs": Handoff.objects.count(),
    "handoff_events": dict(
        (action, HandoffEvent.objects.filter(action=action).count())
        for action in HandoffEvent.objects.values_list("action", flat=True).distinct()
    ),
    "fevers_matched": fevers.count(),
    "fevers_matched_without_referral": fevers.filter(referral__isnull=True).count(),
    "referrals": Referral.objects.count(),
    "key_persons": KeyPerson.objects.count(),
}))
"""


def bench_http(seconds: float, risk_share: float, fever_share: float) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="doorstep-bench-cp-"))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        DOORSTEP_VAR_DIR=str(workdir),
        DOORSTEP_BENCH_ENDPOINTS="1",
        DJANGO_SETTINGS_MODULE="doorstep.settings.dev",
        DOORSTEP_RATE_SCOPED="1000000/m",
        DOORSTEP_RATE_REFUSED="1000000/h",
    )
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    setup = f"RISK_AREAS = {RISK_AREAS!r}\n{SETUP}"
    out = subprocess.run(
        [python, "manage.py", "shell", "-v0", "-c", setup],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    checkpoint_id, keys = out[-2], out[-1].split(",")
    # a free port: another bench (sweep.py) or another session's server may hold a fixed one
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            *("-w", "4", "-b", f"127.0.0.1:{port}"),
            "doorstep.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.5)

        def run(make_request) -> tuple[int, list[float], list]:
            stop = time.monotonic() + seconds
            done: list[int] = []
            latencies: list[float] = []
            answers: list = []

            def client(i: int) -> None:
                rnd = random.Random(i)
                while time.monotonic() < stop:
                    t = time.perf_counter()
                    answers.append(make_request(i, rnd))
                    latencies.append(time.perf_counter() - t)
                    done.append(1)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return len(done), latencies, answers

        load_before = os.getloadavg()
        insert_url = f"{base}/api/bench/insert-one"
        n_insert, lat_insert, _ = run(lambda i, rnd: _post(insert_url, keys[i], b"{}")[0])
        batch_url = f"{base}/api/checkpoints/{checkpoint_id}/arrivals/batch"

        def batch(i: int, rnd: random.Random):
            body = {"passages": [_vehicle(rnd, risk_share, fever_share) for _ in range(20)]}
            status, content = _post(batch_url, keys[i], json.dumps(body).encode())
            return status, json.loads(content) if status == 200 else content

        n_batch, lat_batch, answers = run(batch)
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=30)
    created_vehicles = created_occupants = other = 0
    answered: Counter = Counter()  # what the created occupants were answered
    for status, items in answers:
        if status != 200:
            other += 1
            continue
        for item in items:
            if item["status"] == "created":
                created_vehicles += 1
                for o in item["occupants"]:
                    if o["status"] != "created":
                        continue
                    created_occupants += 1
                    answered["risk"] += bool(o["flags"])
                    answered["risk_area"] += "risk_area" in o["flags"]
                    answered["fever"] += "fever" in o["flags"]
                    answered["handed_off"] += o["route"] == "handed_off"
                    answered["referral"] += o["referral"]
            else:
                other += 1
    stored = json.loads(
        subprocess.run(
            [python, "manage.py", "shell", "-v0", "-c", COUNTS],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()[-1]
    )
    inserts_per_s = n_insert / seconds
    vehicles_per_s = created_vehicles / seconds
    return {
        "database": "sqlite",
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "clients": 8,
        "batch": 20,
        "seconds": seconds,
        "bare_inserts_per_s": round(inserts_per_s, 1),
        "bare_insert_p50_ms": round(1000 * statistics.median(lat_insert), 1),
        "vehicles_per_s": round(vehicles_per_s, 1),
        "arrivals_per_s": round(created_occupants / seconds, 1),
        "batch_p50_ms": round(1000 * statistics.median(lat_batch), 1) if lat_batch else None,
        "ratio_vehicles_to_bare_inserts": round(vehicles_per_s / inserts_per_s, 3),
        "batches": n_batch,
        "not_created": other,
        "risk_share": risk_share,
        "fever_share": fever_share,
        "answered": dict(answered),
        "stored": stored,
        "lost": (created_vehicles - stored["vehicles"])
        + (created_occupants - stored["arrivals"])
        + (answered["handed_off"] - stored["handed_off"])
        + stored["handed_off_without_handoff"]
        + stored["fevers_matched_without_referral"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--labelled", type=int, default=20_000)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--skip-matching", action="store_true")
    parser.add_argument("--http-seconds", type=float, default=20)
    parser.add_argument("--risk-share", type=float, default=0.1, help="of the vehicles")
    parser.add_argument("--fever-share", type=float, default=0.01, help="of the occupants")
    args = parser.parse_args()
    _setup_django()
    results = {}
    if not args.skip_matching:
        results["matching"] = bench_matching(args.persons, args.labelled)
        print(json.dumps(results["matching"], ensure_ascii=False, indent=1), flush=True)
    if not args.skip_http:
        results["ingestion"] = bench_http(args.http_seconds, args.risk_share, args.fever_share)
        print(json.dumps(results["ingestion"], ensure_ascii=False, indent=1), flush=True)


if __name__ == "__main__":
    main()
