import datetime
import random
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening.models import Visit
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import (
    VisitInput,
    assignment_create,
    campaign_create,
    visit_record,
)
from tests.checkpoints.conftest import checkpoints, officer_for, roster  # noqa: F401
from tests.factories import HouseholdFactory, PersonFactory

OUTCOMES = ["screened", "not_home", "not_home", "refused", "vacant", "screened"]


@pytest.fixture
def sweep(areas, households, user_for):
    """A district sweep that started three days ago at 08:00, with a worker in G1 and G3 and a
    few more households in every grid."""
    for key in ("G1", "G2", "G3", "G4"):
        for n in range(3):
            home = HouseholdFactory(grid=areas[key], household_number=f"HN-{key}-{n}")
            PersonFactory(household=home, name=f"住户{key}{n}", relation="户主")
    commander = user_for(Role.COMMAND, "D")
    start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
    campaign = campaign_create(
        user=commander,
        name="全区拉网式摸排",
        scope_area=commander.jurisdiction_area,
        starts_at=start - datetime.timedelta(days=3),
        deadline=start + datetime.timedelta(days=3),
        max_attempts=3,
    )
    workers = {}
    for key in ("G1", "G3"):
        workers[key] = user_for(Role.GRID_WORKER, key)
        assignment_create(user=commander, campaign=campaign, worker=workers[key], grid=areas[key])
    return {"campaign": campaign, "commander": commander, "workers": workers}


def random_visit(rng: random.Random, sweep, household, *, visited_at, entered_at):
    """Record a visit through the service (the progress moves as in the field), then give it the
    time it was typed: paper typed in the evening or days later."""
    outcome = rng.choice(OUTCOMES)
    checks = []
    if outcome == "screened":
        for person in household.persons.order_by("pk"):
            fever = rng.random() < 0.2
            presence = rng.choice(["present", "present", "out_of_town"])
            temperature = Decimal("38.2") if fever else Decimal("36.5")
            checks.append(
                PersonCheckInput(
                    person_id=person.pk,
                    temperature=temperature if presence == "present" else None,
                    presence=presence,
                )
            )
    visit, _created = visit_record(
        user=sweep["commander"],
        campaign=sweep["campaign"],
        visit=VisitInput(
            household_id=household.pk,
            outcome=outcome,
            visited_at=visited_at,
            client_uuid=uuid.uuid4(),
            person_checks=checks,
        ),
    )
    worker = sweep["workers"].get(household.grid.code) if rng.random() < 0.8 else None
    Visit.objects.filter(pk=visit.pk).update(entered_at=entered_at, worker=worker)
    return visit
