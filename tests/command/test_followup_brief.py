"""Follow-up's section of the brief agrees with the raw records on every area and day, after
random monitorings, releases, checks typed late, referrals and placements."""

import datetime
import random

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.command.brief import brief_sections
from doorstep.command.services import brief_freeze, brief_verify
from doorstep.followup.models import (
    Check,
    Facility,
    Measure,
    Monitoring,
    MonitoringStatus,
    Placement,
    Referral,
)
from doorstep.followup.services import ReasonInput, SourceInput, key_person_add, referral_open
from doorstep.registry.models import Person

from .test_verify import AREAS, _play


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


@pytest.mark.django_db(transaction=True)  # committed rows: see tests/command/test_verify.py
def test_followup_section_agrees_with_the_raw_records(sweep, areas, user_for):
    rng = random.Random(4)
    _play(rng, sweep, days_back=1, count=6, late_hours=(0, 3))
    admin = user_for(Role.COMMAND, "D")
    today = timezone.localdate()
    now = timezone.now()
    site = Facility.objects.create(
        name="集中隔离点", kind="isolation_site", area=areas["S1"], capacity=2
    )
    persons = list(Person.objects.select_related("household__grid__parent").order_by("pk")[:12])
    for index, person in enumerate(persons):
        community = person.household.grid.parent
        started_day = today - datetime.timedelta(days=rng.randint(0, 3))
        key_person = key_person_add(
            user=admin,
            person=person,
            reasons=[
                ReasonInput(
                    kind=rng.choice(["risk_area_arrival", "close_contact", "fever_symptoms"]),
                    exposure_date=started_day - datetime.timedelta(days=1),
                )
            ],
            source=SourceInput(kind="manual"),
            measure=rng.choice([m.value for m in Measure]),
            community=community,
        )
        monitoring = Monitoring.objects.get(key_person=key_person)
        started = min(_at(started_day, rng.randint(8, 20)), now)
        fields = {"started_at": started}
        if index % 4 == 0:
            fields.update(
                status=MonitoringStatus.RELEASED,
                released_at=min(started + datetime.timedelta(hours=30), now),
            )
        Monitoring.objects.filter(pk=monitoring.pk).update(**fields)
        for back in range(4):
            day = today - datetime.timedelta(days=back)
            if rng.random() < 0.5:
                measured = min(_at(day, 9), now)
                Check.objects.create(
                    monitoring=monitoring,
                    slot_date=day,
                    slot=0,
                    outcome=rng.choice(["measured", "measured", "unreachable"]),
                    method="visit",
                    measured_at=measured,
                    entered_at=min(measured + datetime.timedelta(hours=rng.randint(0, 30)), now),
                )
        if index % 3 == 0:
            referral = referral_open(
                user=admin,
                key_person=key_person,
                temperature=None,
                symptoms=[],
                source=SourceInput(kind="manual"),
            )
            opened = min(_at(started_day, 15), now)
            updates = {"opened_at": opened}
            if index % 2 == 0:
                updates.update(arrived_at=min(opened + datetime.timedelta(hours=2), now))
            Referral.objects.filter(pk=referral.pk).update(**updates)
        if index in (1, 2, 5):
            Placement.objects.create(
                facility=site,
                key_person=key_person,
                monitoring=monitoring,
                since=min(_at(started_day, 10), now),
                ended_at=None if index != 5 else now - datetime.timedelta(minutes=1),
            )
    for back in (3, 2, 1):
        brief_freeze(day=today - datetime.timedelta(days=back))
    for back in (3, 2, 1, 0):
        day = today - datetime.timedelta(days=back)
        for key in AREAS:
            assert brief_verify(areas[key], day) == [], (key, day)
    district = {s.key: s for s in brief_sections(areas["D"], today)}["followup"]
    under = Monitoring.objects.filter(status=MonitoringStatus.ACTIVE).count()
    assert district.figures["under_monitoring"] == under  # every release lies in the past
    assert district.figures[f"facility.{site.pk}.occupied"] == 2
    assert district.figures["facilities_full"] == 1
