from django.contrib import admin

from .models import Area


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    raw_id_fields = ("parent",)
    readonly_fields = ("path",)

    def get_readonly_fields(self, request, obj=None):
        # Code and parent make up the path that every household below relies on.
        return ("path", "code", "parent", "level") if obj else ("path",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.path = Area.path_for(parent=obj.parent, code=obj.code)
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False  # households and users hang below areas
