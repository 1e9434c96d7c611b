from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext as _

from doorstep.core.backup import BackupError, backup_database


class Command(BaseCommand):
    help = (
        "Back up the running database (SQLite: online backup API; PostgreSQL: pg_dump custom "
        "format from one snapshot) and write a manifest of row counts and checksums beside it. "
        "Exit 0 when written, 2 on a usage or I/O error."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="directory for the backup and its manifest (default: VAR_DIR/backups)",
        )

    def handle(self, *args, output: Path | str | None, **options):
        # Path() again: call_command(output=...) passes the value without argparse's type.
        output_dir = Path(output) if output else Path(settings.VAR_DIR) / "backups"
        try:
            result = backup_database(
                db=connections[DEFAULT_DB_ALIAS].settings_dict, output_dir=output_dir
            )
        except BackupError as error:
            raise CommandError(str(error), returncode=2) from None
        if options["verbosity"] == 0:
            return
        tables = result.manifest.tables
        self.stdout.write(_("Backup: %(path)s") % {"path": result.path})
        self.stdout.write(_("Manifest: %(path)s") % {"path": result.manifest_path})
        width = max((len(name) for name in tables), default=0)
        for name, (rows, _checksum) in tables.items():
            self.stdout.write(f"  {name:<{width}}  {rows:>10}")
        self.stdout.write(
            _("%(tables)d tables, %(rows)d rows")
            % {"tables": len(tables), "rows": sum(rows for rows, _checksum in tables.values())}
        )
