import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from doorstep.areas.models import Area
from doorstep.command.brief import BriefDateError, check_day
from doorstep.command.services import brief_verify


class Command(BaseCommand):
    help = "Recompute every figure of AREA's brief for DATE from the raw records; list differences."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("area", help="area code")
        parser.add_argument("date", help="YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        area = Area.objects.filter(code=options["area"]).first()
        if area is None:
            raise CommandError(f"no area with code {options['area']!r}")
        try:
            day = datetime.date.fromisoformat(options["date"])
        except ValueError:
            raise CommandError(f"not a date (YYYY-MM-DD): {options['date']!r}") from None
        try:
            check_day(area, day)
        except BriefDateError as error:
            raise CommandError(str(error)) from None
        found = brief_verify(area, day)
        for line in found:
            self.stdout.write(line)
        if found:
            raise CommandError(f"{len(found)} difference(s)")
        self.stdout.write(f"{area.code} {day}: every figure agrees with the raw records")
