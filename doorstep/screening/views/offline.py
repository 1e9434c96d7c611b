"""Offline field pages (issue 14): the service worker script, served at /campaigns/sw.js so
that its scope covers the worker's list and visit forms (static files live under /static/,
whose scope would not)."""

import json

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from doorstep.core.urlaccess import PUBLIC, access

# What the field pages load: kept by the service worker at install, so a page read from the
# cache offline finds its styles and scripts.
OFFLINE_STATIC = (
    "doorstep/doorstep.css",
    "doorstep/htmx-2.0.4.min.js",
    "doorstep/doorstep.js",
    "screening/field.js",
    "screening/list.js",
    "screening/outbox-db.js",
    "screening/offline.js",
)
SCOPE = "/campaigns/"


@access(PUBLIC)  # the script itself: no data; the pages it keeps are fetched with the session
@require_GET
def service_worker_view(request):
    path = finders.find("screening/sw.js")
    with open(path, encoding="utf-8") as source:  # type: ignore[arg-type]
        body = source.read()
    head = "var DOORSTEP_STATIC = {};\nvar DOORSTEP_OUTBOX_DB = {};\n".format(
        json.dumps([static(name) for name in OFFLINE_STATIC]),
        json.dumps(static("screening/outbox-db.js")),
    )
    response = HttpResponse(head + body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = SCOPE
    response["Cache-Control"] = "no-cache"
    return response
