"""The errors every visit path raises (the API, the pages and the sheets catch them)."""

from django.utils.translation import gettext as _

from ..models import Visit


class VisitConflict(Exception):
    """The client UUID was used before with a different body (HTTP 409)."""

    def __init__(self, visit: Visit):
        super().__init__(_("this client UUID was already used for a different visit"))
        self.visit = visit


class VisitRejected(Exception):
    """The visit cannot be recorded; `message` says why, `field` where."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


class VisitTaken(Exception):
    """The client UUID belongs to a visit that another worker recorded, in a household (or
    campaign) the caller cannot reach (HTTP 409). Nothing of that visit is shown: the UUID the
    caller sent is all the answer is about."""

    def __init__(self):
        super().__init__(_("this visit was already recorded by another worker"))
