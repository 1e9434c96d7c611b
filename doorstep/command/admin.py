"""The mapping tables of the exports for the level above (no personal data)."""

from django.contrib import admin

from .models import DataElementCode, OrgUnitCode


@admin.register(DataElementCode)
class DataElementCodeAdmin(admin.ModelAdmin[DataElementCode]):
    list_display = ("figure", "code", "name")


@admin.register(OrgUnitCode)
class OrgUnitCodeAdmin(admin.ModelAdmin[OrgUnitCode]):
    list_display = ("area", "code")
    raw_id_fields = ("area",)
