from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from doorstep.registry.models import Person, PersonStatus
from doorstep.screening.models import Campaign, HouseholdProgress, Visit
from doorstep.screening.progress import PROGRESS_FIELDS, check_counts_for, fold_visits


class Command(BaseCommand):
    help = (
        "Recompute household progress from the visits; report (and with --fix, repair) "
        "every difference. Exit 1 when a difference was found."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args, campaign_id, fix, **options):
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"campaign {campaign_id} does not exist", returncode=2)
        visits_by_household: dict[int, list] = {}
        for visit in Visit.objects.filter(campaign=campaign).iterator(chunk_size=5000):
            visits_by_household.setdefault(visit.household_id, []).append(visit)
        counts = check_counts_for([v.pk for vs in visits_by_household.values() for v in vs])
        totals: dict[int, int] = {}
        for household_id in (
            Person.objects.filter(
                status=PersonStatus.ACTIVE, household__progress__campaign=campaign
            )
            .values_list("household_id", flat=True)
            .iterator(chunk_size=20000)
        ):
            totals[household_id] = totals.get(household_id, 0) + 1
        differences = 0
        checked = 0
        for progress in HouseholdProgress.objects.filter(campaign=campaign).iterator(
            chunk_size=5000
        ):
            checked += 1
            expected = fold_visits(
                campaign,
                visits_by_household.get(progress.household_id, []),
                counts,
                totals.get(progress.household_id, 0),
            )
            diff = {
                name: (getattr(progress, name), getattr(expected, name))
                for name in PROGRESS_FIELDS
                if getattr(progress, name) != getattr(expected, name)
            }
            if diff:
                differences += 1
                self.stderr.write(
                    f"household {progress.household_id}: "
                    + ", ".join(f"{k} {old!r} → {new!r}" for k, (old, new) in diff.items())
                )
                if fix:
                    with transaction.atomic():
                        for name in PROGRESS_FIELDS:
                            setattr(progress, name, getattr(expected, name))
                        progress.save(update_fields=list(PROGRESS_FIELDS))
        self.stdout.write(
            f"checked={checked} differences={differences} fixed={differences if fix else 0}"
        )
        if differences and not fix:
            raise SystemExit(1)
