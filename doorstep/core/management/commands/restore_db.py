from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.translation import gettext as _

from doorstep.core.backup import (
    BackupError,
    Manifest,
    compare_digests,
    database_digest,
    database_migrations,
    database_settings_from_url,
    file_sha256,
    manifest_path_for,
    migrations_out_of_step,
    restore_database,
)


class Command(BaseCommand):
    help = (
        "Restore a backup written by backup_db into the configured database, or into "
        "--database-url. Refuses a target that already holds tables unless --force. With "
        "--verify, checks the file against its manifest first and every restored table after. "
        "Exit 0 when restored (and verified), 1 on a verification mismatch, 2 on a usage or I/O "
        "error. A refused or failed restore leaves the target unchanged."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="a .sqlite3 or .dump file from backup_db")
        parser.add_argument(
            "--database-url",
            help="restore here instead (postgres://… or sqlite:///path), e.g. a fresh database",
        )
        parser.add_argument(
            "--force", action="store_true", help="replace the content of a non-empty target"
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="compare the file and the restored tables with the manifest beside the file",
        )

    def handle(self, *args, file: Path, database_url: str | None, force, verify, **options):
        try:
            db = (
                database_settings_from_url(database_url)
                if database_url
                else connections[DEFAULT_DB_ALIAS].settings_dict
            )
            manifest = Manifest.read(manifest_path_for(file)) if verify else None
            if manifest is not None and file_sha256(file) != manifest.backup_sha256:
                raise CommandError(
                    _(
                        "%(path)s does not match its manifest (corrupted or truncated); "
                        "nothing was restored"
                    )
                    % {"path": file},
                    returncode=1,
                )
            restore_database(backup_path=file, db=db, force=force)
        except BackupError as error:
            raise CommandError(str(error), returncode=2) from None
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}", returncode=2) from None
        try:
            restored = database_digest(db)
            missing, unknown = migrations_out_of_step(database_migrations(db))
        except BackupError as error:
            raise CommandError(
                _("Restored, but the result could not be read back: %(error)s") % {"error": error},
                returncode=2,
            ) from None
        self.stdout.write(_("Restored %(path)s into %(name)s") % {"path": file, "name": db["NAME"]})
        rows = sum(count for count, _checksum in restored.values())
        self.stdout.write(
            _("%(tables)d tables, %(rows)d rows") % {"tables": len(restored), "rows": rows}
        )
        if missing:
            self.stdout.write(
                _("The backup lacks %(count)d migrations of this code (%(first)s…): run migrate")
                % {"count": len(missing), "first": missing[0]}
            )
        if unknown:
            self.stderr.write(
                _(
                    "The backup was made by newer code: "
                    "%(count)d migrations unknown here (%(first)s…)"
                )
                % {"count": len(unknown), "first": unknown[0]}
            )
        if manifest is None:
            return
        differences = compare_digests(manifest.tables, restored)
        for line in differences:
            self.stderr.write(line)
        if differences:
            raise CommandError(
                _("%(count)d tables differ from the manifest") % {"count": len(differences)},
                returncode=1,
            )
        self.stdout.write(
            _("Verified: every table matches the manifest of %(time)s")
            % {"time": manifest.created_at}
        )
