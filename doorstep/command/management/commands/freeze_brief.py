import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from doorstep.command.services import FreezeTooEarly, brief_freeze, brief_freeze_due


class Command(BaseCommand):
    help = "Freeze the brief of every area for DATE (YYYY-MM-DD) as it stood at the day's cut-off."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("date", nargs="?", help="the day (default: every due day)")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["date"]:
            written = brief_freeze_due()
        else:
            try:
                day = datetime.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError(f"not a date (YYYY-MM-DD): {options['date']!r}") from None
            try:
                written = brief_freeze(day=day)
            except FreezeTooEarly as error:
                raise CommandError(str(error)) from None
        self.stdout.write(f"{written} snapshot(s) written")
