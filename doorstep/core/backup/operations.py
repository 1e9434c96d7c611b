"""Backup and restore of a whole database, dispatched to the engine's module."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from .database import POSTGRESQL, SQLITE, BackupError, TargetNotEmpty, engine_of, existing_tables
from .manifest import (
    BackupResult,
    Manifest,
    _write_private,
    backup_engine,
    file_sha256,
    manifest_path_for,
)
from .postgresql import _backup_postgresql, _check_pg_archive, _restore_postgresql
from .sqlite import _backup_sqlite, _check_sqlite_backup, _restore_sqlite

FILE_SUFFIX = {SQLITE: ".sqlite3", POSTGRESQL: ".dump"}


def _new_backup_path(output_dir: Path, engine: str) -> Path:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    stem, n = f"doorstep-{engine}-{stamp}", 1
    path = output_dir / f"{stem}{FILE_SUFFIX[engine]}"
    while path.exists() or manifest_path_for(path).exists():
        n += 1
        path = output_dir / f"{stem}-{n}{FILE_SUFFIX[engine]}"
    return path


def backup_database(*, db: Mapping[str, Any], output_dir: Path) -> BackupResult:
    """Write a consistent backup of `db` and its manifest into `output_dir`.

    The file appears under its final name only once complete (written as `.partial`, then
    renamed), and the manifest only after the file: a manifest always describes a whole backup.
    """
    engine = engine_of(db)
    try:
        output_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = _new_backup_path(output_dir, engine)
        partial = path.with_name(path.name + ".partial")
        # Created empty and private before any data goes in (pg_dump keeps the mode).
        _write_private(partial, b"")
    except OSError as error:
        raise BackupError(
            _("Cannot write to %(path)s: %(error)s") % {"path": output_dir, "error": error.strerror}
        ) from None
    created_at = timezone.now()
    try:
        if engine == SQLITE:
            migrations, tables = _backup_sqlite(db, partial)
        else:
            migrations, tables = _backup_postgresql(db, partial)
        os.replace(partial, path)
        manifest = Manifest(
            engine=engine,
            created_at=timezone.localtime(created_at).isoformat(),
            backup_file=path.name,
            backup_sha256=file_sha256(path),
            migrations=migrations,
            tables=tables,
        )
        manifest.write(manifest_path_for(path))
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise BackupError(
            _("Cannot write the backup %(path)s: %(error)s") % {"path": path, "error": error}
        ) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(path=path, manifest_path=manifest_path_for(path), manifest=manifest)


def restore_database(*, backup_path: Path, db: Mapping[str, Any], force: bool = False) -> None:
    """Replace the content of `db` with the backup at `backup_path`.

    The backup is checked before the target is touched, and a target that already holds tables
    is refused unless `force`. The restore itself is one transaction on either engine: when it
    fails, the target keeps what it had.
    """
    engine = backup_engine(backup_path)
    target_engine = engine_of(db)
    if engine != target_engine:
        raise BackupError(
            _("%(path)s is a %(engine)s backup; the target is a %(target)s database")
            % {"path": backup_path, "engine": engine, "target": target_engine}
        )
    if engine == SQLITE:
        _check_sqlite_backup(backup_path)
    else:
        _check_pg_archive(backup_path, db)
    if not force:
        existing = existing_tables(db)
        if existing:
            raise TargetNotEmpty(
                _(
                    "The target database %(name)s already holds %(count)d tables; "
                    "pass --force to replace its content"
                )
                % {"name": db.get("NAME"), "count": len(existing)}
            )
    if engine == SQLITE:
        _restore_sqlite(backup_path, Path(db["NAME"]))
    else:
        _restore_postgresql(backup_path, db)
