"""URL routes of the campaign, coverage, paper and self-report pages (see views/).

Included under /campaigns/ with app_name "screening". The self-report link of a notice slip is
/campaigns/r/<token>/ (public, no login).
"""

from django.urls import path

from .views import campaigns, coverage, paper, selfreport

urlpatterns: list = [
    path("", campaigns.campaign_list_view, name="campaign_list"),
    path("new/", campaigns.campaign_create_view, name="campaign_create"),
    path("risk-areas/", campaigns.risk_areas_view, name="risk_areas"),
    path("r/<str:token>/", selfreport.self_report_view, name="self_report"),
    path("<int:campaign_id>/", campaigns.campaign_detail_view, name="campaign_detail"),
    path("<int:campaign_id>/coverage/", coverage.coverage_view, name="coverage"),
    path(
        "<int:campaign_id>/coverage/export.xlsx",
        coverage.coverage_export,
        name="coverage_export",
    ),
    path("<int:campaign_id>/coverage/list/", coverage.coverage_list_view, name="coverage_list"),
    path(
        "<int:campaign_id>/coverage/list/export.xlsx",
        coverage.coverage_list_export,
        name="coverage_list_export",
    ),
    path(
        "<int:campaign_id>/coverage/persons/",
        coverage.coverage_persons_view,
        name="coverage_persons",
    ),
    path("<int:campaign_id>/flagged/", coverage.flagged_view, name="flagged"),
    path("<int:campaign_id>/flagged/export.xlsx", coverage.flagged_export, name="flagged_export"),
    path(
        "<int:campaign_id>/assignments/<int:assignment_id>/forms/",
        paper.paper_forms_view,
        name="paper_forms",
    ),
    path(
        "<int:campaign_id>/assignments/<int:assignment_id>/slips/",
        paper.notice_slips_view,
        name="notice_slips",
    ),
]
