from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count

from doorstep.registry.models import Person, PersonStatus
from doorstep.screening.models import Campaign, HouseholdProgress, Visit
from doorstep.screening.progress import PROGRESS_FIELDS, check_counts_for, fold_visits
from doorstep.screening.tally import tally_differences, tally_rebuild

CHUNK = 2000


class Command(BaseCommand):
    help = (
        "Recompute household progress from the visits, and the grid tallies from the progress "
        "rows; report (and with --fix, repair) every difference. Exit 1 when a difference was "
        "found. Works through the campaign in chunks of households, so memory does not grow "
        "with the number of visits."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args, campaign_id, fix, **options):
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"campaign {campaign_id} does not exist", returncode=2)
        checked = differences = 0
        last_pk = 0
        while True:
            chunk = list(
                HouseholdProgress.objects.filter(campaign=campaign, pk__gt=last_pk).order_by("pk")[
                    :CHUNK
                ]
            )
            if not chunk:
                break
            last_pk = chunk[-1].pk
            differences += self._check_chunk(campaign, chunk, fix)
            checked += len(chunk)
        # The grid tallies are derived from the progress rows: checked after them, and rebuilt
        # by --fix once the rows are right.
        tallies = tally_differences(campaign)
        for (grid_id, state), (stored, expected) in sorted(tallies.items()):
            self.stderr.write(f"tally grid {grid_id} {state}: {stored} → {expected}")
        if fix and tallies:
            with transaction.atomic():
                tally_rebuild(campaign=campaign)
        fixed = differences if fix else 0
        self.stdout.write(
            f"checked={checked} differences={differences} fixed={fixed} "
            f"tally_differences={len(tallies)}"
        )
        if (differences or tallies) and not fix:
            raise SystemExit(1)

    def _check_chunk(self, campaign, chunk, fix) -> int:
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
        differences, repaired = 0, []
        for progress in chunk:
            expected = fold_visits(
                campaign,
                visits.get(progress.household_id, []),
                counts,
                totals.get(progress.household_id, 0),
            )
            diff = {
                name: (getattr(progress, name), getattr(expected, name))
                for name in PROGRESS_FIELDS
                if getattr(progress, name) != getattr(expected, name)
            }
            if not diff:
                continue
            differences += 1
            self.stderr.write(
                f"household {progress.household_id}: "
                + ", ".join(f"{k} {old!r} → {new!r}" for k, (old, new) in diff.items())
            )
            if fix:
                for name in PROGRESS_FIELDS:
                    setattr(progress, name, getattr(expected, name))
                repaired.append(progress)
        if repaired:
            # One transaction a chunk: a commit per row would wait on the disk each time.
            with transaction.atomic():
                HouseholdProgress.objects.bulk_update(repaired, list(PROGRESS_FIELDS), 500)
        return differences
