"""Import jobs: take a file in, check its columns, run it outside the request, report every row."""

import hashlib
import logging
import shutil
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area, AreaLevel
from doorstep.areas.selectors import areas_visible_to
from doorstep.core.services import audit_write
from doorstep.core.sheets.problems import SheetRow
from doorstep.core.sheets.reading import (
    SheetSource,
    UnreadableFile,
    open_sheet,
    read_head,
    refusal_message,
    sheet_limits,
)
from doorstep.core.tasks import enqueue_on_commit

from .columns import FIELD_LABELS, ROSTER_FIELDS, find_header, missing_required
from .models import ImportJob, ImportKind, ImportStatus
from .preview import header_cells, preview_rows
from .selectors import import_job_interrupted, import_runner_id

logger = logging.getLogger(__name__)


def _store_file(*, stream: BinaryIO, original_name: str) -> tuple[Path, str, int]:
    """Copy the upload into the import directory, stopping (and removing the copy) as soon as it
    passes the size the sheet reader would refuse: a stream from the command line has not been
    cut off by the upload handler."""
    directory = Path(settings.IMPORT_FILE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    limit = sheet_limits().max_file_bytes
    temp = directory / f"upload-{timezone.now():%Y%m%d%H%M%S%f}.part"
    with open(temp, "wb") as out:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
            if size > limit:
                out.close()
                temp.unlink(missing_ok=True)
                raise UnreadableFile(refusal_message("too_large", {"limit": limit}))
            out.write(chunk)
    suffix = Path(original_name).suffix.lower()[:8]
    final = directory / f"{digest.hexdigest()}{suffix}"
    shutil.move(temp, final)
    return final, digest.hexdigest(), size


def _check_may_import_into(user, area: Area) -> None:
    """A person may import only into their own jurisdiction, and only roster-managing roles."""
    if user is None:
        return  # the server's operator on the command line
    if not user.manages_roster or not areas_visible_to(user).filter(pk=area.pk).exists():
        raise PermissionDenied(_("you may not import into %(area)s") % {"area": area})


@transaction.atomic
def roster_import_create(
    *,
    user,
    area: Area,
    stream: BinaryIO,
    original_name: str,
    request=None,
) -> ImportJob:
    """Store the file, find its header row and propose a column mapping; nothing is imported yet.

    Raises UnreadableFile for a file the sheet reader refuses (empty, not a spreadsheet, past its
    limits), ValidationError when required columns are missing (before anything is written to
    the roster). The first rows after the header are kept on the job, masked, for the column
    check.
    """
    _check_may_import_into(user, area)
    path, sha256, size = _store_file(stream=stream, original_name=original_name)
    try:
        source = open_sheet(path)
        head = read_head(source)
        guess = find_header([row.cells for row in head])
        if guess is None:
            raise ValidationError(
                _("no header row found in the first 10 rows: a column named 姓名 (name) is needed")
            )
        header = head[guess.row_index]
        if header.problem:
            raise UnreadableFile(
                _("the header row cannot be read: %(problem)s") % {"problem": header.problem}
            )
    except (UnreadableFile, ValidationError):
        # A refused upload leaves nothing behind: the file may hold personal data.
        if not ImportJob.objects.filter(stored_path=str(path)).exists():
            path.unlink(missing_ok=True)
        raise
    job = ImportJob.objects.create(
        kind=ImportKind.ROSTER,
        created_by=user,
        area=area,
        original_name=original_name[:255],
        stored_path=str(path),
        file_sha256=sha256,
        file_size=size,
        file_format=source.format,
        header_row=header.number,
        header=header_cells(header.cells),
        mapping={str(i): f for i, f in guess.mapping.items()},
        preview=preview_rows(head[guess.row_index + 1 :], guess.mapping),
    )
    audit_write(
        user=user,
        action="import.upload",
        obj=job,
        request=request,
        detail={"area": area.code, "format": source.format, "size": size},
    )
    return job


def mapping_problems(job: ImportJob) -> list[str]:
    needs_grid = job.area.level != AreaLevel.GRID
    missing = missing_required({int(k): v for k, v in job.mapping.items()}, needs_grid=needs_grid)
    problems = [
        _("required column missing: %(field)s") % {"field": FIELD_LABELS[f]} for f in missing
    ]
    fields = list(job.mapping.values())
    for field in {f for f in fields if fields.count(f) > 1}:
        problems.append(_("two columns are mapped to %(field)s") % {"field": FIELD_LABELS[field]})
    return problems


@transaction.atomic
def roster_import_set_mapping(*, user, job: ImportJob, mapping: dict[int, str]) -> ImportJob:
    if job.status != ImportStatus.UPLOADED:
        raise ValidationError(_("this import has already started"))
    unknown = {f for f in mapping.values() if f not in ROSTER_FIELDS}
    if unknown:
        raise ValidationError(_("unknown field: %(f)s") % {"f": ", ".join(sorted(unknown))})
    job.mapping = {str(i): f for i, f in mapping.items() if f}
    job.save(update_fields=["mapping"])
    return job


def roster_import_start(*, user, job: ImportJob, enqueue: bool = True) -> ImportJob:
    """Mark the job queued and hand it to the background worker (the command line runs it
    itself, with a progress bar, and passes enqueue=False)."""
    problems = mapping_problems(job)
    if problems:
        raise ValidationError(problems)
    updated = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.UPLOADED).update(
        status=ImportStatus.QUEUED
    )
    job.refresh_from_db()
    if not updated:
        return job  # a second click on "start" changes nothing
    if not enqueue:
        return job
    from .tasks import run_import_job

    enqueue_on_commit(run_import_job, str(job.pk))
    return job


