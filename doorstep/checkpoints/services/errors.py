"""What the checkpoint services refuse with (the API and the pages catch these)."""

from django.utils.translation import gettext as _

from ..models import Handoff


class PassageConflict(Exception):
    """The client UUID was used before with another body (HTTP 409)."""

    def __init__(self, what: str = "vehicle"):
        super().__init__(
            _("this client UUID was already used for a different %(what)s")
            % {"what": _("vehicle") if what == "vehicle" else _("occupant")}
        )


class PassageRejected(Exception):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


class HandoffClosed(Exception):
    """The handoff is no longer pending (someone else answered first) (HTTP 409)."""

    def __init__(self, handoff: Handoff):
        super().__init__(
            _("this handoff is already closed: %(status)s")
            % {"status": handoff.get_status_display()}
        )
        self.handoff = handoff


class HandoffRejected(Exception):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field
