"""Backups that restore: a consistent copy of the running database, a manifest of what it holds,
and a restore that can prove it got exactly that back.

SQLite: the online backup API copies every page in one step under one read transaction, so the
copy is a snapshot even while the server writes (in WAL mode the writers are not even blocked).
PostgreSQL: `pg_dump --format=custom` inside a snapshot exported by our own REPEATABLE READ
transaction, so the dump and the manifest's checksums describe the very same instant.

The manifest (`<backup>.manifest.json`) holds, for every table, its row count and a checksum of
its rows in primary-key order, plus the engine, the applied migrations, the time and the sha256
of the backup file. The same code computes the checksums of a restored database, so a restore can
be compared table by table with what was backed up. Checksums are comparable between databases of
the same engine only: each engine has its own canonical text for a row.

Backups hold the whole roster (names, ID numbers, phones): files are created readable by their
owner only.

Modules: `database` (engines, errors, private connections, migrations), `manifest` (manifest,
per-table checksums, file helpers), `sqlite` and `postgresql` (each engine's backup and restore),
`operations` (`backup_database` and `restore_database`, dispatching to the engine's module).
"""

from .database import (
    ENGINES,
    POSTGRESQL,
    SQLITE,
    BackupError,
    TargetNotEmpty,
    data_tables,
    database_migrations,
    database_settings_from_url,
    engine_of,
    existing_tables,
    migration_state,
    migrations_out_of_step,
    open_connection,
    read_snapshot,
)
from .manifest import (
    MANIFEST_FORMAT,
    PG_CUSTOM_MAGIC,
    SQLITE_MAGIC,
    BackupResult,
    Manifest,
    TableDigest,
    backup_engine,
    compare_digests,
    database_digest,
    file_sha256,
    manifest_path_for,
    table_digests,
)
from .operations import FILE_SUFFIX, backup_database, restore_database
from .postgresql import PG_OPTION_ENVIRONMENT, pg_environment

__all__ = [
    "ENGINES",
    "FILE_SUFFIX",
    "MANIFEST_FORMAT",
    "PG_CUSTOM_MAGIC",
    "PG_OPTION_ENVIRONMENT",
    "POSTGRESQL",
    "SQLITE",
    "SQLITE_MAGIC",
    "BackupError",
    "BackupResult",
    "Manifest",
    "TableDigest",
    "TargetNotEmpty",
    "backup_database",
    "backup_engine",
    "compare_digests",
    "data_tables",
    "database_digest",
    "database_migrations",
    "database_settings_from_url",
    "engine_of",
    "existing_tables",
    "file_sha256",
    "manifest_path_for",
    "migration_state",
    "migrations_out_of_step",
    "open_connection",
    "pg_environment",
    "read_snapshot",
    "restore_database",
    "table_digests",
]
