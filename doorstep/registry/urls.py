from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("", views.household_list_view, name="household_list"),
    path("households/<int:household_id>/", views.household_detail_view, name="household_detail"),
    path("households/<int:household_id>/edit/", views.household_edit_view, name="household_edit"),
    path(
        "households/<int:household_id>/persons/new/", views.person_create_view, name="person_create"
    ),
    path("persons/<int:person_id>/edit/", views.person_edit_view, name="person_edit"),
    path(
        "persons/<int:person_id>/reveal/<str:field>/",
        views.person_reveal_view,
        name="person_reveal",
    ),
    path("reconciliations/", views.reconciliations_view, name="reconciliations"),
    path("reconciliations/<int:case_id>/", views.reconciliation_view, name="reconciliation"),
]
