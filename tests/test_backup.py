"""Backups restore: what backup_db saved comes back table by table, row by row.

Runs on the suite's engine (SQLite, or PostgreSQL under DATABASE_URL). The data is committed
(transactional tests), because a backup only ever sees committed data.
"""

import io
import shutil
import stat
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import translation

from doorstep.accounts.models import Role
from doorstep.core import backup
from doorstep.core.backup import (
    Manifest,
    compare_digests,
    database_digest,
    database_settings_from_url,
    manifest_path_for,
    open_connection,
)
from doorstep.core.db import sqlite_writer_turn
from doorstep.core.services import audit_write
from doorstep.registry.models import Household, Person
from doorstep.screening.models import Campaign, Visit
from doorstep.screening.services import assignment_create, visit_record
from tests.factories import open_district_campaign

from .factories import HouseholdFactory, PersonFactory
from .screening.conftest import screened

pytestmark = pytest.mark.django_db(transaction=True)

ROSTER_TABLES = ("areas_area", "registry_household", "registry_person", "core_auditevent")


@pytest.fixture
def district(households, user_for, areas):
    """The roster of tests/conftest.py, a campaign with one visit, and an audit event."""
    commander = user_for(Role.COMMAND, "D")
    campaign = open_district_campaign(commander, "全区拉网式摸排")
    worker = user_for(Role.GRID_WORKER, "G1")
    assignment_create(user=commander, campaign=campaign, worker=worker, grid=areas["G1"])
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    audit_write(user=commander, action="person.reveal", obj=households["G2"], purpose="回访核实")
    return households


@pytest.fixture
def source():
    """The settings of the suite's own database, which the commands back up by default."""
    return connection.settings_dict


@pytest.fixture
def fresh_database(tmp_path, source):
    """Make empty databases of the suite's engine; returns (url, settings) for each new one."""
    created = []

    def make() -> tuple[str, dict]:
        if connection.vendor == "sqlite":
            url = f"sqlite:///{tmp_path / f'restored-{uuid.uuid4().hex[:12]}.sqlite3'}"
        else:
            name = f"doorstep_restore_{uuid.uuid4().hex[:12]}"
            with _maintenance_connection(source) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            created.append(name)
            url = _postgres_url(source, name)
        return url, database_settings_from_url(url)

    yield make
    if created:
        with _maintenance_connection(source) as admin:
            for name in created:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_url(db, name):
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    )


def _maintenance_connection(db):
    return psycopg.connect(_postgres_url(db, "postgres"), autocommit=True)


def backup_now(output: Path) -> tuple[Path, Manifest]:
    out = io.StringIO()
    with translation.override("en"):
        call_command("backup_db", output=str(output), stdout=out)
    (path,) = [p for p in output.iterdir() if not p.name.endswith(".manifest.json")]
    assert f"Backup: {path}" in out.getvalue()
    return path, Manifest.read(manifest_path_for(path))


def restore(path: Path, url: str, *options: str) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command(
            "restore_db", str(path), "--database-url", url, *options, stdout=out, stderr=out
        )
    return out.getvalue()


def restore_refused(path: Path, url: str, *options: str) -> tuple[int, str]:
    err = io.StringIO()
    with translation.override("en"), pytest.raises(CommandError) as refused:
        call_command(
            "restore_db",
            str(path),
            "--database-url",
            url,
            *options,
            stdout=io.StringIO(),
            stderr=err,
        )
    return refused.value.returncode, f"{refused.value} {err.getvalue()}"


def execute(db: dict, sql: str) -> None:
    with open_connection(db) as wrapper, wrapper.cursor() as cursor:
        cursor.execute(sql)


def scalar(db: dict, sql: str):
    with open_connection(db) as wrapper, wrapper.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_a_backup_restores_into_a_fresh_database_with_every_table_identical(
    district, source, fresh_database, tmp_path
):
    # given a district with a roster, a campaign with a visit, and an audit trail
    assert Visit.objects.count() == 1 and Campaign.objects.count() == 1
    # when it is backed up and restored into an empty database
    path, manifest = backup_now(tmp_path / "backups")
    url, target = fresh_database()
    output = restore(path, url, "--verify")
    # then every table has the same rows and checksum as the source, and as the manifest says
    source_digest, restored_digest = database_digest(source), database_digest(target)
    assert compare_digests(source_digest, restored_digest) == []
    assert restored_digest == manifest.tables
    assert "Verified" in output
    # and the comparison is not vacuous: the roster and the sweep are in it
    assert manifest.tables["registry_person"][0] == Person.objects.count() == 8
    assert manifest.tables["registry_household"][0] == Household.objects.count() == 4
    assert manifest.tables["screening_visit"][0] == 1
    assert all(manifest.tables[table][0] > 0 for table in ROSTER_TABLES)
    assert len(manifest.tables) >= 30
    # and the manifest records the engine and the migrations the data was written under
    assert manifest.engine == connection.vendor
    assert path.name.startswith(f"doorstep-{connection.vendor}-")
    assert "0001_initial" in manifest.migrations["registry"]
    assert scalar(target, "SELECT count(*) FROM django_migrations") == sum(
        len(names) for names in manifest.migrations.values()
    )


