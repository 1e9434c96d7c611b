from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "doorstep.core"
    label = "core"
