import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from doorstep.areas.services import areas_import
from doorstep.core.sheets.reading import UnreadableFile


class Command(BaseCommand):
    help = "Import an area tree (code, name, level, parent code) from CSV or XLSX."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, **options):
        path = options["file"]
        if not path.is_file():
            raise CommandError(f"文件不存在: {path}", returncode=2)
        try:
            result = areas_import(path=path)
        except UnreadableFile as error:
            raise CommandError(f"{path.name}: {error}", returncode=2) from None
        for row_number, reason in result.rejected:
            self.stderr.write(f"row {row_number:,}: {reason}")
        self.stdout.write(result.summary_line())
        if result.rejected:
            sys.exit(1)
