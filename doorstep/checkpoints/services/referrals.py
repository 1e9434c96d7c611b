"""A fever's referral, opened in follow-up (through followup_link.py) once the arrival is
saved: at the checkpoint's record, or when command staff route an unmatched arrival."""

from django.http import HttpRequest

from doorstep.accounts.models import User
from doorstep.core.services import audit_write
from doorstep.followup.services import FollowupRefused

from .. import followup_link


def _fever_referral(user: User, arrival_id: int, request: HttpRequest | None) -> bool:
    """A fever opens a referral at once (follow-up). The arrival is saved whatever follow-up
    answers: a refusal is audited and the arrival shows no referral."""
    try:
        return followup_link.fever_referral(user=user, arrival_id=arrival_id) is not None
    except FollowupRefused as refused:
        audit_write(
            user=user,
            action="arrival.referral_refused",
            object_type="checkpoints.arrival",
            object_id=arrival_id,
            request=request,
            detail={"field": refused.field},
        )
        return False
