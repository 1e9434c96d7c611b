from django.urls import path

from doorstep.screening.views.offline import service_worker_view

from .views import clinic, counts, field, holding, keypersons, selfcheck

app_name = "followup"
urlpatterns = [
    # The offline service worker for the follow-up pages (today, the check forms): the field
    # pages' own script, with the scope of these pages (issue 14, point 7).
    path("sw.js", service_worker_view, {"scope": "/followup/"}, name="service_worker"),
    path("today/", field.today_view, name="today"),
    path("key-persons/<int:key_person_id>/check/", field.check_view, name="check"),
    path("paper/", field.paper_view, name="paper"),
    path("paper/sheet/", field.check_sheet_view, name="check_sheet"),
    path("key-persons/", keypersons.key_person_list_view, name="key_persons"),
    path("key-persons/export/", keypersons.key_person_export_view, name="key_persons_export"),
    path("key-persons/new/", keypersons.key_person_create_view, name="key_person_create"),
    path("key-persons/<int:key_person_id>/", keypersons.key_person_detail_view, name="key_person"),
    path(
        "key-persons/<int:key_person_id>/action/",
        keypersons.key_person_action_view,
        name="key_person_action",
    ),
    path(
        "key-persons/<int:key_person_id>/release-slip/",
        keypersons.release_slip_view,
        name="release_slip",
    ),
    path(
        "key-persons/<int:key_person_id>/self-check-card/",
        keypersons.self_check_card_view,
        name="self_check_card",
    ),
    path("from-flags/", keypersons.from_flags_view, name="from_flags"),
    path("duplicates/", keypersons.duplicates_view, name="duplicates"),
    # issue 14, point 7: checks recorded offline for a key person who changed hands meanwhile
    path("held/", holding.held_checks_view, name="held_checks"),
    path("held/<int:held_id>/", holding.held_check_decide_view, name="held_check_decide"),
    path("settings/", keypersons.settings_view, name="settings"),
    path("referrals/", clinic.referrals_view, name="referrals"),
    path("referrals/<int:referral_id>/", clinic.referral_action_view, name="referral_action"),
    path("facilities/", clinic.facilities_view, name="facilities"),
    path("facilities/<int:facility_id>/", clinic.facility_view, name="facility"),
    path("counts/", counts.counts_view, name="counts"),
    path("counts/list/", counts.count_list_view, name="count_list"),
    path("counts/export/", counts.count_export_view, name="count_export"),
    path("self/<str:token>/", selfcheck.self_check_view, name="self_check"),
]
