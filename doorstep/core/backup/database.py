"""Engines, errors and private connections shared by backup and restore."""

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import dj_database_url
from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.utils import DatabaseError, load_backend
from django.utils.translation import gettext as _

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
ENGINES = {
    "django.db.backends.sqlite3": SQLITE,
    "django.db.backends.postgresql": POSTGRESQL,
}


class BackupError(Exception):
    """A backup or restore could not be made. A failed restore has left the target unchanged."""


class TargetNotEmpty(BackupError):
    """The restore target already holds tables and --force was not given."""


def database_settings_from_url(url: str) -> dict[str, Any]:
    """Django database settings for `postgres://…` or `sqlite:///path` (a restore target)."""
    try:
        db = dj_database_url.parse(url)
    except ValueError as error:
        raise BackupError(_("Bad database URL: %(error)s") % {"error": error}) from None
    engine_of(db)
    return db


def engine_of(db: Mapping[str, Any]) -> str:
    try:
        return ENGINES[db["ENGINE"]]
    except KeyError:
        raise BackupError(
            _("Only SQLite and PostgreSQL databases can be backed up, not %(engine)s")
            % {"engine": db.get("ENGINE")}
        ) from None


@contextmanager
def open_connection(db: Mapping[str, Any]) -> Iterator[BaseDatabaseWrapper]:
    """A private Django connection to `db`, closed on exit.

    Private, so that a backup or a restore never shares a transaction with the caller's default
    connection, and so that it can reach databases that are not in settings.DATABASES.
    """
    engine_of(db)
    settings_dict = connections.configure_settings({DEFAULT_DB_ALIAS: copy.deepcopy(dict(db))})
    wrapper = load_backend(db["ENGINE"]).DatabaseWrapper(
        settings_dict[DEFAULT_DB_ALIAS], "doorstep-backup"
    )
    try:
        wrapper.ensure_connection()
        yield wrapper
    except DatabaseError as error:
        raise BackupError(
            _("Database error on %(name)s: %(error)s") % {"name": db.get("NAME"), "error": error}
        ) from None
    finally:
        wrapper.close()


@contextmanager
def read_snapshot(wrapper: BaseDatabaseWrapper) -> Iterator[Any]:
    """A read-only transaction: every query inside sees the database as of one instant.

    SQLite: a deferred BEGIN (not the IMMEDIATE mode the application writes with), so the
    snapshot takes no write lock. PostgreSQL: REPEATABLE READ, with the output formats pinned,
    since a row's canonical text must not depend on the session's settings.
    """
    with wrapper.cursor() as cursor:
        if wrapper.vendor == POSTGRESQL:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for setting in (
                "TimeZone = 'UTC'",
                "DateStyle = 'ISO, YMD'",
                "IntervalStyle = 'postgres'",
                "extra_float_digits = 1",
                "bytea_output = 'hex'",
            ):
                cursor.execute(f"SET LOCAL {setting}")
        else:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield cursor
        finally:
            with suppress(DatabaseError):
                cursor.execute("ROLLBACK")


def data_tables(wrapper: BaseDatabaseWrapper, cursor) -> list[str]:
    # SQLite's own tables (sqlite_stat1 after ANALYZE) are statistics, not data.
    return sorted(
        name
        for name in wrapper.introspection.table_names(cursor)
        if not (wrapper.vendor == SQLITE and name.startswith("sqlite_"))
    )


def migration_state(wrapper: BaseDatabaseWrapper, cursor) -> dict[str, list[str]]:
    """Applied migrations by app, read with plain SQL (the ORM knows only configured aliases)."""
    if "django_migrations" not in wrapper.introspection.table_names(cursor):
        return {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    state: dict[str, list[str]] = {}
    for app, name in cursor.fetchall():
        state.setdefault(app, []).append(name)
    return state


def database_migrations(db: Mapping[str, Any]) -> dict[str, list[str]]:
    with open_connection(db) as wrapper, wrapper.cursor() as cursor:
        return migration_state(wrapper, cursor)


def migrations_out_of_step(applied: Mapping[str, list[str]]) -> tuple[list[str], list[str]]:
    """(migrations of this code that `applied` lacks, applied migrations this code does not know).

    A backup restored under newer code needs `migrate`; one made by newer code than this may
    hold columns this code does not expect. Only apps of this project count: third-party apps
    may squash or rename their migrations between versions.
    """
    ours = {
        config.label for config in apps.get_app_configs() if config.name.startswith("doorstep.")
    }
    on_disk = {
        f"{app}.{name}"
        for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations
        if app in ours
    }
    recorded = {f"{app}.{name}" for app, names in applied.items() if app in ours for name in names}
    return sorted(on_disk - recorded), sorted(recorded - on_disk)


def existing_tables(db: Mapping[str, Any]) -> list[str]:
    if engine_of(db) == SQLITE:
        path = Path(db["NAME"])
        if not path.exists() or path.stat().st_size == 0:
            return []
    with open_connection(db) as wrapper, wrapper.cursor() as cursor:
        return data_tables(wrapper, cursor)
