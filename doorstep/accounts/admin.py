from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class DoorstepUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Doorstep", {"fields": ("role", "jurisdiction_area", "full_name", "phone")}),
    )
    list_display = ("username", "full_name", "role", "jurisdiction_area", "is_active")
    list_filter = ("role", "is_active")
    raw_id_fields = ("jurisdiction_area",)