def _data_rows(job: ImportJob, source: SheetSource) -> Iterator[SheetRow]:
    for row in source.rows(after_row=max(job.header_row, job.last_row_committed)):
        # Rows of spaces only are not rows; a row the reader could not use is (it is rejected
        # with the reader's reason). any(cells) settles almost every row on its first cell.
        if row.problem or (any(row.cells) and any(str(c).strip() for c in row.cells if c)):
            yield row


def roster_import_run(
    *, job_id, on_progress: Callable[[ImportJob], None] | None = None
) -> ImportJob:
    """Run (or resume after the last committed row) one queued roster import job. The job is
    claimed first: a second delivery of the same task, or a second resume, finds it taken and
    changes nothing. Every write of the run names the runner, so a run taken for dead (and
    resumed by another) writes nothing more once it wakes up."""
    from .roster import ImportTakenOver, RosterImporter

    me, now = import_runner_id(), timezone.now()
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING,
        runner=me,
        heartbeat_at=now,
        started_at=Coalesce("started_at", Value(now)),
    )
    job = ImportJob.objects.select_related("area", "created_by").get(pk=job_id)
    if not claimed or job.runner != me:
        return job  # done, running elsewhere, or never started: nothing to do here
    ours = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING, runner=me)
    try:
        with _heartbeat_while_running(job.pk, me):
            source = open_sheet(Path(job.stored_path))
            if not job.rows_total and (estimate := source.row_count_estimate()) is not None:
                job.rows_total = max(0, estimate - job.header_row)
                ours.update(rows_total=job.rows_total)
            importer = RosterImporter(job)

            def progress(current: ImportJob) -> None:
                if not current.rows_total and source.declared_rows:  # a workbook's dimension
                    current.rows_total = max(0, source.declared_rows - job.header_row)
                    ours.update(rows_total=current.rows_total)
                if on_progress is not None:
                    on_progress(current)

            rows = _data_rows(job, source)
            try:
                importer.run(rows, progress)
            finally:
                rows.close()  # ends the reading process now, whatever stopped the run
    except ImportTakenOver:
        logger.warning("import %s: resumed by another runner; this run stops", job.pk)
        job.refresh_from_db()
        return job
    except (UnreadableFile, OSError) as error:
        # The file itself (past the reader's limits, damaged, gone): a resume would only fail
        # again. The rows committed before are kept.
        message = str(error) if isinstance(error, UnreadableFile) else _("the file is gone")
        return _fail(job, message, runner=me, final=True)
    except Exception:
        # The message names the exception only: a traceback may quote row values.
        logger.error("import %s failed:\n%s", job.pk, traceback.format_exc(limit=5))
        _fail(
            job,
            _("internal error; the rows committed so far are kept and the import can be resumed"),
            runner=me,
        )
        raise
    # New households join the open campaigns that cover them (an explicit side effect; a
    # second run of it enrols nothing more).
    from doorstep.screening.services import open_campaigns_enrol_new_households

    open_campaigns_enrol_new_households(area=job.area)
    if job.created_count > 10_000:
        _refresh_planner_statistics()
    finished = ours.update(
        status=ImportStatus.DONE, rows_total=F("rows_done"), finished_at=timezone.now()
    )
    job.refresh_from_db()
    if finished:
        audit_write(
            user=job.created_by,
            action="import.finish",
            obj=job,
            detail={"summary": job.summary_line()},
        )
    return job


