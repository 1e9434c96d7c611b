"""An import job: one uploaded file on its way into the roster (or the area tree).

Counters and the last committed row move in the same transaction as each batch of rows, so a job
killed half-way shows exactly what was written and resumes after it.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    ROSTER = "roster", _("roster")
    AREAS = "areas", _("areas")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("waiting for column check")
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class RowOutcome(models.TextChoices):
    CREATED = "created", _("created")
    UPDATED = "updated", _("updated")
    UNCHANGED = "unchanged", _("unchanged")
    REJECTED = "rejected", _("rejected")


class ImportJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    area = models.ForeignKey("areas.Area", on_delete=models.PROTECT, null=True, related_name="+")
    original_name = models.CharField(_("file"), max_length=255)
    stored_path = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64)
    file_size = models.BigIntegerField(default=0)
    file_format = models.CharField(max_length=8, blank=True)
    header_row = models.PositiveIntegerField(default=1)  # 1-based row number in the file
    header = models.JSONField(default=list)  # the header cells, as text
    mapping = models.JSONField(default=dict)  # {"column index": "field"}
    # The first rows after the header as the column check shows them: taken once at upload,
    # bounded and masked (imports/preview.py), so the page never parses the file again.
    preview = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    last_row_committed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    # Failed for a reason of the file itself (refused by the reader's limits, damaged): resuming
    # would only fail again, so the job is not offered for it.
    failure_is_final = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Who runs it (host:pid-namespace:pid:nonce, one per run) and its last sign of life (each
    # committed batch, and a heartbeat thread of the run): a job that says "running" after its
    # process died is told apart from one still at work.
    runner = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["area", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.original_name}"

    @property
    def progress_percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, int(100 * self.rows_done / self.rows_total))

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)

    def summary_line(self) -> str:
        return (
            f"rows={self.rows_done} created={self.created_count} updated={self.updated_count} "
            f"unchanged={self.unchanged_count} rejected={self.rejected_count}"
        )


class ImportRejection(models.Model):
    """A row that was not imported: its number in the file, its cells as read, and why."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    row_number = models.PositiveIntegerField()
    values = models.JSONField(default=list)
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["row_number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "row_number"], name="one_rejection_per_row")
        ]

    def __str__(self) -> str:
        return f"row {self.row_number}: {self.reason}"
