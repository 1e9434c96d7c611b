"""PostgreSQL: pg_dump and pg_restore (custom format) with the connection settings of `db`."""

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from .database import BackupError, migration_state, open_connection, read_snapshot
from .manifest import table_digests

# libpq reads these from the environment; the password never appears on a command line.
PG_OPTION_ENVIRONMENT = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def _backup_postgresql(db: Mapping[str, Any], partial: Path):
    pg_dump = _client_program("pg_dump")
    with open_connection(db) as wrapper, read_snapshot(wrapper) as cursor:
        # pg_dump adopts our transaction's snapshot, so the dump and the checksums computed
        # below in this same transaction describe the same instant, however busy the server.
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
        _run_client(
            [
                pg_dump,
                "--no-password",
                "--format=custom",
                f"--file={partial}",
                f"--snapshot={snapshot}",
            ],
            db=db,
            subject=partial,
        )
        return migration_state(wrapper, cursor), table_digests(wrapper, cursor)


def _check_pg_archive(path: Path, db: Mapping[str, Any]) -> None:
    # Reading the table of contents catches a file that is not an archive at all without a
    # connection; damage further in is caught by the restore's single transaction.
    _run_client([_client_program("pg_restore"), "--list", str(path)], db=db, subject=path)


def _restore_postgresql(backup_path: Path, db: Mapping[str, Any]) -> None:
    _run_client(
        [
            _client_program("pg_restore"),
            "--no-password",
            "--clean",
            "--if-exists",
            "--no-owner",
            # Grants name roles of the source server, which the target server may not have.
            "--no-privileges",
            # One transaction: a damaged archive or a failed statement leaves the target as it was.
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={db['NAME']}",
            str(backup_path),
        ],
        db=db,
        subject=backup_path,
    )


def _client_program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            _("%(program)s not found: install the PostgreSQL client programs") % {"program": name}
        )
    return path


def pg_environment(db: Mapping[str, Any]) -> dict[str, str]:
    """The environment for pg_dump/pg_restore: connection settings from `db` over the caller's
    own, so that the programs reach the server exactly as the application's libpq does."""
    environment = dict(os.environ)
    for key, variable in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        if db.get(key):
            environment[variable] = str(db[key])
    for option, variable in PG_OPTION_ENVIRONMENT.items():
        value = (db.get("OPTIONS") or {}).get(option)
        if value is not None:
            environment[variable] = str(value)
    return environment


def _run_client(arguments: list[str], *, db: Mapping[str, Any], subject: Path) -> None:
    """Run pg_dump/pg_restore; a failure names `subject` (the file) and the program's error."""
    what = Path(arguments[0]).name
    try:
        # An argument list, never a shell string; the password travels in the environment.
        finished = subprocess.run(  # noqa: S603
            arguments,
            env=pg_environment(db),
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise BackupError(f"{subject}: {what}: {error}") from None
    if finished.returncode != 0:
        detail = " ".join(finished.stderr.strip().splitlines()[-3:])
        raise BackupError(
            _("%(path)s: %(program)s failed (exit %(code)d): %(detail)s")
            % {"path": subject, "program": what, "code": finished.returncode, "detail": detail}
        )
