"""The one place where checkpoints call follow-up (DESIGN.md §7: checkpoints → followup, never
the reverse).

NOT WIRED: the followup app (key persons, monitoring, referrals; /work/helpers/INTERFACE.md) is
not on main yet. Until it is, an accepted handoff creates no key person and a fever opens no
referral; `WIRED` is False and the pages say so beside each accept and each fever. When it
lands, these two functions call `followup.services.person_for_follow_up` + `key_person_add`
(reason risk_area_arrival from the arrival date, source kind "checkpoint", reference
"arrival:<uuid>", the Handoff keeping an FK to the key person) and `referral_open`.
"""

from doorstep.accounts.models import User

from .models import Handoff

WIRED = False


def handoff_accepted(*, user: User, handoff: Handoff) -> None:
    """Called inside the accept's transaction. Does nothing until followup is on main."""
    del user, handoff


def fever_referral(*, user: User, arrival_id: int) -> None:
    """Called right after an arrival with a fever is saved. Does nothing until followup is on
    main."""
    del user, arrival_id
