"""What every page's header needs to know about the person looking at it."""

from django.http import HttpRequest

from .selectors import two_factor_required, two_factor_verified


def two_factor_state(request: HttpRequest) -> dict:
    """`two_factor_pending`: the password was right but the code is still owed. Such a person is
    shown no menu (only who they are and how to log out): the pages behind it would send them back
    to the code anyway, and the menu itself tells what the account may do."""
    user = getattr(request, "user", None)
    pending = bool(user and two_factor_required(user) and not two_factor_verified(user))
    return {"two_factor_pending": pending}
