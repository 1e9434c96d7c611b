"""The previous `recompute_progress --fix` (before the set-based fold), kept as the baseline of
bench/recompute.py: households in chunks of 2,000, their visits and check counts read into
Python, `fold_visits` per household, `bulk_update` of the differing rows, then the tallies
rebuilt. Run with the bench's environment: `python bench/recompute_baseline.py CAMPAIGN`.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "doorstep.settings.dev")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402

from doorstep.registry.models import Person, PersonStatus  # noqa: E402
from doorstep.screening.models import Campaign, HouseholdProgress, Visit  # noqa: E402
from doorstep.screening.progress import (  # noqa: E402
    PROGRESS_FIELDS,
    check_counts_for,
    fold_visits,
)
from doorstep.screening.tally import tally_rebuild  # noqa: E402

CHUNK = 2000


def fix_chunk(campaign, chunk) -> int:
    household_ids = [p.household_id for p in chunk]
    visits: dict[int, list] = {}
    for visit in Visit.objects.filter(campaign=campaign, household_id__in=household_ids):
        visits.setdefault(visit.household_id, []).append(visit)
    counts = check_counts_for([v.pk for vs in visits.values() for v in vs])
    totals = dict(
        Person.objects.filter(household_id__in=household_ids, status=PersonStatus.ACTIVE)
        .values("household_id")
        .annotate(n=Count("id"))
        .values_list("household_id", "n")
    )
    repaired = []
    for progress in chunk:
        expected = fold_visits(
            campaign,
            visits.get(progress.household_id, []),
            counts,
            totals.get(progress.household_id, 0),
        )
        if any(getattr(progress, n) != getattr(expected, n) for n in PROGRESS_FIELDS):
            for name in PROGRESS_FIELDS:
                setattr(progress, name, getattr(expected, name))
            repaired.append(progress)
    if repaired:
        with transaction.atomic():
            HouseholdProgress.objects.bulk_update(repaired, list(PROGRESS_FIELDS), 500)
    return len(repaired)


def main(campaign_id: int) -> None:
    campaign = Campaign.objects.get(pk=campaign_id)
    checked = differences = last_pk = 0
    while True:
        chunk = list(
            HouseholdProgress.objects.filter(campaign=campaign, pk__gt=last_pk).order_by("pk")[
                :CHUNK
            ]
        )
        if not chunk:
            break
        last_pk = chunk[-1].pk
        differences += fix_chunk(campaign, chunk)
        checked += len(chunk)
    with transaction.atomic():
        tally_rebuild(campaign=campaign)
    print(f"checked={checked} differences={differences} fixed={differences}")


if __name__ == "__main__":
    main(int(sys.argv[1]))
