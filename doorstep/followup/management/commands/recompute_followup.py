"""Rebuild each monitoring's tally of checks (last_check_at, checked_on, checked_mask) from its
checks and report every difference; --fix writes the rebuilt values."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from doorstep.followup.models import Monitoring
from doorstep.followup.services.checks import tally_of_checks


class Command(BaseCommand):
    help = "Verify (and with --fix repair) the follow-up tally against the checks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        differences = 0
        rows = Monitoring.objects.order_by("pk")
        for monitoring in rows.iterator(chunk_size=2000):
            stored = (monitoring.last_check_at, monitoring.checked_on, monitoring.checked_mask)
            rebuilt = tally_of_checks(monitoring)
            if stored == rebuilt:
                continue
            differences += 1
            self.stdout.write(f"monitoring {monitoring.pk}: stored {stored}, checks say {rebuilt}")
            if options["fix"]:
                (
                    monitoring.last_check_at,
                    monitoring.checked_on,
                    monitoring.checked_mask,
                ) = rebuilt
                monitoring.save(update_fields=["last_check_at", "checked_on", "checked_mask"])
        verb = "repaired" if options["fix"] else "found"
        self.stdout.write(f"{differences} differences {verb}")
