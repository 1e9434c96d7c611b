import os
import socket

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from doorstep.core.db import prefix_q

from .models import ImportJob, ImportStatus


def import_jobs_visible_to(user) -> QuerySet[ImportJob]:
    """Jobs into areas within the user's jurisdiction, for the roles that manage the roster."""
    if not user.is_authenticated or not user.is_active or not user.manages_roster:
        return ImportJob.objects.none()
    return ImportJob.objects.filter(prefix_q("area__path", user.jurisdiction_area.path))


def access_import_job(user, job_id) -> ImportJob:
    try:
        return (
            import_jobs_visible_to(user)
            .select_related("area", "area__parent", "created_by")
            .get(pk=job_id)
        )
    except (ImportJob.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def import_runner_id() -> str:
    """This process, as a job's `runner` names it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def import_job_interrupted(job: ImportJob) -> bool:
    """A job that says "running" but whose runner is gone: its process no longer exists on this
    host, or it has given no sign of life (a committed batch) for IMPORT_STALE_AFTER_SECONDS."""
    if job.status != ImportStatus.RUNNING:
        return False
    host, _, pid = job.runner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _process_alive(int(pid)):
        return True
    last_sign = job.heartbeat_at or job.started_at
    if last_sign is None:
        return True
    silent = (timezone.now() - last_sign).total_seconds()
    return silent > settings.IMPORT_STALE_AFTER_SECONDS


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