@contextmanager
def _heartbeat_while_running(job_id, runner: str) -> Iterator[None]:
    """Move the job's heartbeat_at every IMPORT_HEARTBEAT_SECONDS from a thread of its own, so a
    run busy for minutes between batches (parsing a large workbook) is not taken for dead."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.IMPORT_HEARTBEAT_SECONDS):
                close_old_connections()  # a connection the database dropped is opened anew
                try:
                    with transaction.atomic():
                        if connection.vendor == "postgresql":
                            # Never wait behind the run's own batch holding the row.
                            with connection.cursor() as cursor:
                                cursor.execute("SET LOCAL lock_timeout = '2s'")
                        ImportJob.objects.filter(
                            pk=job_id, status=ImportStatus.RUNNING, runner=runner
                        ).update(heartbeat_at=timezone.now())
                except DatabaseError as error:  # busy or gone: the next beat tries again
                    logger.warning("import %s: heartbeat not written (%s)", job_id, type(error))
                    connection.close()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"import-heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)  # a beat stuck in the database must not hold up the run


def _refresh_planner_statistics() -> None:
    from doorstep.areas.models import Area
    from doorstep.core.db import refresh_planner_statistics
    from doorstep.registry.models import Household, Person, RosterCount, RosterParentCount

    # the roster counts the import moved too: the dashboards' header reads them by area
    refresh_planner_statistics(Area, Household, Person, RosterCount, RosterParentCount)


def _fail(job: ImportJob, message: str, *, runner: str, final: bool = False) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING, runner=runner).update(
        status=ImportStatus.FAILED,
        error_message=message,
        failure_is_final=final,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


class ImportStillRunning(Exception):
    """The job's runner is alive (or was heard from too recently to tell)."""


def roster_import_requeue(*, job: ImportJob, user=None, request=None) -> bool:
    """Put a failed or interrupted job back in the queue, to go on after its last committed row.
    False when there is nothing to resume (done, or someone else resumed it first); raises
    ImportStillRunning for a job whose runner is still at work."""
    if job.status not in (ImportStatus.FAILED, ImportStatus.RUNNING) or job.failure_is_final:
        return False  # done, queued, not started, or failed for good: nothing to resume
    if job.status == ImportStatus.RUNNING and not import_job_interrupted(job):
        raise ImportStillRunning(
            _("the import is still running (last progress at row %(row)s)")
            % {"row": f"{job.last_row_committed:,}"}
        )
    # Compare and set: of two people resuming the same job, one puts it back in the queue.
    requeued = ImportJob.objects.filter(
        pk=job.pk,
        status=job.status,
        runner=job.runner,
        heartbeat_at=job.heartbeat_at,
    ).update(status=ImportStatus.QUEUED, error_message="", finished_at=None)
    job.refresh_from_db()
    if requeued:
        audit_write(
            user=user,
            action="import.resume",
            obj=job,
            request=request,
            detail={"after_row": job.last_row_committed},
        )
    return bool(requeued)


def roster_import_resume_queued(*, user, job: ImportJob, request=None) -> bool:
    """The page's "resume": back in the queue, and the background worker takes it."""
    if not roster_import_requeue(job=job, user=user, request=request):
        return False
    from .tasks import run_import_job

    enqueue_on_commit(run_import_job, str(job.pk))
    return True


def roster_import_resume(*, job_id) -> ImportJob:
    """Resume a failed or interrupted job here and now, or run a queued one (the command
    line's --resume)."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportStatus.QUEUED:
        roster_import_requeue(job=job)
    return roster_import_run(job_id=job_id)
