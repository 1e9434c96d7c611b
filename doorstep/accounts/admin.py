from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from .managed import user_deactivated
from .models import RevokeReason, User
from .tokens import api_tokens_revoke_all


@admin.register(User)
class DoorstepUserAdmin(UserAdmin):
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Doorstep", {"fields": ("role", "jurisdiction_area", "full_name", "phone")}),
    )
    list_display = ("username", "full_name", "role", "jurisdiction_area", "is_active")
    list_filter = ("role", "is_active")
    raw_id_fields = ("jurisdiction_area",)

    def save_model(self, request, obj, form, change):
        # A password set here revokes the tokens by itself (RevokeTokensOnPasswordChange).
        deactivated = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if deactivated:
            user_deactivated(user=obj, actor=request.user, request=request)


# The authenticator admin is where staff reset a lost phone: removing or changing a device
# takes the tokens made with its codes along.
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class DoorstepTOTPDeviceAdmin(TOTPDeviceAdmin):
    def _revoke(self, request, device):
        api_tokens_revoke_all(
            user=device.user,
            reason=RevokeReason.AUTHENTICATOR,
            actor=request.user,
            request=request,
            second_factor_only=True,
        )

    def save_model(self, request, obj, form, change):
        if change and form.changed_data:
            self._revoke(request, obj)
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj):
        self._revoke(request, obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for device in queryset.select_related("user"):
            self._revoke(request, device)
        super().delete_queryset(request, queryset)