def test_backup_files_are_readable_by_their_owner_only(district, tmp_path):
    path, _manifest = backup_now(tmp_path / "backups")
    for written in (path, manifest_path_for(path)):
        assert stat.S_IMODE(written.stat().st_mode) & 0o077 == 0
    assert not list((tmp_path / "backups").glob("*.partial"))


def test_a_changed_row_changes_the_checksum_of_its_table_only(district, tmp_path, fresh_database):
    path, manifest = backup_now(tmp_path / "backups")
    url, target = fresh_database()
    restore(path, url)
    execute(target, "UPDATE areas_area SET name = '第9网格' WHERE code = 'G1'")
    differences = compare_digests(manifest.tables, database_digest(target))
    assert len(differences) == 1 and differences[0].startswith("areas_area")
    # same row count: only the content tells them apart
    assert database_digest(target)["areas_area"][0] == manifest.tables["areas_area"][0]


def test_verify_exits_one_and_names_the_table_that_differs_from_the_manifest(
    district, tmp_path, fresh_database
):
    path, manifest = backup_now(tmp_path / "backups")
    tampered = manifest.tables | {"registry_person": (8, "0" * 64)}
    Manifest(**{**manifest.__dict__, "tables": tampered}).write(manifest_path_for(path))
    url, _target = fresh_database()
    code, message = restore_refused(path, url, "--verify")
    assert code == 1
    assert "registry_person: expected 8 rows" in message
    assert "registry_household" not in message


def test_a_backup_taken_while_rows_are_being_written_is_consistent(
    district, areas, tmp_path, fresh_database
):
    # given a writer that keeps adding a household with two members in one transaction
    stop, started, written, errors = threading.Event(), threading.Event(), [], []

    def keep_writing():
        try:
            while not stop.is_set():
                with sqlite_writer_turn(), transaction.atomic():
                    household = HouseholdFactory(
                        grid=areas["G3"], household_number=f"W-{len(written):05d}"
                    )
                    PersonFactory(household=household, relation="户主")
                    PersonFactory(household=household, relation="配偶")
                written.append(household.pk)
                if len(written) == 5:
                    started.set()
        except Exception as error:
            errors.append(error)
            started.set()
        finally:
            connection.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert started.wait(timeout=120) and not errors
        committed_before = len(written)
        # when a backup is taken while it writes
        path, manifest = backup_now(tmp_path / "backups")
    finally:
        stop.set()
        writer.join()
    assert errors == []
    # then the backup restores and matches its own manifest
    url, target = fresh_database()
    assert "Verified" in restore(path, url, "--verify")
    # and it holds whole transactions only: every household with both of its members
    in_backup = scalar(
        target, "SELECT count(*) FROM registry_household WHERE household_number LIKE 'W-%'"
    )
    torn = scalar(
        target,
        "SELECT count(*) FROM registry_household h WHERE h.household_number LIKE 'W-%' AND "
        "(SELECT count(*) FROM registry_person p WHERE p.household_id = h.id) != 2",
    )
    assert torn == 0
    assert committed_before <= in_backup <= len(written)
    assert manifest.tables["registry_person"][0] == 8 + 2 * in_backup


@pytest.mark.postgresql  # the exported snapshot is PostgreSQL's; SQLite's manifest reads the copy
def test_rows_committed_after_the_postgresql_snapshot_are_in_neither_dump_nor_manifest(
    district, areas, tmp_path, fresh_database, monkeypatch
):
    # given a household committed by another connection after the snapshot, before pg_dump runs
    run_client = backup.postgresql._run_client

    def commit_then_dump(arguments, **kwargs):
        if Path(arguments[0]).name == "pg_dump":
            HouseholdFactory(grid=areas["G3"], household_number="LATE")
        return run_client(arguments, **kwargs)

    monkeypatch.setattr(backup.postgresql, "_run_client", commit_then_dump)
    path, manifest = backup_now(tmp_path / "backups")
    # then the dump and the manifest agree, and both predate it
    assert Household.objects.filter(household_number="LATE").exists()
    url, target = fresh_database()
    assert "Verified" in restore(path, url, "--verify")
    assert (
        scalar(target, "SELECT count(*) FROM registry_household WHERE household_number = 'LATE'")
        == 0
    )
    assert manifest.tables["registry_household"][0] == 4


