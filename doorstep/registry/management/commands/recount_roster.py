from django.core.management.base import BaseCommand
from django.db import connection, transaction

from doorstep.registry.counts import roster_count_differences, roster_counts_rebuild
from doorstep.registry.models import RosterCount, RosterParentCount


class Command(BaseCommand):
    help = (
        "Compare the stored roster counts (households and persons per grid and per parent of "
        "grids, which the dashboards read) with a COUNT over the roster; report, and with "
        "--fix rebuild them. Exit 1 when a difference was found."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args, fix, **options):
        with transaction.atomic():
            if fix and connection.vendor == "postgresql":
                # A writer of the roster moves the counts in its own transaction: one that
                # committed before this lock is in the rebuild's COUNT, one still running adds
                # its delta after the rebuild commits.
                with connection.cursor() as cursor:
                    for model in (RosterCount, RosterParentCount):
                        table = connection.ops.quote_name(model._meta.db_table)
                        cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            differences = roster_count_differences()
            for area_id, (stored, expected) in sorted(differences.items()):
                self.stderr.write(
                    f"area {area_id}: households {stored[0]} → {expected[0]}, "
                    f"persons {stored[1]} → {expected[1]}"
                )
            if fix and differences:
                roster_counts_rebuild()
        fixed = len(differences) if fix else 0
        self.stdout.write(f"differences={len(differences)} fixed={fixed}")
        if differences and not fix:
            raise SystemExit(1)
