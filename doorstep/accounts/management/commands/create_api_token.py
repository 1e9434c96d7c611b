from django.core.management.base import BaseCommand, CommandError

from doorstep.accounts.models import User
from doorstep.accounts.services import api_token_create


class Command(BaseCommand):
    help = "Create an API bearer token for a user and print it once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="device")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username}", returncode=2)
        _token, key = api_token_create(user=user, name=name)
        self.stdout.write(key)
