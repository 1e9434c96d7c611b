"""The figures are provably right: after random sequences of visits and late entries the brief of
every area and day equals the raw records' (verify_brief), and a snapshot never changes."""

import datetime
import random
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from doorstep.command.brief import brief_for, cut_off_for
from doorstep.command.models import BriefSnapshot
from doorstep.command.services import brief_freeze, brief_verify
from doorstep.registry.models import Household

from .conftest import random_visit

AREAS = ("D", "S1", "S2", "C1", "C2", "G1", "G4")


def _play(rng, sweep, *, days_back: int, count: int, late_hours: tuple[int, int] | None):
    """`count` visits made `days_back` days ago at random hours, typed 0..late_hours later
    (None: typed now, as paper entered today for a past day is)."""
    homes = list(Household.objects.select_related("grid"))
    today = timezone.localdate()
    now = timezone.now()
    for _ in range(count):
        day = today - datetime.timedelta(days=days_back)
        visited = timezone.make_aware(
            datetime.datetime.combine(day, datetime.time(rng.randint(8, 21), rng.randint(0, 59)))
        )
        if visited >= now:
            visited = now - datetime.timedelta(minutes=rng.randint(1, 30))
        entered = now
        if late_hours is not None:
            entered = visited + datetime.timedelta(minutes=rng.randint(0, late_hours[1] * 60))
            entered = min(entered, now)
        random_visit(rng, sweep, rng.choice(homes), visited_at=visited, entered_at=entered)


# Committed rows (transaction=True): inside one test transaction every service call is a
# savepoint, and on PostgreSQL each fold over rows written under hundreds of subtransactions
# took ~10 s instead of 0.1 s (visibility checks through pg_subtrans), a cost of the test only.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_brief_agrees_with_the_raw_records_and_snapshots_never_change(seed, sweep, areas):
    rng = random.Random(seed)
    today = timezone.localdate()
    # Three past days of field work, each typed up to a day and a half late.
    for back in (3, 2, 1):
        _play(rng, sweep, days_back=back, count=12, late_hours=(0, 36))
    frozen = {}
    for back in (3, 2, 1):
        day = today - datetime.timedelta(days=back)
        brief_freeze(day=day)
        frozen[day] = {
            s.area_id: s.sections for s in BriefSnapshot.objects.filter(day=day).order_by("pk")
        }
    # More paper typed now for past days, and today's work.
    for back in (2, 1):
        _play(rng, sweep, days_back=back, count=5, late_hours=None)
    _play(rng, sweep, days_back=0, count=8, late_hours=(0, 2))
    for day in [today - datetime.timedelta(days=b) for b in (3, 2, 1, 0)]:
        for key in AREAS:
            assert brief_verify(areas[key], day) == [], (key, day)
    for day, by_area in frozen.items():
        brief_freeze(day=day)  # run again: nothing new, nothing changed
        now = {s.area_id: s.sections for s in BriefSnapshot.objects.filter(day=day)}
        assert now == by_area
    # the district brief of yesterday really moved after its cut-off, and says so
    yesterday = today - datetime.timedelta(days=1)
    brief = brief_for(areas["D"], yesterday)
    assert brief.snapshot is not None
    late = [c for c in brief.changed if c.key == "visits_on_day"]
    section = brief.sections[0]
    at_meeting = brief.at_meeting(section.key)["visits_on_day"]
    assert section.figures["visits_on_day"] >= at_meeting
    if section.figures["visits_on_day"] > at_meeting:
        assert late and late[0].now_known - late[0].at_meeting > 0


def test_freeze_twice_is_one_snapshot_and_a_later_cut_off_leaves_it(sweep, areas, settings):
    rng = random.Random(7)
    _play(rng, sweep, days_back=1, count=10, late_hours=(0, 10))
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    written = brief_freeze(day=yesterday)
    assert written == BriefSnapshot.objects.filter(day=yesterday).count() > 0
    before = list(
        BriefSnapshot.objects.filter(day=yesterday).values("area_id", "cut_off_at", "sections")
    )
    assert brief_freeze(day=yesterday) == 0
    settings.DOORSTEP_BRIEF_CUTOFF = "20:30"
    assert brief_freeze(day=yesterday) == 0
    after = list(
        BriefSnapshot.objects.filter(day=yesterday).values("area_id", "cut_off_at", "sections")
    )
    assert after == before
    assert all(
        row["cut_off_at"] == cut_off_for(yesterday).replace(hour=18, minute=0) for row in after
    )
    snapshot = BriefSnapshot.objects.first()
    with pytest.raises(PermissionError):
        snapshot.save()
    with pytest.raises(PermissionError):
        BriefSnapshot.objects.filter(pk=snapshot.pk).update(sections=[])


def test_freeze_before_the_cut_off_is_refused(sweep):
    today = timezone.localdate()
    tomorrow = today + datetime.timedelta(days=1)
    with pytest.raises(CommandError, match="尚未到"):
        call_command("freeze_brief", tomorrow.isoformat())
    assert not BriefSnapshot.objects.exists()


def test_verify_brief_command(sweep, areas, capsys):
    rng = random.Random(3)
    _play(rng, sweep, days_back=1, count=6, late_hours=(0, 12))
    day = timezone.localdate() - datetime.timedelta(days=1)
    call_command("verify_brief", "D", day.isoformat())
    assert "every figure agrees" in capsys.readouterr().out
    with pytest.raises(CommandError, match="未来"):
        call_command("verify_brief", "D", (day + datetime.timedelta(days=5)).isoformat())
    with pytest.raises(CommandError, match="早于"):
        call_command("verify_brief", "D", (day - datetime.timedelta(days=30)).isoformat())
    with pytest.raises(CommandError, match="no area"):
        call_command("verify_brief", "NOPE", day.isoformat())


def test_the_raw_way_reads_by_subquery_and_in_batches(sweep, areas, monkeypatch):
    """The raw way of a district reads its households' persons and visits by subquery and
    their checks in batches of ids: at 1,000,000 persons the lists of ids passed SQLite's limit
    of parameters ("too many SQL variables", verify_brief on the bench's district). Batches of
    two ids here give the same figures."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from doorstep.screening import brief as screening_brief

    rng = random.Random(5)
    _play(rng, sweep, days_back=1, count=10, late_hours=(0, 12))
    day = timezone.localdate() - datetime.timedelta(days=1)
    monkeypatch.setattr(screening_brief, "RAW_BATCH", 2)
    with CaptureQueriesContext(connection) as queries:
        assert brief_verify(areas["D"], day) == []
    households = Household.objects.count()
    lists = [
        len(found.split(","))
        for q in queries.captured_queries
        for found in re.findall(r"IN \(([\d, ]+)\)", q["sql"])
    ]
    assert lists and max(lists) < households  # no query took every household's id


def test_verify_finds_a_tampered_progress_row(sweep, areas):
    """A check that cannot fail is a defect: break a stored progress row and verify says so."""
    from doorstep.screening.models import HouseholdProgress

    row = HouseholdProgress.objects.filter(grid=areas["G1"]).first()
    HouseholdProgress.objects.filter(pk=row.pk).update(state="screened", closed=True)
    found = brief_verify(areas["D"], timezone.localdate())
    assert any("h_screened" in line for line in found)
