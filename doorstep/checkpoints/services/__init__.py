"""Writes of the checkpoints, one module per concern: a vehicle and its occupants recorded
(idempotent by client UUID, each occupant on its own: `inputs`, `intake` checks them before any
write, `passages` records the vehicles, `arrivals` the occupants, `referrals` a fever's referral),
and the handoff loop (`handoffs`: send, join, accept, not found, re-route, route by hand from
the unmatched queue). Callers import from `doorstep.checkpoints.services`; the names below are
its API.

Every refusal writes nothing of what it refuses; a vehicle whose occupant is refused keeps its
other occupants. Followup is called through followup_link.py, and only from this package.
"""

from .errors import HandoffClosed, HandoffRejected, PassageConflict, PassageRejected
from .handoffs import (
    handoff_accept,
    handoff_not_found,
    handoff_reroute,
    person_key,
    unmatched_route,
)
from .inputs import (
    OccupantInput,
    OccupantResult,
    PassageInput,
    PassageResult,
    body_hash,
    occupants_from,
)
from .passages import passage_record, passages_record

__all__ = [
    "HandoffClosed",
    "HandoffRejected",
    "OccupantInput",
    "OccupantResult",
    "PassageConflict",
    "PassageInput",
    "PassageRejected",
    "PassageResult",
    "body_hash",
    "handoff_accept",
    "handoff_not_found",
    "handoff_reroute",
    "occupants_from",
    "passage_record",
    "passages_record",
    "person_key",
    "unmatched_route",
]
