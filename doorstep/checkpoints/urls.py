from django.urls import path

from . import views

app_name = "checkpoints"
urlpatterns = [
    path("", views.home_view, name="home"),
    path("<int:checkpoint_id>/entry/", views.entry_view, name="entry"),
    path("arrivals/", views.arrivals_view, name="arrivals"),
    path("arrivals/<int:arrival_id>/", views.arrival_view, name="arrival"),
    path("handoffs/", views.inbox_view, name="inbox"),
    path("handoffs/<int:handoff_id>/", views.handoff_view, name="handoff"),
    path("unmatched/", views.unmatched_view, name="unmatched"),
    path("handed-out.xlsx", views.handed_out_export, name="handed_out_export"),
]
