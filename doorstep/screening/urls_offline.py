"""URL routes of the offline field pages (issue 14): the service worker and the community's
holding list of visits that could not be recorded as sent."""

from django.urls import path

from .views import offline

urlpatterns: list = [
    path("sw.js", offline.service_worker_view, name="service_worker"),
    path("<int:campaign_id>/held/", offline.held_visits_view, name="held_visits"),
    path(
        "<int:campaign_id>/held/<int:held_id>/",
        offline.held_visit_decide_view,
        name="held_visit_decide",
    ),
]
