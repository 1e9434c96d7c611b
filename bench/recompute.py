"""`recompute_progress --fix` from scratch: the set-based fold against the previous Python fold.

    .venv/bin/python bench/recompute.py [--db postgres|sqlite] [--persons 1000000] [--no-baseline]

On the sweep database of bench/sweep.py (the 1M-person district, one campaign, ~1M visits and
~600k person checks; made when missing, `SWEEP_REUSE=1` keeps an existing one) every progress
row of the campaign is reset to "not started, no attempts, no persons", then rebuilt:

- **set-based** (today's code): `manage.py recompute_progress CAMPAIGN --fix`, the fold computed
  by the database in one statement (screening/progress_sql.py) and written in one UPDATE;
- **baseline** (the code before, kept in bench/recompute_baseline.py): households in chunks of
  2,000, their visits and check counts read into Python, `fold_visits` per household, and
  `bulk_update` of the differing rows.

Each rebuild is followed by `recompute_progress CAMPAIGN` (the check), which must report 0
differences and 0 tally differences. Prints both times and their ratio; asserts nothing.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PYTHON, ROOT, child_env, log, manage, save_results
from sweep import prepare, setup_campaign

RESET = """
    UPDATE screening_householdprogress
    SET state = 'not_started', closed = %(false)s, attempts = 0, failed_attempts = 0,
        last_outcome = '', last_visit_at = NULL, revisit_due_at = NULL, persons_total = 0,
        persons_seen = 0, persons_elsewhere = 0, persons_flagged = 0
    WHERE campaign_id = %(campaign)s
"""


def reset(connection, campaign_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(RESET, {"campaign": campaign_id, "false": False})


def check(url: str, campaign_id: int) -> str:
    result = manage(["recompute_progress", str(campaign_id)], url, check=False)
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-300:]


def timed_run(command: list[str], url: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        command, cwd=ROOT, env=child_env(url), capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - t0
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return seconds, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    db = prepare(args.db, args.persons)
    os.environ.update(child_env(db.url))
    os.environ["DOORSTEP_DEBUG"] = "0"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from doorstep.screening.models import Campaign, HouseholdProgress, Visit

    setup_campaign(args.persons)
    campaign = Campaign.objects.get(name="bench sweep")
    households = HouseholdProgress.objects.filter(campaign=campaign).count()
    visits = Visit.objects.filter(campaign=campaign).count()
    log(f"campaign {campaign.pk}: {households} households, {visits} visits")
    result = {"db": args.db, "persons": args.persons, "households": households, "visits": visits}

    reset(connection, campaign.pk)
    connection.close()
    seconds, line = timed_run(
        [PYTHON, "manage.py", "recompute_progress", str(campaign.pk), "--fix"], db.url
    )
    result.update(
        set_based_s=round(seconds, 1),
        set_based_fix=line,
        set_based_check=check(db.url, campaign.pk),
    )
    log(f"set-based --fix: {seconds:.1f} s ({line}); check: {result['set_based_check']}")

    if not args.no_baseline:
        reset(connection, campaign.pk)
        connection.close()
        seconds, line = timed_run([PYTHON, "bench/recompute_baseline.py", str(campaign.pk)], db.url)
        result.update(
            baseline_s=round(seconds, 1),
            baseline_fix=line,
            baseline_check=check(db.url, campaign.pk),
        )
        log(f"baseline --fix: {seconds:.1f} s ({line}); check: {result['baseline_check']}")

    print(f"{args.db}, {args.persons:,} persons, {households:,} households, {visits:,} visits")
    print(f"  recompute_progress --fix from scratch, set-based: {result['set_based_s']} s")
    print(f"    then the check: {result['set_based_check']}")
    if "baseline_s" in result:
        print(f"  the previous Python fold (baseline, same run): {result['baseline_s']} s")
        print(f"    then the check: {result['baseline_check']}")
        ratio = result["baseline_s"] / max(result["set_based_s"], 0.001)
        result["speedup"] = round(ratio, 1)
        print(f"  set-based is {ratio:.1f}x faster")
    print(f"saved {save_results(f'recompute-{args.db}', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
