"""Writes of the sweep, one module per concern: campaigns, assignments, visits (idempotent),
self-report. Callers import from `doorstep.screening.services`; the names below are its API."""

from .assignments import assignment_claim, assignment_create
from .campaigns import (
    campaign_close,
    campaign_create,
    campaign_enrol_households,
    open_campaigns_enrol_new_households,
    progress_scope_for_area,
    risk_areas_set,
)
from .errors import VisitConflict, VisitRejected, VisitTaken
from .selfreport import self_report_lookup, self_report_submit, self_report_token_for
from .visits import (
    BatchItemResult,
    VisitInput,
    visit_batch_record,
    visit_body_hash,
    visit_record,
    visit_verify,
)

__all__ = [
    "BatchItemResult",
    "VisitConflict",
    "VisitInput",
    "VisitRejected",
    "VisitTaken",
    "assignment_claim",
    "assignment_create",
    "campaign_close",
    "campaign_create",
    "campaign_enrol_households",
    "open_campaigns_enrol_new_households",
    "progress_scope_for_area",
    "risk_areas_set",
    "self_report_lookup",
    "self_report_submit",
    "self_report_token_for",
    "visit_batch_record",
    "visit_body_hash",
    "visit_record",
    "visit_verify",
]
