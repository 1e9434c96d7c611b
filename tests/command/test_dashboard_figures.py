"""The dashboards read stored figures (the grids' roster counts, the sweep's grid and parent
tallies, one indexed count of overdue revisits) instead of counting the roster and the progress
rows on every page view; each figure still equals the COUNT it replaced, for every role, after
random visits."""

import datetime
import random
import uuid
from importlib import import_module

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.areas.models import Area, AreaLevel
from doorstep.command.dashboard import dashboard_context
from doorstep.core.db import CountSQL, count_each
from doorstep.core.views import home_context
from doorstep.registry.selectors import households_visible_to, persons_visible_to
from doorstep.screening.coverage import (
    closed_by_child_area,
    coverage_by_child_area,
    coverage_by_worker,
)
from doorstep.screening.models import HouseholdProgress, ParentTally, ProgressState
from doorstep.screening.selectors import progress_visible_to
from doorstep.screening.services import VisitInput, campaign_create, visit_record
from doorstep.screening.tally import tally_differences
from tests.factories import AreaFactory, HouseholdFactory, PersonFactory

from .test_verify import _play


def _counted(user, campaign, now) -> dict[str, int]:
    """The to-dos' figures as the dashboard counted them before: over the progress rows."""
    return progress_visible_to(user, campaign).aggregate(
        overdue=Count("pk", filter=Q(state=ProgressState.REVISIT, revisit_due_at__lt=now)),
        self_reported=Count("pk", filter=Q(state=ProgressState.SELF_REPORTED)),
        escalated=Count("pk", filter=Q(state=ProgressState.ESCALATED)),
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_every_dashboard_figure_equals_a_fresh_count(seed, sweep, areas, user_for):
    # given three days of random field work (nobody home, refusals, escalations)
    rng = random.Random(seed)
    for back in (2, 1, 0):
        _play(rng, sweep, days_back=back, count=8, late_hours=(0, 2))
    campaign = sweep["campaign"]
    # and, whatever the dice and the hour, one household nobody was home at two days ago (its
    # revisit fell due yesterday: open work for the to-dos to count)
    _nobody_home_two_days_ago(sweep)
    users = [
        sweep["commander"],
        user_for(Role.STREET_ADMIN, "S1"),
        user_for(Role.STREET_ADMIN, "S2"),
        user_for(Role.COMMUNITY_ADMIN, "C1"),
        user_for(Role.COMMUNITY_ADMIN, "C3"),
        sweep["workers"]["G1"],
    ]
    open_work = 0
    for user in users:
        # when the user's dashboard is assembled
        context = dashboard_context(user)
        now = timezone.now()
        # then its header is the roster's count
        header = home_context(user)
        assert (header["household_count"], header["person_count"]) == (
            households_visible_to(user).count(),
            persons_visible_to(user).count(),
        )
        # and its to-dos are the counts over the progress rows
        todos = {t.url.rsplit("=", 1)[-1]: t.count for t in context["todos"] if "?" in t.url}
        if user.role != Role.GRID_WORKER:
            counted = _counted(user, campaign, now)
            assert todos["revisit"] == counted["overdue"], user.role
            assert todos["self_reported"] == counted["self_reported"], user.role
            assert todos["escalated"] == counted["escalated"], user.role
            open_work += sum(counted.values())
            (stand,) = context["standing"]
            assert stand["households"] == progress_visible_to(user, campaign).count()
        else:
            rows = progress_visible_to(user, campaign)
            assert todos["todo"] == rows.filter(state=ProgressState.NOT_STARTED).count()
            # the worker's standing is their row of the per-worker coverage
            by_worker = coverage_by_worker(campaign, user.jurisdiction_area)
            mine = next(r for r in by_worker if r.key == user)
            (stand,) = context["standing"]
            figures = ("households", "closed", "persons_seen", "persons_flagged")
            assert [stand[f] for f in figures] == [getattr(mine, f) for f in figures]
    assert open_work > 0  # the play left open work to count


def _nobody_home_two_days_ago(sweep) -> None:
    campaign = sweep["campaign"]
    progress = (
        HouseholdProgress.objects.filter(campaign=campaign, closed=False)
        .exclude(state=ProgressState.SELF_REPORTED)
        .order_by("pk")
        .first()
    )
    assert progress is not None
    day = timezone.localdate() - datetime.timedelta(days=2)
    visit_record(
        user=sweep["commander"],
        campaign=campaign,
        visit=VisitInput(
            household_id=progress.household_id,
            outcome="not_home",
            visited_at=timezone.make_aware(datetime.datetime.combine(day, datetime.time(10))),
            client_uuid=uuid.uuid4(),
            person_checks=[],
        ),
    )


def _by_state(rows) -> dict[str, int]:
    found: dict[str, int] = {}
    for state, n in rows:
        found[state] = found.get(state, 0) + n
    return found


def test_the_roll_up_from_parent_tallies_equals_the_progress_rows(sweep, areas):
    # given random field work over three days
    rng = random.Random(3)
    for back in (2, 1, 0):
        _play(rng, sweep, days_back=back, count=10, late_hours=(0, 2))
    campaign = sweep["campaign"]
    # then the grid and parent tallies hold
    assert tally_differences(campaign) == {}
    assert ParentTally.objects.filter(campaign=campaign, area=areas["C1"]).exists()
    # and every area's roll-up (total and each child) is the GROUP BY over its progress rows
    for key in ("D", "S1", "S2", "C1", "C2", "C3", "G1"):
        area = areas[key]
        total, children = coverage_by_child_area(campaign, area)
        rows = HouseholdProgress.objects.filter(campaign=campaign, grid__path__startswith=area.path)
        expected = _by_state(rows.values_list("state").annotate(n=Count("pk")).order_by())
        assert {s: n for s, n in total.by_state.items() if n} == expected, key
        assert total.persons_seen == sum(rows.values_list("persons_seen", flat=True)), key
        for child in children:
            below = rows.filter(grid__path__startswith=child.key.path)
            expected = _by_state(below.values_list("state").annotate(n=Count("pk")).order_by())
            assert {s: n for s, n in child.by_state.items() if n} == expected, child.label


def test_recompute_reports_and_repairs_a_wrong_parent_tally(sweep, areas, capsys):
    campaign = sweep["campaign"]
    ParentTally.objects.filter(campaign=campaign, area=areas["C1"], state="not_started").update(
        households=99
    )
    with pytest.raises(SystemExit):
        call_command("recompute_progress", campaign.pk)
    captured = capsys.readouterr()
    assert "tally_differences=1" in captured.out and "tally parent" in captured.err
    call_command("recompute_progress", campaign.pk, "--fix")
    assert tally_differences(campaign) == {}


def test_the_migration_fills_the_parent_tallies_of_existing_campaigns(sweep, areas):
    # given a campaign whose parent tallies are gone (as before the migration that made them)
    campaign = sweep["campaign"]
    _play(random.Random(4), sweep, days_back=0, count=6, late_hours=(0, 1))
    ParentTally.objects.all().delete()
    assert tally_differences(campaign)
    # when the migration's statement runs, then they are right
    migration = import_module("doorstep.screening.migrations.0011_parent_tally")
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL)
    assert tally_differences(campaign) == {}


