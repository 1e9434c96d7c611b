from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from doorstep.screening.models import Campaign, HouseholdProgress
from doorstep.screening.progress_sql import (
    expected_progress_drop,
    expected_progress_load,
    progress_differences,
    progress_fix,
)
from doorstep.screening.tally import tally_differences, tally_rebuild


class Command(BaseCommand):
    help = (
        "Recompute household progress from the visits, and the grid tallies from the progress "
        "rows; report (and with --fix, repair) every difference. Exit 1 when a difference was "
        "found. The fold runs in the database, set-based (screening/progress_sql.py), so a "
        "campaign of a million visits takes seconds to a minute, not tens of minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args, campaign_id, fix, **options):
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"campaign {campaign_id} does not exist", returncode=2)
        with transaction.atomic():
            if fix and connection.vendor == "postgresql":
                # Visits of this campaign wait until the repair is written: one committed
                # meanwhile would otherwise be overwritten by the fold of an older snapshot.
                table = HouseholdProgress._meta.db_table
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT count(*) FROM (SELECT 1 FROM {table} "  # noqa: S608
                        "WHERE campaign_id = %s FOR UPDATE) AS locked",
                        [campaign.pk],
                    )
            try:
                expected_progress_load(campaign_id=campaign.pk)
                differences = 0
                for household_id, diff in progress_differences():
                    differences += 1
                    self.stderr.write(
                        f"household {household_id}: "
                        + ", ".join(f"{k} {old!r} → {new!r}" for k, (old, new) in diff.items())
                    )
                if fix and differences:
                    progress_fix()
                checked = HouseholdProgress.objects.filter(campaign=campaign).count()
            finally:
                expected_progress_drop()
            # The grid tallies are derived from the progress rows: checked after them, and
            # rebuilt by --fix once the rows are right.
            tallies = tally_differences(campaign)
            for (grid_id, state), (stored, expected) in sorted(tallies.items()):
                kind = "parent" if state.startswith("parent:") else "grid"
                state = state.removeprefix("parent:")
                self.stderr.write(f"tally {kind} {grid_id} {state}: {stored} → {expected}")
            if fix and tallies:
                tally_rebuild(campaign=campaign)
        fixed = differences if fix else 0
        self.stdout.write(
            f"checked={checked} differences={differences} fixed={fixed} "
            f"tally_differences={len(tallies)}"
        )
        if (differences or tallies) and not fix:
            raise SystemExit(1)
