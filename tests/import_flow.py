"""The roster import through its pages: upload, column check as proposed, start (the worker's
task run at once through django_capture_on_commit_callbacks)."""

from django.urls import reverse

from doorstep.imports.models import ImportJob


def upload_and_start(client, path, area_code: str, capture_on_commit) -> ImportJob:
    with open(path, "rb") as handle:
        client.post(reverse("imports:roster_upload"), {"area": area_code, "file": handle})
    job = ImportJob.objects.get()
    with capture_on_commit(execute=True):
        client.post(
            reverse("imports:job_start", args=[job.pk]),
            {f"column_{i}": f for i, f in job.mapping.items()},
        )
    job.refresh_from_db()
    return job
