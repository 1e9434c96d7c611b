"""Follow-up's section of the brief agrees with the raw records on every area and day, after
random monitorings, releases, checks typed late, referrals and placements."""

import datetime
import random
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.command.brief import brief_query, brief_sections
from doorstep.command.services import brief_freeze, brief_verify
from doorstep.followup.brief import FollowupProvider
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
from doorstep.followup.services.check_insert import tally_moved
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
                check = Check.objects.create(
                    monitoring=monitoring,
                    slot_date=day,
                    slot=0,
                    outcome=rng.choice(["measured", "measured", "unreachable"]),
                    method="visit",
                    measured_at=measured,
                    entered_at=min(measured + datetime.timedelta(hours=rng.randint(0, 30)), now),
                )
                # typed by hand (its own entered_at), the tally moved as the service moves it
                monitoring.save(update_fields=tally_moved(monitoring, check))
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


@pytest.mark.django_db(transaction=True)
def test_live_figures_from_the_tally_are_the_checks(sweep, areas, user_for):
    """Today as now known reads the monitoring's tally where it settles the answer and the
    checks where it cannot: a measurement in the clock's grace after now, an unreachable check
    for the day, a measurement before the lost window. Figures, lists and the raw walk agree."""
    admin = user_for(Role.COMMAND, "D")
    today = timezone.localdate()
    now = timezone.now()
    old = now - datetime.timedelta(hours=float(settings.FOLLOWUP_LOST_HOURS) + 2)
    soon = now + datetime.timedelta(minutes=5)  # within the service's grace for a clock ahead
    plans = {
        "quiet": [("measured", old, timezone.localdate(old), 0)],
        "recent": [("measured", now - datetime.timedelta(seconds=1), today, 0)],
        "recent_and_ahead": [
            ("measured", now - datetime.timedelta(seconds=1), today, 0),
            ("measured", soon, today, 1),
        ],
        "old_and_ahead": [
            ("measured", old, timezone.localdate(old), 0),
            ("measured", soon, today, 0),
        ],
        "unreachable": [("unreachable", now - datetime.timedelta(seconds=1), today, 0)],
    }
    persons = list(Person.objects.select_related("household__grid__parent").order_by("pk"))
    names = {}
    for person, (name, checks) in zip(persons, plans.items(), strict=False):
        key_person = key_person_add(
            user=admin,
            person=person,
            reasons=[ReasonInput(kind="close_contact", exposure_date=today)],
            source=SourceInput(kind="manual"),
            measure="home_isolation",
            community=person.household.grid.parent,
        )
        monitoring = Monitoring.objects.get(key_person=key_person)
        Monitoring.objects.filter(pk=monitoring.pk).update(
            started_at=now - datetime.timedelta(days=4)
        )
        for outcome, measured_at, slot_date, slot in checks:
            check = Check.objects.create(
                monitoring=monitoring,
                slot_date=slot_date,
                slot=slot,
                outcome=outcome,
                method="visit",
                temperature=Decimal("36.5") if outcome == "measured" else None,
                measured_at=measured_at,
                entered_at=now,
            )
            monitoring.save(update_fields=tally_moved(monitoring, check))
        names[name] = person.name
    out = StringIO()
    call_command("recompute_followup", stdout=out)
    assert out.getvalue().strip().endswith("0 differences found")
    assert brief_verify(areas["D"], today) == []
    figures = {s.key: s for s in brief_sections(areas["D"], today)}["followup"].figures
    assert figures["under_monitoring"] == 5
    assert figures["lost"] == 3  # quiet, old_and_ahead, unreachable
    assert figures["checked_on_day"] == 3  # recent, recent_and_ahead, old_and_ahead
    assert figures["missed_on_day"] == 2  # quiet, unreachable
    provider = FollowupProvider()
    query = brief_query(areas["D"], today)
    lost = {row.label for row in provider.list_rows(query, "followup", "lost")}
    missed = {row.label for row in provider.list_rows(query, "followup", "missed")}
    assert lost == {names["quiet"], names["old_and_ahead"], names["unreachable"]}
    assert missed == {names["quiet"], names["unreachable"]}
