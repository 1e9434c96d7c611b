"""An import whose process died (killed, machine restarted) is told apart from one still at work,
and is resumed from its page or the command line after its last committed row: every row of the
file ends imported exactly once. A live import is never resumed twice at once."""

import subprocess
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.imports.models import ImportJob, ImportStatus
from doorstep.imports.selectors import import_job_interrupted, import_runner_id
from doorstep.imports.services import (
    roster_import_create,
    roster_import_requeue,
    roster_import_resume,
    roster_import_run,
    roster_import_start,
)
from doorstep.registry.models import Person

from .factories import unique_id_number
from .sheets import write_csv

ROWS = 35


class Killed(Exception):
    pass


def dead_runner() -> str:
    """The runner name of a process of this host that has exited (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    host, namespace, _pid, nonce = import_runner_id().split(":")
    return f"{host}:{namespace}:{process.pid}:{nonce}"


@pytest.fixture
def half_done_job(areas, tmp_path, settings, user_for):
    """A job that committed two batches of 10 rows (rows 2-21 of the file), then stopped."""
    settings.ROSTER_IMPORT_CHUNK_ROWS = 10
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    rows = [
        [f"H{i}", f"人{i}", unique_id_number(), "", "户主", f"天生路1号{100 + i}"]
        for i in range(ROWS)
    ]
    path = write_csv(tmp_path / "名单.csv", rows)
    with open(path, "rb") as stream:
        job = roster_import_create(user=admin, area=areas["G1"], stream=stream, original_name="k")
    roster_import_start(user=admin, job=job, enqueue=False)

    def die_after_two_batches(current):
        if current.rows_done >= 20:
            raise Killed

    with pytest.raises(Killed):
        roster_import_run(job_id=job.pk, on_progress=die_after_two_batches)
    job.refresh_from_db()
    assert (job.rows_done, job.last_row_committed, Person.objects.count()) == (20, 21, 20)
    return job


def as_if_running(job, *, runner: str, silent_for: float = 0) -> ImportJob:
    """The job as its runner leaves it when the process is killed mid-run: still "running"."""
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING,
        error_message="",
        finished_at=None,
        runner=runner,
        heartbeat_at=timezone.now() - timedelta(seconds=silent_for),
    )
    job.refresh_from_db()
    return job


def test_a_job_whose_process_died_is_resumed_from_its_page(
    half_done_job, client_for, django_capture_on_commit_callbacks
):
    job = as_if_running(half_done_job, runner=dead_runner())
    assert import_job_interrupted(job)
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    page = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert 'id="resume-import"' in page and 'id="job-interrupted"' in page
    assert "hx-trigger" not in page  # a dead job's page does not poll forever
    with django_capture_on_commit_callbacks(execute=True):  # the worker picks the job up
        response = client.post(reverse("imports:job_resume", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert (job.rows_done, job.created_count, job.rejected_count) == (ROWS, ROWS, 0)
    assert Person.objects.count() == ROWS
    assert sorted(Person.objects.values_list("name", flat=True)) == sorted(
        f"人{i}" for i in range(ROWS)
    )
    event = AuditEvent.objects.get(action="import.resume")
    assert event.detail == {"after_row": 21}
    done = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert 'id="resume-import"' not in done


def test_a_failed_job_resumes_after_its_last_committed_batch(half_done_job):
    assert (half_done_job.status, Person.objects.count()) == (ImportStatus.FAILED, 20)
    job = roster_import_resume(job_id=half_done_job.pk)
    assert (job.status, job.created_count, job.rows_done) == (ImportStatus.DONE, ROWS, ROWS)
    assert Person.objects.count() == ROWS


def test_a_failed_job_offers_resume_too(half_done_job, client_for):
    assert half_done_job.status == ImportStatus.FAILED
    page = client_for(Role.COMMUNITY_ADMIN, "C1").get(
        reverse("imports:job", args=[half_done_job.pk])
    )
    assert 'id="resume-import"' in page.content.decode()


def test_a_job_still_at_work_is_not_resumed(half_done_job, client_for):
    alive = import_runner_id()  # a run of this very process
    job = as_if_running(half_done_job, runner=alive)
    assert not import_job_interrupted(job)
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    page = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert 'id="resume-import"' not in page and "hx-trigger" in page
    response = client.post(reverse("imports:job_resume", args=[job.pk]), follow=True)
    assert "导入仍在运行（最近进度：第 21 行）" in response.content.decode()
    with pytest.raises(CommandError, match="导入仍在运行") as refused:
        call_command("import_roster", resume=str(job.pk))
    assert refused.value.returncode == 2
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.runner) == (ImportStatus.RUNNING, 20, alive)
    assert Person.objects.count() == 20
    assert not AuditEvent.objects.filter(action="import.resume").exists()


def test_a_runner_on_another_host_counts_as_gone_only_after_the_silence(half_done_job, settings):
    settings.IMPORT_STALE_AFTER_SECONDS = 300
    job = as_if_running(half_done_job, runner="worker-7:4026531836:4242:5eed", silent_for=60)
    assert not import_job_interrupted(job)
    job = as_if_running(half_done_job, runner="worker-7:4026531836:4242:5eed", silent_for=301)
    assert import_job_interrupted(job)


def test_the_command_line_resumes_a_killed_job(half_done_job, capsys):
    job = as_if_running(half_done_job, runner=dead_runner())
    call_command("import_roster", resume=str(job.pk))
    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportStatus.DONE, ROWS)
    assert Person.objects.count() == ROWS
    assert f"done rows={ROWS}" in capsys.readouterr().out


def test_a_second_delivery_of_the_task_changes_nothing(half_done_job):
    job = as_if_running(half_done_job, runner="worker-7:4026531836:4242:5eed")
    again = roster_import_run(job_id=job.pk)
    assert (again.status, again.rows_done, again.runner) == (
        ImportStatus.RUNNING,
        20,
        "worker-7:4026531836:4242:5eed",
    )
    assert Person.objects.count() == 20


def test_of_two_people_resuming_one_job_one_puts_it_back(half_done_job):
    first, second = (
        ImportJob.objects.get(pk=half_done_job.pk),
        ImportJob.objects.get(pk=half_done_job.pk),
    )
    assert roster_import_requeue(job=first) is True
    assert roster_import_requeue(job=second) is False
    assert ImportJob.objects.get(pk=half_done_job.pk).status == ImportStatus.QUEUED
    assert AuditEvent.objects.filter(action="import.resume").count() == 1


def test_resume_is_404_outside_the_jurisdiction(half_done_job, client_for):
    other = client_for(Role.COMMUNITY_ADMIN, "C2")
    assert other.post(reverse("imports:job_resume", args=[half_done_job.pk])).status_code == 404
    half_done_job.refresh_from_db()
    assert half_done_job.status == ImportStatus.FAILED
    assert not AuditEvent.objects.filter(action="import.resume").exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_busy_between_batches_still_gives_signs_of_life(areas, tmp_path, settings):
    """Parsing a large workbook can take minutes before the first batch: the heartbeat comes from
    a thread of its own, so the run is not taken for dead meanwhile."""
    settings.ROSTER_IMPORT_CHUNK_ROWS = 10
    settings.IMPORT_HEARTBEAT_SECONDS = 0.05
    rows = [[f"H{i}", f"人{i}", unique_id_number(), "", "户主", f"路{i}"] for i in range(15)]
    path = write_csv(tmp_path / "慢.csv", rows)
    with open(path, "rb") as stream:
        job = roster_import_create(user=None, area=areas["G1"], stream=stream, original_name="s")
    roster_import_start(user=None, job=job, enqueue=False)
    seen = []

    def slow_after_the_first_batch(current):
        if not seen:
            seen.append(ImportJob.objects.get(pk=job.pk).heartbeat_at)
            time.sleep(0.5)  # no batch commits meanwhile
            seen.append(ImportJob.objects.get(pk=job.pk).heartbeat_at)

    job = roster_import_run(job_id=job.pk, on_progress=slow_after_the_first_batch)
    assert job.status == ImportStatus.DONE and Person.objects.count() == 15
    before, after = seen
    assert after > before  # beats arrived while no batch was written


def test_resuming_a_queued_job_again_does_nothing(half_done_job):
    assert roster_import_requeue(job=ImportJob.objects.get(pk=half_done_job.pk)) is True
    assert roster_import_requeue(job=ImportJob.objects.get(pk=half_done_job.pk)) is False
    assert AuditEvent.objects.filter(action="import.resume").count() == 1


def test_a_run_taken_for_dead_writes_nothing_after_the_resumed_run(
    areas, tmp_path, settings, monkeypatch
):
    """Run A stalls (a paused machine), is taken for dead and resumed as run B, which finishes
    the file; when A wakes up its next batch is rolled back and it stops: every row once, one
    finish."""
    settings.ROSTER_IMPORT_CHUNK_ROWS = 10
    rows = [[f"H{i}", f"人{i}", unique_id_number(), "", "户主", f"路{i}"] for i in range(ROWS)]
    path = write_csv(tmp_path / "停顿.csv", rows)
    with open(path, "rb") as stream:
        job = roster_import_create(user=None, area=areas["G1"], stream=stream, original_name="p")
    roster_import_start(user=None, job=job, enqueue=False)
    monkeypatch.setattr("doorstep.imports.services.import_job_interrupted", lambda job: True)
    resumed = []

    def stall_then_wake_up(current):
        if not resumed:  # while A "sleeps" after its first batch, B takes the job over
            resumed.append(roster_import_resume(job_id=job.pk))

    job_after_a = roster_import_run(job_id=job.pk, on_progress=stall_then_wake_up)
    (b,) = resumed
    assert b.status == ImportStatus.DONE and b.runner != ""
    job.refresh_from_db()
    assert job_after_a.runner == job.runner == b.runner  # A left B's job as B left it
    assert (job.status, job.rows_done, job.created_count) == (ImportStatus.DONE, ROWS, ROWS)
    assert job.unchanged_count == 0 and job.rows_total == ROWS
    assert Person.objects.count() == ROWS
    assert AuditEvent.objects.filter(action="import.finish").count() == 1
