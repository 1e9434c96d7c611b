"""Self-report: the code on a notice slip, and what a household answers through it."""

import secrets

from django.db.models import F
from django.http import Http404
from django.utils import timezone

from doorstep.registry.models import Person

from ..models import Campaign, SelfReportToken, Visit, VisitSource
from .visits import VisitInput, visit_record


def self_report_token_for(*, campaign: Campaign, household_id: int) -> SelfReportToken:
    token, _created = SelfReportToken.objects.get_or_create(
        campaign=campaign,
        household_id=household_id,
        defaults={"token": secrets.token_urlsafe(16), "expires_at": campaign.deadline},
    )
    return token


def self_report_lookup(token: str) -> SelfReportToken:
    """The token if it is valid now; Http404 for unknown, expired or closed (all look alike)."""
    row = (
        SelfReportToken.objects.select_related("campaign", "household").filter(token=token).first()
    )
    now = timezone.now()
    if (
        row is None
        or row.expires_at < now
        or not row.campaign.is_open
        or not row.campaign.self_report_enabled
    ):
        raise Http404
    return row


def self_report_submit(*, token: str, visit: VisitInput) -> tuple[Visit, bool]:
    """A household answers through the code on its notice slip: the visit is stored as
    "self-reported, to verify" and never closes the household by itself."""
    row = self_report_lookup(token)
    if visit.household_id != row.household_id:
        raise Http404
    visit.source = VisitSource.SELF_REPORT
    members = set(Person.objects.filter(household_id=row.household_id).values_list("pk", flat=True))
    if any(c.person_id is not None and c.person_id not in members for c in visit.person_checks):
        raise Http404
    result = visit_record(user=None, campaign=row.campaign, visit=visit, token=row)
    if result[1]:  # a repeated submission is not another use
        SelfReportToken.objects.filter(pk=row.pk).update(used_count=F("used_count") + 1)
    return result