def test_a_truncated_backup_fails_clearly_and_leaves_the_target_unchanged(
    district, tmp_path, fresh_database
):
    # given a target restored from a good backup, and a copy of that backup cut in half
    path, _manifest = backup_now(tmp_path / "backups")
    url, target = fresh_database()
    restore(path, url)
    execute(target, "UPDATE areas_area SET name = '目标库' WHERE code = 'D'")
    before = database_digest(target)
    broken = tmp_path / f"broken{path.suffix}"
    broken.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    # when it is restored over the target, even with --force
    code, message = restore_refused(broken, url, "--force")
    # then the restore fails with exit 2, naming the file, and the target has what it had
    assert code == 2
    assert str(broken) in message
    assert database_digest(target) == before
    assert scalar(target, "SELECT name FROM areas_area WHERE code = 'D'") == "目标库"


def test_a_file_that_is_no_backup_is_refused_before_the_target_is_touched(
    district, tmp_path, fresh_database
):
    path, _manifest = backup_now(tmp_path / "backups")
    url, target = fresh_database()
    restore(path, url)
    before = database_digest(target)
    for content in (b"", b"not a backup at all\n" * 100):
        junk = tmp_path / "junk.sqlite3"
        junk.write_bytes(content)
        code, message = restore_refused(junk, url, "--force")
        assert code == 2 and "is not a Doorstep backup" in message
    code, message = restore_refused(tmp_path / "missing.dump", url)
    assert code == 2 and "missing.dump" in message
    assert database_digest(target) == before


def test_verify_refuses_a_damaged_file_before_restoring_with_exit_one(
    district, tmp_path, fresh_database
):
    # given a backup damaged in place, its manifest beside it
    path, _manifest = backup_now(tmp_path / "backups")
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    url, target = fresh_database()
    # when it is restored with --verify, then nothing is restored and the exit is 1
    code, message = restore_refused(path, url, "--verify")
    assert code == 1 and "does not match its manifest" in message
    assert backup.existing_tables(target) == []


def test_restoring_over_a_database_with_tables_needs_force(district, tmp_path, fresh_database):
    # given a target holding data that differs from the backup
    path, manifest = backup_now(tmp_path / "backups")
    url, target = fresh_database()
    restore(path, url)
    execute(target, "UPDATE areas_area SET name = '目标库' WHERE code = 'D'")
    before = database_digest(target)
    assert compare_digests(manifest.tables, before) != []
    # when the backup is restored over it without --force, then it is refused and unchanged
    code, message = restore_refused(path, url)
    assert code == 2 and "--force" in message
    assert database_digest(target) == before
    # and with --force it holds exactly the backup
    assert "Verified" in restore(path, url, "--force", "--verify")
    assert database_digest(target) == manifest.tables


def test_a_backup_of_another_engine_is_refused(district, tmp_path, fresh_database):
    path, _manifest = backup_now(tmp_path / "backups")
    other_engine_url = (
        f"sqlite:///{tmp_path / 'other.sqlite3'}"
        if connection.vendor == "postgresql"
        else "postgres://nobody@127.0.0.1:1/none"
    )
    code, message = restore_refused(path, other_engine_url)
    assert code == 2 and "backup; the target is a" in message
    assert not (tmp_path / "other.sqlite3").exists()


def test_backup_db_exits_two_when_the_output_cannot_be_written(district, tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    with pytest.raises(CommandError) as refused:
        call_command("backup_db", output=str(not_a_directory / "backups"))
    assert refused.value.returncode == 2
    assert str(not_a_directory) in str(refused.value)


def test_verify_without_a_manifest_exits_two(district, tmp_path, fresh_database):
    path, _manifest = backup_now(tmp_path / "backups")
    alone = tmp_path / f"alone{path.suffix}"
    shutil.copy(path, alone)
    url, target = fresh_database()
    code, message = restore_refused(alone, url, "--verify")
    assert code == 2 and "No manifest" in message
    assert backup.existing_tables(target) == []


def test_a_restore_says_when_the_backup_and_the_code_are_migrations_apart(
    district, tmp_path, fresh_database
):
    # given a backup whose database lacks one of this code's migrations
    path, manifest = backup_now(tmp_path / "backups")
    url, target = fresh_database()
    restore(path, url)
    assert backup.migrations_out_of_step(backup.database_migrations(target)) == ([], [])
    applied = {app: list(names) for app, names in manifest.migrations.items()}
    applied["registry"].remove("0001_initial")
    applied["registry"].append("9999_from_newer_code")
    # then the restore names what to do about each side
    missing, unknown = backup.migrations_out_of_step(applied)
    assert missing == ["registry.0001_initial"]
    assert unknown == ["registry.9999_from_newer_code"]
    # and the restore command says it: a backup of a database one migration behind
    execute(
        target, "DELETE FROM django_migrations WHERE app = 'registry' AND name = '0001_initial'"
    )
    older = backup.backup_database(db=target, output_dir=tmp_path / "older").path
    url, _second = fresh_database()
    assert "lacks 1 migrations of this code (registry.0001_initial…): run migrate" in restore(
        older, url
    )
