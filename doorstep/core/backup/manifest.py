"""The manifest beside a backup: per-table row counts and checksums, and file helpers.

Checksums are comparable between databases of the same engine only: each engine has its own
canonical text for a row.
"""

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.translation import gettext as _

from .database import (
    POSTGRESQL,
    SQLITE,
    BackupError,
    data_tables,
    open_connection,
    read_snapshot,
)

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
MANIFEST_FORMAT = 1

# A table's digest: (row count, sha256 of its canonical rows in primary-key order).
TableDigest = tuple[int, str]


@dataclass(frozen=True)
class Manifest:
    """What a backup file holds, written beside it as JSON."""

    engine: str
    created_at: str
    backup_file: str
    backup_sha256: str
    migrations: dict[str, list[str]]
    tables: dict[str, TableDigest]
    format: int = MANIFEST_FORMAT

    def write(self, path: Path) -> None:
        text = json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True)
        _write_private(path, text.encode())

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            return cls(
                engine=data["engine"],
                created_at=data["created_at"],
                backup_file=data["backup_file"],
                backup_sha256=data["backup_sha256"],
                migrations={app: list(names) for app, names in data["migrations"].items()},
                tables={
                    name: (int(n), str(digest)) for name, (n, digest) in data["tables"].items()
                },
            )
        except FileNotFoundError:
            raise BackupError(
                _("No manifest beside the backup: %(path)s") % {"path": path}
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BackupError(
                _("Unreadable manifest %(path)s: %(error)s") % {"path": path, "error": error}
            ) from None


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest_path: Path
    manifest: Manifest


def table_digests(wrapper: BaseDatabaseWrapper, cursor) -> dict[str, TableDigest]:
    """Row count and checksum of every table; call inside `read_snapshot` for a consistent set."""
    return {table: _table_digest(wrapper, cursor, table) for table in data_tables(wrapper, cursor)}


def _table_digest(wrapper: BaseDatabaseWrapper, cursor, table: str) -> TableDigest:
    quote = wrapper.ops.quote_name
    checksum = hashlib.sha256()
    count = 0
    if wrapper.vendor == POSTGRESQL:
        # A row's text form is PostgreSQL's own canonical output for the row type; md5 on the
        # server keeps the transfer at 32 bytes a row. Without a key, rows are ordered by that
        # hash: equal rows hash equally, so the order is still a function of the content.
        # Text is ordered under the "C" collation: the order (and so the checksum) must not
        # depend on the locale a database happened to be created with.
        alias = "doorstep_digest_row"
        order = ", ".join(
            f"{alias}.{quote(column)}" + (' COLLATE "C"' if collatable else "")
            for column, collatable in _postgresql_key(cursor, quote(table))
        )
        order = order or f'md5({alias}::text) COLLATE "C"'
        # Identifiers only, from the catalogue and quoted: nothing user-given reaches this SQL.
        sql = f"SELECT md5({alias}::text) FROM {quote(table)} AS {alias} ORDER BY {order}"  # noqa: S608
        # A server-side cursor streams the rows: memory stays flat whatever the table's size.
        with (
            wrapper.wrap_database_errors,
            wrapper.connection.cursor(name="doorstep_digest") as stream,
        ):
            stream.itersize = 5000
            stream.execute(sql)
            for (row_md5,) in stream:
                checksum.update(row_md5.encode())
                count += 1
    else:
        # PRAGMA table_info rather than Django's introspection, which on SQLite wants the
        # connection registered under its alias (this private one is not).
        cursor.execute(f"PRAGMA table_info({quote(table)})")
        described = cursor.fetchall()  # (cid, name, type, notnull, default, position in key)
        columns = [row[1] for row in described]
        key = [row[1] for row in sorted(described, key=lambda row: row[5]) if row[5]]
        # quote() gives each stored value as an SQL literal: type-tagged and exact, and untouched
        # by the date/decimal converters Django registers on its SQLite connections.
        row_text = " || ',' || ".join(f"quote({quote(c)})" for c in columns)
        order = ", ".join(quote(c) for c in key or columns)
        cursor.execute(f"SELECT {row_text} AS row_text FROM {quote(table)} ORDER BY {order}")  # noqa: S608
        for (text,) in cursor:
            data = text.encode()
            # Length-prefixed, so that no two different lists of rows hash the same text.
            checksum.update(b"%d:" % len(data))
            checksum.update(data)
            count += 1
    return count, checksum.hexdigest()


def _postgresql_key(cursor, quoted_table: str) -> list[tuple[str, bool]]:
    """The primary key's columns in key order, each with whether it is text (collatable)."""
    cursor.execute(
        """
        SELECT a.attname, a.attcollation <> 0
        FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = %s::regclass AND i.indisprimary
        ORDER BY k.position
        """,
        [quoted_table],
    )
    return [(name, collatable) for name, collatable in cursor.fetchall()]


def database_digest(db: Mapping[str, Any]) -> dict[str, TableDigest]:
    """Row count and checksum of every table of `db`, all read from one snapshot."""
    with open_connection(db) as wrapper, read_snapshot(wrapper) as cursor:
        return table_digests(wrapper, cursor)


def compare_digests(
    expected: Mapping[str, TableDigest], actual: Mapping[str, TableDigest]
) -> list[str]:
    """One line per table that differs; an empty list when every table matches."""
    differences = []
    for table in sorted(set(expected) | set(actual)):
        if table not in actual:
            differences.append(_("%(table)s: missing") % {"table": table})
        elif table not in expected:
            differences.append(_("%(table)s: not in the backup") % {"table": table})
        elif tuple(expected[table]) != tuple(actual[table]):
            (want_rows, want_sum), (got_rows, got_sum) = expected[table], actual[table]
            differences.append(
                _(
                    "%(table)s: expected %(want_rows)d rows (%(want_sum)s), "
                    "found %(got_rows)d (%(got_sum)s)"
                )
                % {
                    "table": table,
                    "want_rows": want_rows,
                    "want_sum": want_sum[:12],
                    "got_rows": got_rows,
                    "got_sum": got_sum[:12],
                }
            )
    return differences


def manifest_path_for(backup_path: Path) -> Path:
    return backup_path.with_suffix(".manifest.json")


def file_sha256(path: Path) -> str:
    checksum = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            checksum.update(block)
    return checksum.hexdigest()


def backup_engine(path: Path) -> str:
    """The engine a backup file is for, from its first bytes (never from its name)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise BackupError(
            _("Cannot read %(path)s: %(error)s") % {"path": path, "error": error.strerror}
        ) from None
    if head.startswith(SQLITE_MAGIC):
        return SQLITE
    if head.startswith(PG_CUSTOM_MAGIC):
        return POSTGRESQL
    raise BackupError(
        _("%(path)s is not a Doorstep backup (neither SQLite nor a pg_dump custom archive)")
        % {"path": path}
    )


def _write_private(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())
