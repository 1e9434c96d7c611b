import datetime
import uuid

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening.models import RiskArea
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import VisitInput, assignment_create, campaign_create


@pytest.fixture
def campaign(households, user_for):
    """A sweep over the whole district, opened a day ago, due in two days; 湖北 is a risk area."""
    RiskArea.objects.create(name="湖北")
    commander = user_for(Role.COMMAND, "D")
    return campaign_create(
        user=commander,
        name="全区拉网式摸排",
        scope_area=commander.jurisdiction_area,
        starts_at=timezone.now() - datetime.timedelta(days=1),
        deadline=timezone.now() + datetime.timedelta(days=2),
        max_attempts=3,
    )


@pytest.fixture
def worker(user_for, campaign, areas):
    """A grid worker of G1 holding the whole of G1 in the campaign."""
    user = user_for(Role.GRID_WORKER, "G1")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    assignment_create(user=admin, campaign=campaign, worker=user, grid=areas["G1"])
    return user


def screened(household, *, when=None, **answers) -> VisitInput:
    """Everybody present and well, unless `answers` say otherwise for the first person."""
    checks = [
        PersonCheckInput(person_id=p.pk, temperature="36.5")
        for p in household.persons.order_by("pk")
    ]
    for key, value in answers.items():
        setattr(checks[0], key, value)
    return VisitInput(
        household_id=household.pk,
        outcome="screened",
        visited_at=when or timezone.now() - datetime.timedelta(minutes=5),
        client_uuid=uuid.uuid4(),
        person_checks=checks,
    )


def knock(household, outcome="not_home", when=None) -> VisitInput:
    return VisitInput(
        household_id=household.pk,
        outcome=outcome,
        visited_at=when or timezone.now() - datetime.timedelta(minutes=5),
        client_uuid=uuid.uuid4(),
        person_checks=[],
    )