def _bars_counted(campaign, area) -> tuple[dict[str, int], int, list[tuple[str, int, int]]]:
    """The roll-up as a COUNT over the progress rows: the area's households by state, its
    persons flagged, and per child (by code) its name, households and households closed."""
    rows = HouseholdProgress.objects.filter(campaign=campaign)
    under = rows.filter(grid__path__startswith=area.path)
    by_state = _by_state(under.values_list("state").annotate(n=Count("pk")).order_by())
    flagged = sum(under.values_list("persons_flagged", flat=True))
    bars = []
    for child in Area.objects.filter(parent=area).order_by("code"):
        below = rows.filter(grid__path__startswith=child.path)
        closed = below.filter(state__in=("screened", "vacant", "escalated")).count()
        bars.append((child.name, below.count(), closed))
    return by_state, flagged, bars


def test_every_dashboard_bar_equals_a_fresh_count(sweep, areas, households):
    # given random field work in the district's sweep, then grids straight under a street and
    # under the district beside the communities, a campaign of the district and one of a street
    rng = random.Random(5)
    for back in (1, 0):
        _play(rng, sweep, days_back=back, count=10, late_hours=(0, 1))
    commander = sweep["commander"]
    # (and a community inside a community: parent tallies two levels below a street)
    inner = AreaFactory(code="CX", name="内社区", level=AreaLevel.COMMUNITY, parent=areas["C1"])
    for key, parent in (("GS", areas["S2"]), ("GD", areas["D"]), ("GX", inner)):
        grid = AreaFactory(code=key, name=f"直属{key}", level=AreaLevel.GRID, parent=parent)
        for n in range(2):
            home = HouseholdFactory(grid=grid, household_number=f"HN-{key}-{n}")
            PersonFactory(household=home, name=f"住户{key}{n}", relation="户主")
    start = timezone.now() - datetime.timedelta(days=1)
    campaigns = [
        campaign_create(
            user=commander,
            name=f"bars {key}",
            scope_area=areas[key],
            starts_at=start,
            deadline=start + datetime.timedelta(days=5),
        )
        for key in ("D", "S1")
    ]
    # and a visit to every third household of each campaign
    for campaign in [sweep["campaign"], *campaigns]:
        for progress in HouseholdProgress.objects.filter(campaign=campaign).order_by("pk")[::3]:
            visit_record(
                user=commander,
                campaign=campaign,
                visit=VisitInput(
                    household_id=progress.household_id,
                    outcome=rng.choice(["not_home", "vacant", "refused"]),
                    visited_at=timezone.now() - datetime.timedelta(minutes=5),
                    client_uuid=uuid.uuid4(),
                    person_checks=[],
                ),
            )
    # then every area's bars and total are the counts over its progress rows, for each campaign
    # (the district's whole campaign, a street within it, a community, a campaign below the
    # area and one beside it)
    for campaign in [sweep["campaign"], *campaigns]:
        assert tally_differences(campaign) == {}
        for area in [*(areas[key] for key in ("D", "S1", "S2", "C1", "C2", "C3")), inner]:
            key = area.code
            total, bars = closed_by_child_area(campaign, area)
            by_state, flagged, counted = _bars_counted(campaign, area)
            assert {s: n for s, n in total.by_state.items() if n} == by_state, (campaign, key)
            assert total.persons_flagged == flagged, (campaign, key)
            assert [tuple(bar) for bar in bars] == counted, (campaign, key)
            # the coverage pages' total is the same
            assert coverage_by_child_area(campaign, area)[0].by_state == total.by_state


