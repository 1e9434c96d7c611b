"""URL routes of the field pages (see views/): assignment, the worker's list and visit form,
evening entry, and the per-assignment visit sheet."""

from django.urls import path

from .views import assign, entry, field

urlpatterns: list = [
    path("<int:campaign_id>/assign/", assign.assign_view, name="assign"),
    path("<int:campaign_id>/assign/claim/", assign.claim_view, name="assign_claim"),
    path("<int:campaign_id>/my/", field.field_list_view, name="field_list"),
    path(
        "<int:campaign_id>/households/<int:household_id>/visit/",
        field.visit_view,
        name="visit",
    ),
    path(
        "<int:campaign_id>/households/<int:household_id>/verify/<int:visit_id>/",
        field.visit_verify_view,
        name="visit_verify",
    ),
    path("<int:campaign_id>/entry/", entry.entry_view, name="entry"),
    path("<int:campaign_id>/entry/household/", entry.entry_household_view, name="entry_household"),
    path(
        "<int:campaign_id>/assignments/<int:assignment_id>/template.xlsx",
        assign.assignment_template_view,
        name="assignment_template",
    ),
    path(
        "<int:campaign_id>/assignments/<int:assignment_id>/upload/",
        assign.assignment_upload_view,
        name="assignment_upload",
    ),
    path(
        "<int:campaign_id>/assignments/<int:assignment_id>/upload/report.xlsx",
        assign.assignment_upload_report_view,
        name="assignment_upload_report",
    ),
]
