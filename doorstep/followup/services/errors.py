"""What the follow-up services refuse with (pages and the API catch these)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from ..models import Check, Facility


class FollowupRefused(Exception):
    """A write that breaks a rule of follow-up: `message` says why, `field` where."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message, self.field = message, field


class CheckConflict(Exception):
    """The client UUID was used before with a different body (HTTP 409)."""

    def __init__(self, check: Check) -> None:
        super().__init__(_("this client UUID was already used for a different check"))
        self.check = check


class FacilityFull(FollowupRefused):
    """A placement into a site with no room: the sites that have room are named."""

    def __init__(self, facility: Facility, with_room: list[Facility]) -> None:
        names = "、".join(f"{f.name}" for f in with_room) or _("none")
        super().__init__(
            _("%(site)s is full; sites with room: %(sites)s")
            % {"site": facility.name, "sites": names},
            "facility",
        )
        self.with_room = with_room
