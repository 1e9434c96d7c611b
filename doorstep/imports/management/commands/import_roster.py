import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from doorstep.areas.models import Area
from doorstep.core.sheets.reading import UnreadableFile
from doorstep.imports.models import ImportJob, ImportStatus
from doorstep.imports.services import (
    ImportStillRunning,
    roster_import_create,
    roster_import_resume,
    roster_import_run,
    roster_import_start,
)


class Command(BaseCommand):
    help = (
        "Import a resident list (XLSX, XLS or CSV) into an area. Exit 0 when every row was "
        "accounted for, 1 when some rows were rejected, 2 when nothing could be imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--area", help="area code to import into")
        parser.add_argument("--user", help="import as this user (checks their jurisdiction)")
        parser.add_argument("--resume", metavar="JOB_ID", help="resume an interrupted job")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        if options["resume"]:
            try:
                job = roster_import_resume(job_id=options["resume"])
            except (ImportJob.DoesNotExist, ValidationError):
                raise CommandError(f"no import job {options['resume']}", returncode=2) from None
            except ImportStillRunning as running:
                raise CommandError(f"job {options['resume']}: {running}", returncode=2) from None
            if job.status == ImportStatus.RUNNING:  # resumed by someone else a moment ago
                raise CommandError(f"job {job.pk} is running under {job.runner}", returncode=2)
            return self._finish(job)
        if not options["file"] or not options["area"]:
            raise CommandError("FILE and --area are required", returncode=2)
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"文件不存在: {path}", returncode=2)
        try:
            area = Area.objects.get(code=options["area"])
        except Area.DoesNotExist:
            raise CommandError(f"区域代码 {options['area']} 不存在", returncode=2) from None
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"用户 {options['user']} 不存在", returncode=2)
        try:
            with open(path, "rb") as stream:
                job = roster_import_create(
                    user=user, area=area, stream=stream, original_name=path.name
                )
            roster_import_start(user=user, job=job, enqueue=False)
        except UnreadableFile as error:
            raise CommandError(f"{path.name}: {error}", returncode=2) from None
        except ValidationError as error:
            raise CommandError(f"{path.name}: {'; '.join(error.messages)}", returncode=2) from None
        except PermissionDenied as error:
            raise CommandError(str(error), returncode=2) from None
        self.stderr.write(
            f"job {job.pk}: header on row {job.header_row}, columns "
            + ", ".join(f"{job.header[int(i)]}→{f}" for i, f in job.mapping.items())
        )
        bar = None
        if not options["no_progress"]:
            bar = tqdm(total=None, unit="row", file=sys.stderr, dynamic_ncols=True)

        def progress(j):
            if bar is not None:
                bar.total = j.rows_total or None
                bar.n = j.rows_done
                bar.refresh()

        job = roster_import_run(job_id=job.pk, on_progress=progress)
        if bar is not None:
            bar.close()
        return self._finish(job)

    def _finish(self, job):
        self.stdout.write(f"{job.status} {job.summary_line()} job={job.pk}")
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.error_message, returncode=2)
        if job.rejected_count:
            for rejection in job.rejections.order_by("row_number")[:20]:
                self.stderr.write(f"row {rejection.row_number:,}: {rejection.reason}")
            if job.rejected_count > 20:
                self.stderr.write(f"... {job.rejected_count - 20} more rejected rows")
            sys.exit(1)
