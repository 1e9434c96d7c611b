from django.apps import AppConfig


class CommandConfig(AppConfig):
    name = "doorstep.command"
    label = "command"
    verbose_name = "Command center"
