from django.urls import path

from . import views, views_bulletins

app_name = "command"

urlpatterns = [
    path("brief/", views.brief_page, name="brief"),
    path("brief/list/", views.brief_list, name="brief_list"),
    path("brief/export/", views.brief_export, name="brief_export"),
    path("brief/print/", views.brief_print, name="brief_print"),
    path("daily/", views.daily_table, name="daily"),
    path("bulletins/", views_bulletins.bulletin_list, name="bulletins"),
    path("bulletins/<int:bulletin_id>/", views_bulletins.bulletin_detail, name="bulletin"),
    path("exchange/dhis2.json", views.exchange_dhis2, name="exchange_dhis2"),
    path("exchange/adx.xml", views.exchange_adx, name="exchange_adx"),
    path("exchange/fhir-beds.json", views.exchange_fhir_beds, name="exchange_fhir_beds"),
]