def test_counted_together_each_count_is_its_querysets(
    sweep, areas, user_for, client, django_assert_max_num_queries
):
    # given querysets of several tables, one that can hold no row and one the ORM never sends
    campaign = sweep["campaign"]
    _play(random.Random(6), sweep, days_back=0, count=6, late_hours=(0, 1))
    progress = HouseholdProgress.objects.filter(campaign=campaign)
    querysets = [
        progress.filter(grid__path__startswith=areas["S1"].path),
        progress.filter(state=ProgressState.NOT_STARTED).exclude(grid=areas["G1"]),
        Area.objects.filter(parent=areas["D"]),
        HouseholdProgress.objects.none(),
        progress.filter(pk__in=[]),
        ParentTally.objects.filter(campaign=campaign, households__gt=0),
    ]
    # when they are counted in one statement, then each is its own count
    assert count_each(querysets) == [queryset.count() for queryset in querysets]
    assert count_each([]) == []
    # and a hand-written count sent beside them is its own count, one that holds no row 0
    table = HouseholdProgress._meta.db_table
    by_hand = [
        CountSQL(f"SELECT COUNT(*) FROM {table} WHERE campaign_id = %s", [campaign.pk]),  # noqa: S608
        CountSQL(None),
    ]
    assert count_each([querysets[0], *by_hand, querysets[1]]) == [
        querysets[0].count(),
        progress.count(),
        0,
        querysets[1].count(),
    ]
    assert count_each(by_hand) == [progress.count(), 0]

    # and a community admin of C1 (the campaign open over it)
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    client.force_login(admin)
    client.get("/")
    # when the dashboard is read, then in no more statements than: the session, the user,
    # the area, the roster totals, the open campaigns, the roll-up's two, the communities of
    # the follow-up scope, the counts (the overdue revisits, the checks due, the arrivals
    # handed over) and the areas table
    with django_assert_max_num_queries(10):
        assert client.get("/").status_code == 200
