"""Writes of follow-up, one module per concern. Callers (the sweep, checkpoints, institutions)
import from `doorstep.followup.services`; the names below are its API (INTERFACE.md)."""

from .checks import (
    CheckBatchItem,
    CheckInput,
    CheckResult,
    check_batch_record,
    check_input_validate,
    check_record,
    check_record_for,
    self_check_lookup,
    self_check_token_for,
)
from .duplicates import duplicate_decide
from .errors import CheckConflict, FacilityFull, FollowupRefused
from .facilities import placement_create, placement_end, with_occupancy
from .keypersons import (
    ReasonInput,
    SourceInput,
    end_date_of,
    key_person_add,
    person_for_follow_up,
    reason_days,
)
from .monitoring import (
    key_person_reassign,
    monitoring_extend,
    monitoring_measure_set,
    monitoring_release,
    reason_length_set,
    release_blockers,
    transfer_accept,
    transfer_ask,
)
from .referrals import referral_arrive, referral_dispatch, referral_open, referral_outcome_record

__all__ = [
    "CheckBatchItem",
    "CheckConflict",
    "CheckInput",
    "CheckResult",
    "FacilityFull",
    "FollowupRefused",
    "ReasonInput",
    "SourceInput",
    "check_batch_record",
    "check_input_validate",
    "check_record",
    "check_record_for",
    "duplicate_decide",
    "end_date_of",
    "key_person_add",
    "key_person_reassign",
    "monitoring_extend",
    "monitoring_measure_set",
    "monitoring_release",
    "person_for_follow_up",
    "placement_create",
    "placement_end",
    "reason_days",
    "reason_length_set",
    "referral_arrive",
    "referral_dispatch",
    "referral_open",
    "referral_outcome_record",
    "release_blockers",
    "self_check_lookup",
    "self_check_token_for",
    "transfer_accept",
    "transfer_ask",
    "with_occupancy",
]
