from django.urls import path

from . import views

app_name = "imports"
urlpatterns = [
    path("", views.import_list_view, name="list"),
    path("roster/new/", views.roster_upload_view, name="roster_upload"),
    path("<uuid:job_id>/", views.job_view, name="job"),
    path("<uuid:job_id>/start/", views.job_start_view, name="job_start"),
    path("<uuid:job_id>/progress/", views.job_progress_partial, name="job_progress"),
    path("<uuid:job_id>/resume/", views.job_resume_view, name="job_resume"),
    path("<uuid:job_id>/rejections.xlsx", views.job_rejections_download, name="job_rejections"),
]
