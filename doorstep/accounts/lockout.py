"""Lockout by username and address together, and by username alone at a higher threshold.

django-axes counts failures per lockout parameter (AXES_LOCKOUT_PARAMETERS: the pair, then the
username) and compares the largest count with one limit. Here the username's count is scaled
to that limit, so the pair locks at AXES_FAILURE_LIMIT failures and the username alone at
DOORSTEP_USERNAME_FAILURE_LIMIT: guessing from many addresses is stopped, and a guesser from one
address (whose attempts stop counting once its pair is locked) cannot lock the account for
everybody else.
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.db.models import Sum


class DoorstepAxesHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        pair, username = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        scaled = username * settings.AXES_FAILURE_LIMIT // settings.DOORSTEP_USERNAME_FAILURE_LIMIT
        return max(pair, scaled)

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        """A right password (AXES_RESET_ON_SUCCESS) clears the failures of this username from
        this address only: the owner logging in neither lifts a guesser's lock elsewhere nor
        erases the failures that count towards the username's own threshold."""
        username = get_client_username(request, credentials)
        return self.reset_attempts(username=username, ip_address=request.axes_ip_address)
