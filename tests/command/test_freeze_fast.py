"""The evening freeze computes every area of the district at once (one pass per section
provider, rolled up the area tree) and must write exactly what the brief of each area says on its
own: on a district with sweep, follow-up and checkpoint data, every area's snapshot equals the
per-area computation as of the cut-off, and `verify_brief` finds no difference on any area."""

import datetime
import json
import random

import pytest
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.areas.models import Area
from doorstep.checkpoints import services as checkpoint_services
from doorstep.command.brief import brief_sections, cut_off_for, sections_to_json
from doorstep.command.models import BriefSnapshot
from doorstep.command.services import brief_freeze, brief_verify
from doorstep.core.brief import path_prefixes
from doorstep.followup.models import (
    Check,
    Facility,
    Monitoring,
    MonitoringStatus,
    Placement,
    Referral,
)
from doorstep.followup.services import ReasonInput, SourceInput, key_person_add, referral_open
from doorstep.followup.services.check_insert import tally_moved
from doorstep.registry.models import Person
from doorstep.screening.brief import revisit_due_before
from doorstep.screening.progress import next_revisit
from tests.checkpoints.conftest import logged_in, occupant

from .test_checkpoints_brief import TO_C1, TO_C2, _arrive, _move_back
from .test_verify import _play


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def _followup(rng: random.Random, admin, areas) -> None:
    """Key persons over the last days (some released), checks typed late, referrals, a site."""
    today = timezone.localdate()
    now = timezone.now()
    site = Facility.objects.create(
        name="集中隔离点", kind="isolation_site", area=areas["S1"], capacity=2
    )
    persons = list(Person.objects.select_related("household__grid__parent").order_by("pk")[:10])
    for index, person in enumerate(persons):
        started_day = today - datetime.timedelta(days=rng.randint(0, 3))
        key_person = key_person_add(
            user=admin,
            person=person,
            reasons=[
                ReasonInput(
                    kind=rng.choice(["risk_area_arrival", "close_contact"]),
                    exposure_date=started_day - datetime.timedelta(days=1),
                )
            ],
            source=SourceInput(kind="manual"),
            measure=rng.choice(["home_isolation", "health_monitoring"]),
            community=person.household.grid.parent,
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
            if rng.random() < 0.6:
                measured = min(_at(day, 9), now)
                check = Check.objects.create(
                    monitoring=monitoring,
                    slot_date=day,
                    slot=0,
                    outcome=rng.choice(["measured", "measured", "unreachable"]),
                    method="visit",
                    measured_at=measured,
                    # some typed after the day's cut-off: the snapshot must not have them
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
            Referral.objects.filter(pk=referral.pk).update(opened_at=opened)
        if index in (1, 2):
            Placement.objects.create(
                facility=site,
                key_person=key_person,
                monitoring=monitoring,
                since=min(_at(started_day, 10), now),
            )


def _checkpoints(checkpoints, officer_for, user_for) -> None:
    officer = logged_in(officer_for("K1"))
    old = _arrive(
        officer,
        checkpoints["K1"],
        occupant(name="旧甲", destination=TO_C1),
        occupant(name="旧乙", destination=TO_C2, temperature="38.4"),
    )
    checkpoint_services.handoff_accept(
        user=user_for(Role.COMMUNITY_ADMIN, "C1"), handoff_id=old[0].handoff_id
    )
    _move_back(old, 2)
    yesterday = _arrive(
        officer,
        checkpoints["K1"],
        occupant(name="昨丙", destination=TO_C2),
        occupant(name="路过丁", purpose="passing", destination="", temperature="38.9"),
    )
    _move_back(yesterday, 1)
    _arrive(officer, checkpoints["K1"], occupant(name="今己", destination=TO_C1))


@pytest.mark.django_db(transaction=True)  # committed rows: see tests/command/test_verify.py
def test_the_fast_freeze_writes_what_each_areas_brief_says(
    checkpoints, officer_for, sweep, areas, user_for
):
    # (the checkpoints' roster first: its households are in the campaign then)
    rng = random.Random(11)
    for back in (3, 2, 1):
        _play(rng, sweep, days_back=back, count=10, late_hours=(0, 30))
    _followup(rng, user_for(Role.COMMAND, "D"), areas)
    _checkpoints(checkpoints, officer_for, user_for)
    _play(rng, sweep, days_back=0, count=4, late_hours=(0, 1))
    today = timezone.localdate()
    days = [today - datetime.timedelta(days=back) for back in (3, 2, 1)]
    # yesterday first: the day before it is not frozen yet, so its change is computed; then the
    # older days (the day after reuses nothing: it is frozen already)
    for day in (days[2], days[0], days[1]):
        assert brief_freeze(day=day) == Area.objects.count()
    every_area = list(Area.objects.order_by("path"))
    assert len(every_area) > 7
    domains = set()
    for day in days:
        snapshots = {s.area_id: s for s in BriefSnapshot.objects.filter(day=day)}
        assert set(snapshots) == {a.pk for a in every_area}
        for area in every_area:
            snapshot = snapshots[area.pk]
            # the per-area computation (its day before read the same way: the snapshot)
            alone = brief_sections(area, day, known_at=cut_off_for(day))
            as_stored = json.loads(json.dumps(sections_to_json(alone)))  # tuples are lists
            assert snapshot.sections == as_stored, (area.code, day)
            # and against the raw records, as now known and as at the cut-off
            assert brief_verify(area, day) == [], (area.code, day)
            domains |= {s["key"].split(".")[0] for s in snapshot.sections}
    assert domains == {"sweep", "followup", "checkpoints"}


def test_revisit_due_before_matches_next_revisit():
    """`next_revisit(t) < until` exactly when `t < revisit_due_before(until)`, at any moment."""
    rng = random.Random(5)
    base = timezone.make_aware(datetime.datetime(2026, 3, 1))
    for _ in range(3000):
        until = base + datetime.timedelta(minutes=rng.randint(0, 60 * 24 * 5))
        until += datetime.timedelta(seconds=rng.choice([0, 0, 1, 59]))
        t = until - datetime.timedelta(minutes=rng.randint(0, 60 * 24 * 2))
        t -= datetime.timedelta(seconds=rng.choice([0, 0, 1, 30]))
        assert (next_revisit(t) < until) == (t < revisit_due_before(until)), (t, until)
    # at a slot's start exactly: the slot just begun is not "before"
    nine = timezone.make_aware(datetime.datetime(2026, 3, 2, 9))
    assert revisit_due_before(nine) == timezone.make_aware(datetime.datetime(2026, 3, 1, 18))


def test_path_prefixes():
    assert path_prefixes("/D/S1/C1/") == ["/D/", "/D/S1/", "/D/S1/C1/"]
    assert path_prefixes("/D/") == ["/D/"]
