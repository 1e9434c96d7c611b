from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from doorstep.api import api
from doorstep.command import views as command_views
from doorstep.core import views as core_views
from doorstep.core.middleware import public_view

urlpatterns = [
    path("", command_views.dashboard, name="home"),  # the role dashboard (issue 12)
    path("healthz", core_views.healthz, name="healthz"),
    path("i18n/setlang/", public_view(set_language), name="set_language"),
    path("accounts/", include("doorstep.accounts.urls")),
    path("roster/", include("doorstep.registry.urls")),
    path("imports/", include("doorstep.imports.urls")),
    path("campaigns/", include("doorstep.screening.urls")),
    path("followup/", include("doorstep.followup.urls")),
    path("checkpoints/", include("doorstep.checkpoints.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
    path("command/", include("doorstep.command.urls")),
    path("bulletins/", include("doorstep.command.urls_public")),
]
