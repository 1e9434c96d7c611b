"""Demo data for the sweep, so that the first login shows a living campaign: an open dragnet
over the district, the demo worker holding the first grid, and households of that grid in every
state (screened, screened with a person flagged — a fever, who became a key person with a
referral opened by the visit itself, and a return from a risk area, waiting on follow-up's
"from the sweep's flags" list —, nobody home with a revisit due, refused,
escalated after three failed knocks), one visit recorded offline held for the secretary's
decision, the rest still to visit."""

import datetime
import uuid
from decimal import Decimal

from django.utils import timezone

from doorstep.accounts.models import User
from doorstep.areas.models import Area
from doorstep.registry.models import PersonStatus
from doorstep.screening.models import Campaign, HouseholdProgress, RiskArea, Visit
from doorstep.screening.outbox import OutboxRecord, outbox_record
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import (
    VisitInput,
    assignment_create,
    campaign_create,
    visit_record,
)

DEMO_CAMPAIGN = "演示：全区拉网式摸排"
# The command center's demo (issue 12) opens a district sweep first: the worker's states go there,
# so that the demo has one living campaign, not two.
COMMAND_DEMO_CAMPAIGN = "全区拉网式摸排（演示）"
# Stable client UUIDs: loading the demo twice records nothing new.
_NAMESPACE = uuid.UUID("0d3b7f5e-5c1a-4a8e-9b61-7f0c2e4d9a10")


def _visit(campaign, household, outcome, when, *, n, fever=False, travel=False) -> VisitInput:
    checks = []
    if outcome == "screened":
        people = household.persons.filter(status=PersonStatus.ACTIVE).order_by("pk")
        for index, person in enumerate(people):
            check = PersonCheckInput(person_id=person.pk, temperature=Decimal("36.6"))
            if index == 0 and fever:
                check.temperature, check.temperature_recheck = Decimal("38.3"), Decimal("38.1")
                check.symptoms = ["fever", "cough"]
            if index == 0 and travel:
                check.travel_from, check.travel_means = "湖北武汉", "G1722"
                check.returned_on = timezone.localdate(when) - datetime.timedelta(days=4)
            if index == 1:
                check.temperature, check.temperature_not_measured = None, "infant"
            checks.append(check)
    return VisitInput(
        household_id=household.pk,
        outcome=outcome,
        visited_at=when,
        client_uuid=uuid.uuid5(_NAMESPACE, f"{campaign.pk}:{household.pk}:{n}"),
        person_checks=checks,
    )


def demo_sweep_create(*, district: Area) -> Campaign | None:
    """Idempotent: the campaign, the assignment and the visits are made once."""
    commander = User.objects.filter(username="command").first()
    worker = User.objects.filter(username="worker").select_related("jurisdiction_area").first()
    secretary = User.objects.filter(username="community").first()
    if commander is None or worker is None or secretary is None:
        return None
    RiskArea.objects.get_or_create(name="湖北")
    campaign = (
        Campaign.objects.filter(name=COMMAND_DEMO_CAMPAIGN, closed_at__isnull=True).first()
        or Campaign.objects.filter(name=DEMO_CAMPAIGN).first()
    )
    now = timezone.now()
    if campaign is None:
        campaign = campaign_create(
            user=commander,
            name=DEMO_CAMPAIGN,
            scope_area=district,
            starts_at=now - datetime.timedelta(days=2),
            deadline=now + datetime.timedelta(days=5),
            max_attempts=3,
        )
    if campaign.closed_at is not None or not campaign.is_open:
        return campaign
    grid = worker.jurisdiction_area
    if grid is None:  # the demo worker always has a grid; an edited demo account may not
        return campaign
    if not campaign.assignments.filter(worker=worker, grid=grid).exists():
        assignment_create(user=secretary, campaign=campaign, worker=worker, grid=grid)
    if Visit.objects.filter(campaign=campaign, worker=worker).exists():
        return campaign  # made in an earlier load
    rows = list(
        HouseholdProgress.objects.filter(campaign=campaign, grid=grid, closed=False)
        .select_related("household")
        .order_by("household__building", "household__unit", "household__floor", "household__room")
    )
    day = datetime.timedelta(days=1)
    plan = [
        ("screened", {}),
        ("screened", {}),
        ("flagged", {"fever": True}),
        ("flagged", {"travel": True}),
        ("not_home", {}),
        ("refused", {}),
        ("escalated", {}),
        ("screened", {}),
    ]
    for (kind, answers), progress in zip(plan, rows, strict=False):
        household = progress.household
        if kind in ("screened", "flagged"):
            knocks = [("screened", now - datetime.timedelta(hours=3))]
        elif kind == "escalated":
            knocks = [
                ("not_home", now - 2 * day + datetime.timedelta(hours=1)),
                ("not_home", now - day - datetime.timedelta(hours=4)),
                ("not_home", now - datetime.timedelta(hours=5)),
            ]
        else:
            knocks = [(kind, now - datetime.timedelta(hours=6))]
        for n, (outcome, when) in enumerate(knocks):
            visit_record(
                user=worker,
                campaign=campaign,
                visit=_visit(campaign, household, outcome, when, n=n, **answers),
            )
    if len(rows) > len(plan):
        _held_record(campaign, rows[len(plan)].household, worker=worker, secretary=secretary)
    return campaign


def _held_record(campaign, household, *, worker, secretary) -> None:
    """The holding list is not empty (issue 14, offline): the worker recorded this household
    on the phone without signal three hours ago; the secretary screened it an hour later at
    the door; the phone's record arrived after, and waits for the community's decision."""
    now = timezone.now()
    visit_record(
        user=secretary,
        campaign=campaign,
        visit=_visit(campaign, household, "screened", now - datetime.timedelta(hours=2), n=9),
    )
    form = [["f", "all"], ["notes", "楼道无信号，离线登记"]]
    for person in household.persons.filter(status=PersonStatus.ACTIVE).order_by("pk"):
        form += [[f"p{person.pk}-presence", "present"], [f"p{person.pk}-temperature", "36.7"]]
    form.append(["outcome", "screened"])
    outbox_record(
        user=worker,
        campaign=campaign,
        record=OutboxRecord(
            client_uuid=uuid.uuid5(_NAMESPACE, f"{campaign.pk}:{household.pk}:offline"),
            household_id=household.pk,
            visited_at=now - datetime.timedelta(hours=3),
            form=[(name, value) for name, value in form],
        ),
    )
