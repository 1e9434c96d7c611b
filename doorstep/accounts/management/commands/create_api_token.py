import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from doorstep.accounts.models import User
from doorstep.accounts.selectors import two_factor_required
from doorstep.accounts.services import (
    TWO_FACTOR_TOKEN_MAX_DAYS,
    ApiTokenRefused,
    api_token_create,
)


class Command(BaseCommand):
    help = (
        "Create an API bearer token for a user and print it once. A user who logs in with two "
        "factors (command role, staff) must give a current code from their authenticator, and "
        f"the token expires after at most {TWO_FACTOR_TOKEN_MAX_DAYS} days."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="device")
        parser.add_argument(
            "--code", default="", help="the six digits the user's authenticator shows now"
        )
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"expire after this many days (two-factor users: at most, and by default, "
            f"{TWO_FACTOR_TOKEN_MAX_DAYS})",
        )

    def handle(self, *args, username, name, code, days, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username}", returncode=2)
        if two_factor_required(user) and not code and sys.stdin.isatty():
            code = input(f"code from {username}'s authenticator: ").strip()
        try:
            token, key = api_token_create(user=user, name=name, code=code, days=days)
        except ApiTokenRefused as refused:
            raise CommandError(f"{username}: {refused.message}", returncode=2) from None
        self.stdout.write(key)
        if token.expires_at is not None:
            self.stderr.write(f"expires {timezone.localtime(token.expires_at):%Y-%m-%d %H:%M}")
