"""What the follow-up pages share."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.purpose import purpose_or_answer
from doorstep.core.services import audit_write
from doorstep.screening.exports import write_workbook

from ..models import Monitoring

PAGE_SIZE = 50


def user_of(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # the login-by-default middleware let only users through
    return user


def local_text(value: object) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")  # type: ignore[arg-type]


MONITORING_HEADER = [
    "name",
    "ID number",
    "phone",
    "community",
    "worker",
    "measure",
    "start",
    "end",
    "last check",
    "status",
]


def monitoring_header() -> list[str]:
    return [
        _("Name"),
        _("ID number"),
        _("Phone"),
        _("Community"),
        _("Worker"),
        _("Measure"),
        _("Start"),
        _("End"),
        _("Last check"),
        _("Status"),
    ]


def monitoring_rows(monitorings: Iterable[Monitoring]) -> Iterable[list[object]]:
    for m in monitorings:
        person = m.key_person.person
        worker = m.key_person.worker
        yield [
            person.name,
            mask_id_number(person.shown_id_number),
            mask_phone(person.phone),
            m.key_person.community.name,
            worker.display_name if worker else "",
            m.get_measure_display(),
            m.start_date,
            m.end_date,
            local_text(m.last_check_at),
            m.get_status_display(),
        ]


def export_answer(
    request: HttpRequest,
    *,
    what: str,
    title: str,
    note: str,
    detail: dict[str, object],
    build: Callable[[], tuple[str, list[str], Iterable[list[object]]]],
) -> HttpResponse | FileResponse:
    """GET: the purpose form. POST with a purpose: the masked workbook, audited with it."""
    purpose, answer = purpose_or_answer(
        request,
        title=_("Export") + f": {title}",
        note=note + " " + _("ID numbers and phones are masked in the file."),
    )
    if answer is not None:
        return answer
    sheet, header, rows = build()
    path, count = write_workbook(sheet, header, rows)
    audit_write(
        user=user_of(request),
        action=f"export.{what}",
        object_type="followup",
        object_id=what,
        request=request,
        purpose=purpose,
        detail={**detail, "rows": count},
    )
    handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    os.unlink(path)  # the open handle keeps the data until the response is sent
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return FileResponse(handle, as_attachment=True, filename=f"{what}-{stamp}.xlsx")
