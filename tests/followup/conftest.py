import datetime
import uuid

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.followup import schedule
from doorstep.followup.models import Facility, FacilityKind
from doorstep.followup.services import (
    CheckInput,
    ReasonInput,
    SourceInput,
    key_person_add,
)


@pytest.fixture
def admin(user_for):
    return user_for(Role.COMMUNITY_ADMIN, "C1")


@pytest.fixture
def fworker(user_for):
    """A grid worker of G1 (key persons they add are theirs)."""
    return user_for(Role.GRID_WORKER, "G1")


def today() -> datetime.date:
    return schedule.local_date(timezone.now())


def add_key_person(user, person, *, days_ago=0, kind="risk_area_arrival", community=None, **kw):
    return key_person_add(
        user=user,
        person=person,
        reasons=[ReasonInput(kind=kind, exposure_date=today() - datetime.timedelta(days=days_ago))],
        source=SourceInput(kind="manual", reference="hotline"),
        community=community,
        **kw,
    )


def moments_ago(minutes: int) -> datetime.datetime:
    """`minutes` ago, but never in the slot before the current one: a monitoring a test starts
    now owes no check of an earlier slot (just after noon or midnight, Asia/Shanghai)."""
    now = timezone.now()
    return max(now - datetime.timedelta(minutes=minutes), schedule.slot_of(now).starts_at)


def check_input(*, temperature="36.5", when=None, **kw) -> CheckInput:
    return CheckInput(
        client_uuid=uuid.uuid4(),
        measured_at=when or moments_ago(1),
        temperature=temperature,
        **kw,
    )


@pytest.fixture
def key_person(households, fworker):
    """户主G1 under home isolation, added by the G1 worker (assigned to them) two days ago."""
    person = households["G1"].persons.order_by("pk").first()
    kp = add_key_person(
        fworker, person, days_ago=2, start_date=today() - datetime.timedelta(days=2)
    )
    return kp


@pytest.fixture
def clinic(areas):
    return Facility.objects.create(
        name="区人民医院发热门诊", kind=FacilityKind.FEVER_CLINIC, area=areas["D"], capacity=20
    )


@pytest.fixture
def hotel(areas):
    return Facility.objects.create(
        name="天生宾馆", kind=FacilityKind.ISOLATION_SITE, area=areas["D"], capacity=1
    )
