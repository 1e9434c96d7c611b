"""A batch of sweep visits with and without the visit consumers (issue 10 point 5: a visit's
fever opens follow-up at once; a sheet of thousands of rows must not become slow for it).

The same batch is recorded twice in one run, through `visit_batch_record` (the path of the sheet
upload and the API batch), into separate households of one worker on a fresh SQLite database:
first with `DOORSTEP_VISIT_CONSUMERS` empty (the baseline: the sweep as it was), then with
follow-up's consumer listed, which gets the batch's visit ids in one call and makes a key person
and a referral for each person with a fever. Households of two, `--fever` of the first persons
with 38.5 °C. Prints both times, visits/s, the ratio (consumers / baseline), the key persons
and referrals made, and the load average before and after (the machine may be shared).

    .venv/bin/python bench/sweep_link.py [--visits 2000] [--fever 0.03] [--consumers-first]

`--consumers-first` runs the batch with the consumer before the baseline (the second batch
writes into a fuller database: run both orders to see that bias).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--fever", type=float, default=0.03)
    parser.add_argument("--consumers-first", action="store_true")
    args = parser.parse_args()
    var = Path(os.environ.get("DOORSTEP_VAR_DIR", ROOT / "var")) / "bench"
    var.mkdir(parents=True, exist_ok=True)
    db = var / "sweep_link.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "doorstep.settings.dev")
    os.environ["DOORSTEP_DEBUG"] = "0"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from doorstep.accounts.models import Role, User
    from doorstep.followup.models import KeyPerson, Referral
    from doorstep.registry.models import Household, Person
    from doorstep.screening.models import HouseholdProgress
    from doorstep.screening.rules import PersonCheckInput
    from doorstep.screening.services import (
        VisitInput,
        campaign_create,
        campaign_enrol_households,
        visit_batch_record,
    )
    from tests.factories import area_tree

    areas = area_tree()
    grid = areas["G1"]
    n = args.visits
    Household.objects.bulk_create(
        Household(grid=grid, household_number=f"HN-SL-{i:06d}", road="天生路", room=str(i))
        for i in range(2 * n)
    )
    homes = list(Household.objects.filter(grid=grid).order_by("pk"))
    Person.objects.bulk_create(
        Person(household=h, name=f"居民{h.pk}-{k}", relation="户主" if k == 0 else "子")
        for h in homes
        for k in range(2)
    )
    worker = User.objects.create(
        username="bench-worker", role=Role.GRID_WORKER, jurisdiction_area=grid
    )
    command = User.objects.create(
        username="bench-command", role=Role.COMMAND, jurisdiction_area=areas["D"]
    )
    campaign = campaign_create(
        user=command,
        name="bench",
        scope_area=areas["D"],
        starts_at=timezone.now() - datetime.timedelta(days=1),
        deadline=timezone.now() + datetime.timedelta(days=2),
    )
    campaign_enrol_households(campaign=campaign)
    HouseholdProgress.objects.filter(campaign=campaign).update(assigned_to=worker)
    members: dict[int, list[int]] = {}
    for person_id, household_id in Person.objects.values_list("pk", "household_id"):
        members.setdefault(household_id, []).append(person_id)
    rng = random.Random(7)
    when = timezone.now() - datetime.timedelta(minutes=30)

    def batch(households) -> list:
        visits = []
        for household in households:
            checks = []
            for index, person_id in enumerate(sorted(members[household.pk])):
                check = PersonCheckInput(person_id=person_id, temperature="36.6")
                if index == 0 and rng.random() < args.fever:
                    check.temperature, check.temperature_recheck = "38.5", "38.5"
                checks.append(check)
            visits.append(
                VisitInput(
                    household_id=household.pk,
                    outcome="screened",
                    visited_at=when,
                    client_uuid=uuid.uuid4(),
                    person_checks=checks,
                )
            )
        return visits

    load_before = os.getloadavg()
    listed = list(settings.DOORSTEP_VISIT_CONSUMERS)
    halves = [("baseline", []), ("consumers", listed)]
    if args.consumers_first:
        halves.reverse()
    seconds: dict[str, float] = {}
    fevers = 0
    for index, (name, consumers) in enumerate(halves):
        settings.DOORSTEP_VISIT_CONSUMERS = consumers
        visits = batch(homes[index * n : (index + 1) * n])
        if name == "consumers":
            fevers = sum(1 for v in visits for c in v.person_checks if c.temperature == "38.5")
        started = time.perf_counter()
        results = visit_batch_record(user=worker, campaign=campaign, visits=visits)
        seconds[name] = time.perf_counter() - started
        assert all(r.status == "created" for r in results), {r.status for r in results}
    settings.DOORSTEP_VISIT_CONSUMERS = listed
    baseline, with_consumers = seconds["baseline"], seconds["consumers"]
    load_after = os.getloadavg()
    order = " then ".join(name for name, _consumers in halves)
    print(f"visits per batch: {n} ({order}), fevers in the consumers' batch: {fevers}")
    print(f"baseline (no consumers): {baseline:.2f} s, {n / baseline:.0f} visits/s")
    print(f"with follow-up's consumer: {with_consumers:.2f} s, {n / with_consumers:.0f} visits/s")
    print(f"ratio: {with_consumers / baseline:.2f}")
    print(f"key persons: {KeyPerson.objects.count()}, referrals: {Referral.objects.count()}")
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} (1 min)")


if __name__ == "__main__":
    main()
