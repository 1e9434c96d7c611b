from django.core.management.base import BaseCommand

from doorstep.accounts.models import User
from doorstep.accounts.selectors import two_factor_required
from doorstep.demo.services import DEMO_PASSWORD

DEMO_USERNAMES = [
    "command",
    "street",
    "community",
    "worker",
    "checkpoint",
    "clinic",
    "institution",
    "admin",
]


class Command(BaseCommand):
    help = "Print the demo logins (one per role) of an already loaded demo district."

    def handle(self, *args, **options):
        users = {
            u.username: u
            for u in User.objects.filter(username__in=DEMO_USERNAMES).select_related(
                "jurisdiction_area"
            )
        }
        self.stdout.write(f"demo logins (password for all: {DEMO_PASSWORD}):")
        for username in DEMO_USERNAMES:
            if user := users.get(username):
                area = user.jurisdiction_area.name if user.jurisdiction_area else "-"
                self.stdout.write(f"  {username:<12} {user.get_role_display():<36} {area}")
        needs_code = [u for u in DEMO_USERNAMES if u in users and two_factor_required(users[u])]
        if needs_code:
            self.stdout.write(
                f"  {' and '.join(needs_code)} also need a code: the first login shows a QR code"
                " for an authenticator app, later logins ask for its 6 digits."
            )
