import os
import secrets
import socket
from enum import StrEnum

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
    """A new run of this process, as a job's `runner` names it: host, PID namespace, pid, and a
    nonce of the run (two runs of one process are two runners)."""
    return f"{socket.gethostname()}:{_pid_namespace()}:{os.getpid()}:{secrets.token_hex(4)}"


class Interruption(StrEnum):
    NONE = ""
    PROCESS_GONE = "process_gone"  # its process no longer exists (seen from its own host)
    SILENT = "silent"  # no sign of life for IMPORT_STALE_AFTER_SECONDS


def import_job_interruption(job: ImportJob) -> Interruption:
    """Why a job that says "running" is taken to have no runner any more, or NONE."""
    if job.status != ImportStatus.RUNNING:
        return Interruption.NONE
    parts = job.runner.split(":")
    if len(parts) == 4:
        host, namespace, pid, _nonce = parts
        # The pid means something only in the runner's own process table.
        same_table = host == socket.gethostname() and namespace == _pid_namespace()
        if same_table and pid.isdigit() and not _process_alive(int(pid)):
            return Interruption.PROCESS_GONE
    last_sign = job.heartbeat_at or job.started_at
    if last_sign is None:
        return Interruption.SILENT
    silent = (timezone.now() - last_sign).total_seconds()
    return (
        Interruption.SILENT if silent > settings.IMPORT_STALE_AFTER_SECONDS else Interruption.NONE
    )


def import_job_interrupted(job: ImportJob) -> bool:
    return import_job_interruption(job) != Interruption.NONE


def _pid_namespace() -> str:
    """Which process table this process sees (containers of one host may each have their own)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "-"


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
