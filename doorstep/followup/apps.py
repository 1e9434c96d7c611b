from django.apps import AppConfig


class FollowupConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "doorstep.followup"
    verbose_name = "Follow-up"
