"""The offline outbox (issue 14): N visits recorded offline and synced from the phone's outbox
(IndexedDB → offline.js → POST /api/campaigns/<id>/visits/outbox, 100 a request, each read by
the visit form's code on the server), against the same number of visits sent straight to the
batch API (POST /api/campaigns/<id>/visits/batch, one request) on the same server.

    .venv/bin/python bench/outbox.py [--records 500] [--workers 2]

Both halves write the same shape of visit (a household of two, both present and well) into
their own households of one worker's assignment, on a fresh SQLite database served by gunicorn.
The outbox half runs in real Chromium (Playwright): the records are put into IndexedDB as the
service worker puts them, then `DoorstepOffline.sync()` is timed until every record has its
answer. The service worker itself is blocked in that browser so that its background
precaching of the visit forms does not compete with the sync.

Prints both times, the ratio (target ≤ 2), and lost / doubled (target 0 / 0): every record
must have become exactly one visit with its client UUID, and sending both halves again must
add nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_VAR, PYTHON, ROOT, BenchDB, child_env, log, manage, save_results

PORT = 8767
PASSWORD = "bench-outbox-password-1"  # noqa: S105 (a throwaway bench database)


def setup(records: int) -> dict:
    """Areas, 2 × records households of two, one open campaign, one worker holding them all."""
    import datetime

    from django.utils import timezone

    from doorstep.accounts.models import Role, User
    from doorstep.accounts.tokens import api_token_create
    from doorstep.registry.models import Household, Person
    from doorstep.screening.services import assignment_create, campaign_create
    from tests.factories import area_tree

    areas = area_tree()
    grid = areas["G1"]
    households = Household.objects.bulk_create(
        Household(
            grid=grid,
            household_number=f"HN-OB-{n:05d}",
            road="天生路",
            building=str(1 + n // 100),
            unit="1",
            floor=1 + (n % 100) // 4,
            room=f"{1 + (n % 100) // 4}0{1 + n % 4}",
        )
        for n in range(2 * records)
    )
    Person.objects.bulk_create(
        Person(household=h, name=f"住户{h.pk}-{i}", relation="户主" if i == 0 else "家属")
        for h in households
        for i in range(2)
    )
    commander = User.objects.create_user(
        username="bench-command",
        password=PASSWORD,
        role=Role.COMMAND,
        jurisdiction_area=areas["D"],
    )
    worker = User.objects.create_user(
        username="bench-worker",
        password=PASSWORD,
        role=Role.GRID_WORKER,
        jurisdiction_area=grid,
        full_name="网格员",
    )
    campaign = campaign_create(
        user=commander,
        name="离线基准",
        scope_area=areas["D"],
        starts_at=timezone.now() - datetime.timedelta(days=1),
        deadline=timezone.now() + datetime.timedelta(days=2),
    )
    assignment_create(user=commander, campaign=campaign, worker=worker, grid=grid)
    members = {
        h: list(Person.objects.filter(household_id=h).order_by("pk").values_list("pk", flat=True))
        for h in [x.pk for x in households]
    }
    _token, key = api_token_create(user=worker, name="bench")
    ids = [h.pk for h in households]
    return {
        "campaign": campaign.pk,
        "worker": worker.pk,
        "token": key,
        "api_households": ids[:records],
        "outbox_households": ids[records:],
        "members": members,
    }


def visited_at(minutes_ago: int = 30) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - minutes_ago * 60))


def api_batch(ctx: dict) -> tuple[float, list[dict], list[dict]]:
    visits = [
        {
            "client_uuid": str(uuid.uuid4()),
            "household_id": h,
            "outcome": "screened",
            "visited_at": visited_at(),
            "person_checks": [
                {"person_id": p, "presence": "present", "temperature": "36.6"}
                for p in ctx["members"][h]
            ],
        }
        for h in ctx["api_households"]
    ]
    t0 = time.perf_counter()
    answers = post_json(f"/api/campaigns/{ctx['campaign']}/visits/batch", {"visits": visits}, ctx)
    return time.perf_counter() - t0, visits, answers


def post_json(path: str, body: dict, ctx: dict) -> list[dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {ctx['token']}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 (localhost)
        return json.loads(response.read())


def outbox_records(ctx: dict) -> list[dict]:
    records = []
    for n, h in enumerate(ctx["outbox_households"]):
        form = [["f", "all"], ["notes", ""]]
        for p in ctx["members"][h]:
            form += [[f"p{p}-presence", "present"], [f"p{p}-temperature", "36.6"]]
        form.append(["outcome", "screened"])
        records.append(
            {
                "client_uuid": str(uuid.uuid4()),
                "campaign_id": ctx["campaign"],
                "household_id": h,
                "visited_at": visited_at(),
                "form": form,
                "label": f"#{h}",
                "status": "unsent",
                "message": "",
                "created_at": n,
            }
        )
    return records


def outbox_sync(ctx: dict, records: list[dict]) -> tuple[float, dict, float]:
    sys.path.insert(0, str(ROOT))
    from tests.browser.helpers import CHROMIUM_ARGS, chromium_path, sync_playwright

    base = f"http://localhost:{PORT}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(service_workers="block", locale="zh-CN")
        page = context.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "bench-worker")
        page.fill("#id_password", PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/campaigns/{ctx['campaign']}/my/")
        page.wait_for_function("window.DoorstepOffline && window.DoorstepOutbox")
        page.evaluate("records => Promise.all(records.map(r => DoorstepOutbox.put(r)))", records)
        t0 = time.perf_counter()
        inside_ms = page.evaluate(
            """async () => {
                const t = performance.now();
                while ((DoorstepOutbox.unsent(await DoorstepOutbox.all())).length) {
                    await DoorstepOffline.sync();
                }
                return performance.now() - t;
            }"""
        )
        seconds = time.perf_counter() - t0
        rows = page.evaluate("DoorstepOutbox.all()")
        statuses: dict[str, int] = {}
        for row in rows:
            statuses[row["status"]] = statuses.get(row["status"], 0) + 1
        # sending again: every record is answered already, nothing goes out
        page.evaluate("DoorstepOffline.sync()")
        browser.close()
    return seconds, statuses, inside_ms / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    db = BenchDB("sqlite", "outbox")
    db.create_empty()
    log("migrating a fresh SQLite database")
    manage(["migrate", "--noinput"], db.url)
    os.environ.update(child_env(db.url))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from doorstep.screening.models import Visit

    ctx = setup(args.records)
    log(f"{2 * args.records} households; gunicorn with {args.workers} workers")
    env = child_env(db.url)
    env.update(DOORSTEP_DEBUG="0", DOORSTEP_LOG_LEVEL="WARNING", DOORSTEP_RATE_SCOPED="100000/m")
    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "gunicorn"),
            "doorstep.wsgi",
            "-w",
            str(args.workers),
            "-b",
            f"127.0.0.1:{PORT}",
            "--log-level",
            "warning",
            "--timeout",
            "600",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        api_seconds, api_visits, api_answers = api_batch(ctx)
        records = outbox_records(ctx)
        outbox_seconds, statuses, inside = outbox_sync(ctx, records)
        again = post_json(
            f"/api/campaigns/{ctx['campaign']}/visits/batch", {"visits": api_visits}, ctx
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    def landed(uuids: list[str]) -> tuple[int, int]:
        counts: dict[str, int] = {}
        for value in Visit.objects.filter(client_uuid__in=uuids).values_list(
            "client_uuid", flat=True
        ):
            counts[str(value)] = counts.get(str(value), 0) + 1
        lost = sum(1 for u in uuids if u not in counts)
        doubled = sum(n - 1 for n in counts.values())
        return lost, doubled

    api_lost, api_doubled = landed([v["client_uuid"] for v in api_visits])
    out_lost, out_doubled = landed([r["client_uuid"] for r in records])
    per_household = Visit.objects.filter(
        household_id__in=ctx["outbox_households"] + ctx["api_households"]
    ).count()
    ratio = outbox_seconds / api_seconds
    results = {
        "records": args.records,
        "api_batch_seconds": round(api_seconds, 3),
        "outbox_sync_seconds": round(outbox_seconds, 3),
        "outbox_sync_seconds_in_page": round(inside, 3),
        "ratio": round(ratio, 2),
        "api_statuses": {
            s: sum(1 for a in api_answers if a["status"] == s)
            for s in {a["status"] for a in api_answers}
        },
        "api_resent_statuses": {
            s: sum(1 for a in again if a["status"] == s) for s in {a["status"] for a in again}
        },
        "outbox_statuses": statuses,
        "lost": api_lost + out_lost,
        "doubled": api_doubled + out_doubled,
        "visits_in_the_households": per_household,
    }
    print(json.dumps(results, indent=2, ensure_ascii=False))
    print(
        f"outbox: {args.records} records in {outbox_seconds:.2f} s; API batch: "
        f"{api_seconds:.2f} s; ratio {ratio:.2f} (target <= 2); lost {results['lost']}, "
        f"doubled {results['doubled']} (target 0 / 0)"
    )
    log(f"results: {save_results('outbox', results)}")


if __name__ == "__main__":
    main()
