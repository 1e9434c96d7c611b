"""The person's own no-login link (or QR): valid only for that person, only while the
monitoring runs; anything else is a 404 like a link that never existed."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect

from doorstep.core.urlaccess import PUBLIC, access
from doorstep.screening.rules import SYMPTOMS

from .. import services
from ..models import CheckMethod, CheckOutcome


@access(PUBLIC)
@csrf_protect
def self_check_view(request: HttpRequest, token: str) -> HttpResponse:
    monitoring = services.self_check_lookup(token)
    error, done = "", False
    if request.method == "POST":
        try:
            client_uuid = uuid.UUID(request.POST.get("client_uuid", ""))
        except ValueError:
            client_uuid = uuid.uuid4()
        data = services.CheckInput(
            client_uuid=client_uuid,
            measured_at=timezone.now(),
            outcome=CheckOutcome.MEASURED,
            method=CheckMethod.SELF,
            temperature=request.POST.get("temperature", ""),
            symptoms=request.POST.getlist("symptoms"),
        )
        try:
            services.check_record(
                user=None, key_person=monitoring.key_person, data=data, request=request
            )
            done = True
        except services.FollowupRefused as refused:
            error = refused.message
        except services.CheckConflict:
            error = _("this form was already sent with other answers")
    first_name = monitoring.key_person.person.name[:1]
    context = {
        "first_name": first_name,
        "end_date": monitoring.end_date,
        "symptoms": list(SYMPTOMS.items()),
        "client_uuid": uuid.uuid4(),
        "error": error,
        "done": done,
    }
    return render(request, "followup/self_check.html", context, status=422 if error else 200)
