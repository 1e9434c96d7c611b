import os

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from doorstep.areas.selectors import areas_visible_to
from doorstep.core.purpose import purpose_or_answer
from doorstep.core.services import audit_write
from doorstep.core.sheets.reading import UnreadableFile
from doorstep.core.uploads import refuse_cut_off_upload

from . import services
from .columns import FIELD_LABELS
from .models import ImportStatus
from .preview import PREVIEW_COLUMNS, remasked
from .reports import rejections_workbook
from .selectors import (
    Interruption,
    access_import_job,
    import_job_interruption,
    import_jobs_visible_to,
)


class RosterUploadForm(forms.Form):
    area = forms.ChoiceField(label=gettext_lazy("import into area"))
    file = forms.FileField(label=gettext_lazy("resident list (XLSX, XLS or CSV)"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        areas = areas_visible_to(user).filter(level__lte=4).order_by("path")[:2000]
        self.fields["area"].choices = [
            (a.code, "\u3000" * (a.level - 1) + f"{a.name} ({a.code})") for a in areas
        ]


def import_list_view(request):
    if not request.user.manages_roster:
        raise PermissionDenied
    jobs = import_jobs_visible_to(request.user).select_related(
        "area", "area__parent", "created_by"
    )[:50]
    return render(request, "imports/import_list.html", {"jobs": jobs})


def roster_upload_view(request):
    if not request.user.manages_roster:
        raise PermissionDenied
    form = RosterUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        user=request.user,
    )
    if request.method == "POST" and refuse_cut_off_upload(request, form):
        return render(request, "imports/roster_upload.html", {"form": form}, status=413)
    if request.method == "POST" and form.is_valid():
        area = areas_visible_to(request.user).filter(code=form.cleaned_data["area"]).first()
        upload = form.cleaned_data["file"]
        try:
            job = services.roster_import_create(
                user=request.user,
                area=area,
                stream=upload,
                original_name=upload.name,
                request=request,
            )
            return redirect("imports:job", job_id=job.pk)
        except (UnreadableFile, ValidationError) as error:
            problems = error.messages if isinstance(error, ValidationError) else [str(error)]
            for message in problems:
                form.add_error("file", message)
    return render(request, "imports/roster_upload.html", {"form": form})


def job_view(request, job_id):
    job = access_import_job(request.user, job_id)
    if job.status != ImportStatus.UPLOADED:
        return render(request, "imports/job_progress.html", _progress_context(job))
    # Taken and masked at upload; masked again for the mapping as it stands now.
    mapping = {int(i): f for i, f in job.mapping.items()}
    preview = remasked(job.preview, mapping)
    columns = [
        {"index": i, "header": h, "field": job.mapping.get(str(i), "")}
        for i, h in enumerate(job.header)
    ]
    return render(
        request,
        "imports/job_mapping.html",
        {
            "job": job,
            "columns": columns,
            "preview": preview,
            "preview_columns": columns[:PREVIEW_COLUMNS],
            "fields": list(FIELD_LABELS.items()),
            "problems": services.mapping_problems(job),
        },
    )


@require_POST
def job_start_view(request, job_id):
    job = access_import_job(request.user, job_id)
    mapping = {}
    for i in range(len(job.header)):
        if field := request.POST.get(f"column_{i}", ""):
            mapping[i] = field
    try:
        if job.status == ImportStatus.UPLOADED:
            services.roster_import_set_mapping(user=request.user, job=job, mapping=mapping)
            services.roster_import_start(user=request.user, job=job)
    except ValidationError as error:
        return render(
            request,
            "imports/job_mapping.html",
            {
                "job": job,
                "columns": [
                    {"index": i, "header": h, "field": mapping.get(i, "")}
                    for i, h in enumerate(job.header)
                ],
                "preview": [],
                "fields": list(FIELD_LABELS.items()),
                "problems": error.messages,
            },
            status=400,
        )
    return redirect("imports:job", job_id=job.pk)


def job_progress_partial(request, job_id):
    job = access_import_job(request.user, job_id)
    return render(request, "imports/_job_progress.html", _progress_context(job))


def _progress_context(job) -> dict:
    interruption = import_job_interruption(job)
    return {
        "job": job,
        "interrupted": bool(interruption),
        "process_gone": interruption == Interruption.PROCESS_GONE,
        "silent_minutes": max(1, settings.IMPORT_STALE_AFTER_SECONDS // 60),
        "resumable": (bool(interruption) or job.status == ImportStatus.FAILED)
        and not job.failure_is_final,
    }


@require_POST
def job_resume_view(request, job_id):
    """Go on after the last committed row of a failed or interrupted import."""
    job = access_import_job(request.user, job_id)
    try:
        if not services.roster_import_resume_queued(user=request.user, job=job, request=request):
            messages.info(request, _("There was nothing to resume: the import is done or queued."))
    except services.ImportStillRunning as running:
        messages.error(request, str(running))
    return redirect("imports:job", job_id=job.pk)


def job_rejections_download(request, job_id):
    """The rejected rows with their original values, for the uploader to correct and upload
    again. They are unmasked (that is how they get corrected), so only the person who uploaded
    the file may download them, after stating the purpose."""
    job = access_import_job(request.user, job_id)
    if job.created_by_id != request.user.pk:
        raise PermissionDenied(_("Only the person who uploaded the file may download its rows."))
    purpose, answer = purpose_or_answer(request, title=_("Download rejected rows"))
    if answer is not None:
        return answer
    audit_write(
        user=request.user,
        action="import.rejections.export",
        obj=job,
        request=request,
        purpose=purpose,
        detail={"rows": job.rejected_count},
    )
    path = rejections_workbook(job)
    handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    os.unlink(path)  # the open handle keeps the data until the response is sent
    name = _("rejected-rows") + f"-{job.original_name.rsplit('.', 1)[0]}.xlsx"
    return FileResponse(handle, as_attachment=True, filename=name)
