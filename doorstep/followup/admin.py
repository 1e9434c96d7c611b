"""Staff set up facilities and link clinic accounts to theirs here; neither holds personal data
(who is placed where is read through the scoped pages, never the admin)."""

from django.contrib import admin

from .models import ClinicStaffing, Facility


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin[Facility]):
    list_display = ("name", "kind", "area", "capacity")
    list_filter = ("kind",)
    search_fields = ("name",)
    raw_id_fields = ("area",)


@admin.register(ClinicStaffing)
class ClinicStaffingAdmin(admin.ModelAdmin[ClinicStaffing]):
    list_display = ("user", "facility")
    raw_id_fields = ("user", "facility")
