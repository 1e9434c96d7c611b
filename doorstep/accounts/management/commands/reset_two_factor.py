from django.core.management.base import BaseCommand, CommandError

from doorstep.accounts.managed import two_factor_reset
from doorstep.accounts.models import User


class Command(BaseCommand):
    help = (
        "A lost phone: remove a user's authenticator (the next login enrols a new one) and "
        "revoke every API token made with a code from it."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username}", returncode=2)
        removed = two_factor_reset(user=user, actor=None)
        self.stdout.write(f"{username}: {removed} authenticator(s) removed, tokens revoked")
