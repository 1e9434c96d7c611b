"""SQLite: the online backup API, one step under one transaction, for backup and restore."""

import fcntl
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from doorstep.core.db import sqlite_writer_lock_path

from .database import BackupError, migration_state, open_connection, read_snapshot
from .manifest import table_digests


def _backup_sqlite(db: Mapping[str, Any], partial: Path):
    source_path = Path(db["NAME"])
    if not source_path.is_file():
        raise BackupError(_("No SQLite database at %(path)s") % {"path": source_path})
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(partial)
    try:
        # pages=-1: one step, under one read transaction. A step-wise copy would restart each
        # time the server writes between two steps, and might never finish on a busy day.
        source.backup(target, pages=-1)
        # The copy is a single self-contained file, not a WAL database with side files.
        target.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as error:
        raise BackupError(_("SQLite backup failed: %(error)s") % {"error": error}) from None
    finally:
        target.close()
        source.close()
    # The manifest is computed from the copy itself, so it describes exactly what was saved.
    with open_connection(_sqlite_settings(partial)) as wrapper, read_snapshot(wrapper) as cursor:
        return migration_state(wrapper, cursor), table_digests(wrapper, cursor)


def _sqlite_settings(path: Path) -> dict[str, Any]:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


def _check_sqlite_backup(path: Path) -> None:
    # immutable=1: nobody writes a backup file, so SQLite need not lock it or create side files.
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    try:
        backup = sqlite3.connect(uri, uri=True)
        try:
            problems = [row[0] for row in backup.execute("PRAGMA quick_check")]
            has_migrations = backup.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'django_migrations'"
            ).fetchone()
        finally:
            backup.close()
    except sqlite3.Error as error:
        raise BackupError(
            _("%(path)s is damaged: %(error)s") % {"path": path, "error": error}
        ) from None
    if problems != ["ok"]:
        raise BackupError(
            _("%(path)s is damaged: %(error)s") % {"path": path, "error": "; ".join(problems[:3])}
        )
    if not has_migrations:
        raise BackupError(_("%(path)s is not a Doorstep database") % {"path": path})


def _restore_sqlite(backup_path: Path, target_path: Path) -> None:
    if not target_path.parent.is_dir():
        raise BackupError(_("No directory %(path)s") % {"path": target_path.parent})
    uri = backup_path.resolve().as_uri() + "?mode=ro&immutable=1"
    # The application's writers take turns on this lock before BEGIN (core.db.sqlite_writer_turn):
    # holding it makes them queue behind the restore instead of timing out on SQLite's lock.
    with open(sqlite_writer_lock_path(target_path), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            source = sqlite3.connect(uri, uri=True)
            target = sqlite3.connect(target_path, timeout=30)
            try:
                # One step, one write transaction on the target: if reading the backup fails
                # half-way, SQLite rolls the target back to what it was.
                source.backup(target, pages=-1)
            finally:
                target.close()
                source.close()
        except sqlite3.Error as error:
            raise BackupError(
                _("%(path)s: SQLite restore failed: %(error)s")
                % {"path": backup_path, "error": error}
            ) from None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
