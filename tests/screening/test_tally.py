"""Grid tallies: the rollup's figures kept per grid and state inside each visit's transaction
must always equal a GROUP BY over the progress rows — after enrolment, after visits in any
order, under concurrent visits in one grid — and recompute_progress repairs them."""

import datetime
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening.coverage import coverage_by_child_area
from doorstep.screening.models import GridTally, RiskArea
from doorstep.screening.services import (
    assignment_create,
    campaign_enrol_households,
    visit_record,
)
from doorstep.screening.tally import tallies_from_progress, tally_differences
from tests.factories import HouseholdFactory, PersonFactory, open_district_campaign

from .conftest import knock, screened


def test_enrolment_fills_the_not_started_tallies(campaign, households, areas):
    assert tally_differences(campaign) == {}
    tally = GridTally.objects.get(campaign=campaign, grid=areas["G1"], state="not_started")
    assert (tally.households, tally.persons) == (1, 2)
    # Households added to the roster later are counted in when they are enrolled.
    late = HouseholdFactory(grid=areas["G1"])
    PersonFactory(household=late)
    assert campaign_enrol_households(campaign=campaign) == 1
    tally.refresh_from_db()
    assert (tally.households, tally.persons) == (2, 3)
    assert tally_differences(campaign) == {}


def test_visits_in_any_order_keep_the_tallies_exact(campaign, worker, households, areas):
    household = households["G1"]
    now = timezone.now()
    visit_record(
        user=worker, campaign=campaign, visit=knock(household, when=now - datetime.timedelta(2))
    )
    assert tally_differences(campaign) == {}
    visit_record(
        user=worker,
        campaign=campaign,
        visit=screened(household, when=now - datetime.timedelta(hours=1), temperature="38.2"),
    )
    # A paper form typed later for a visit in between: the household's visits are folded again.
    visit_record(
        user=worker,
        campaign=campaign,
        visit=knock(household, "refused", when=now - datetime.timedelta(days=1)),
    )
    assert tally_differences(campaign) == {}
    screened_row = GridTally.objects.get(campaign=campaign, grid=areas["G1"], state="screened")
    assert (screened_row.households, screened_row.seen, screened_row.flagged) == (1, 2, 1)
    emptied = GridTally.objects.get(campaign=campaign, grid=areas["G1"], state="not_started")
    assert emptied.households == 0 and emptied.persons == 0


def test_the_rollup_reads_the_same_figures_as_the_progress_rows(
    campaign, worker, households, areas
):
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    total, children = coverage_by_child_area(campaign, areas["D"])
    expected = tallies_from_progress(campaign)
    assert total.households == sum(n for n, *_ in expected.values()) == 4
    assert total.by_state["screened"] == 1 and total.by_state["not_started"] == 3
    assert total.persons_seen == 2
    by_street = {row.key.code: row.households for row in children}
    assert by_street == {areas["S1"].code: 3, areas["S2"].code: 1}


def test_recompute_reports_and_repairs_a_wrong_tally(campaign, worker, households, areas, capsys):
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    GridTally.objects.filter(campaign=campaign, grid=areas["G1"], state="screened").update(
        households=7
    )
    with pytest.raises(SystemExit):
        call_command("recompute_progress", campaign.pk)
    captured = capsys.readouterr()
    assert "tally_differences=1" in captured.out and "screened" in captured.err
    call_command("recompute_progress", campaign.pk, "--fix")
    assert tally_differences(campaign) == {}
    call_command("recompute_progress", campaign.pk)
    assert "differences=0 fixed=0 tally_differences=0" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_concurrent_visits_in_one_grid_add_up(areas, user_for):
    RiskArea.objects.create(name="湖北")
    homes = []
    for n in range(12):
        household = HouseholdFactory(grid=areas["G1"], household_number=f"C-{n}")
        PersonFactory(household=household)
        homes.append(household)
    commander = user_for(Role.COMMAND, "D")
    campaign = open_district_campaign(commander, "c")
    worker = user_for(Role.GRID_WORKER, "G1")
    assignment_create(user=commander, campaign=campaign, worker=worker, grid=areas["G1"])
    errors = []

    def visit(household, outcome):
        try:
            item = screened(household) if outcome == "screened" else knock(household, outcome)
            visit_record(user=worker, campaign=campaign, visit=item)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    outcomes = ["screened", "not_home", "refused", "vacant"]
    threads = [
        threading.Thread(target=visit, args=(h, outcomes[i % 4])) for i, h in enumerate(homes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert tally_differences(campaign) == {}
    figures = {
        state: households
        for state, households in GridTally.objects.filter(
            campaign=campaign, grid=areas["G1"]
        ).values_list("state", "households")
    }
    assert figures == {"not_started": 0, "screened": 3, "revisit": 3, "refused": 3, "vacant": 3}


def _expected_by_child(campaign, area):
    """Households per child of `area` (and in all), straight from the progress rows."""
    from doorstep.areas.models import Area
    from doorstep.screening.models import HouseholdProgress

    rows = list(
        HouseholdProgress.objects.filter(
            campaign=campaign, grid__path__startswith=area.path
        ).values_list("grid__path", "persons_seen")
    )
    children = {c.code: c.path for c in Area.objects.filter(parent=area)}
    by_child = {
        code: sum(1 for path, _seen in rows if path.startswith(prefix))
        for code, prefix in children.items()
    }
    return len(rows), sum(seen for _path, seen in rows), by_child


def test_the_rollup_at_every_level_in_three_queries(
    campaign, worker, households, areas, django_assert_num_queries
):
    """The tallies are read per grid's parent (the parent tallies, with their paths; per grid
    for grids hanging straight under the area): three queries whatever the number of grids,
    the same figures as the progress rows at every level, a grid directly under a street
    included."""
    from doorstep.areas.models import AreaLevel
    from tests.factories import AreaFactory

    loose = AreaFactory(code="SG9", name="直属网格", level=AreaLevel.GRID, parent=areas["S2"])
    for n in range(3):
        home = HouseholdFactory(grid=loose, household_number=f"L-{n}")
        PersonFactory(household=home)
    campaign_enrol_households(campaign=campaign)
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    for code in ("D", "S1", "S2", "C1", "G1"):
        area = areas[code]
        area.refresh_from_db()
        with django_assert_num_queries(3):
            total, children = coverage_by_child_area(campaign, area)
        households_total, seen, by_child = _expected_by_child(campaign, area)
        assert total.households == households_total and total.persons_seen == seen, code
        assert {row.key.code: row.households for row in children} == by_child, code
    total, children = coverage_by_child_area(campaign, areas["S2"])
    assert {row.key.code: row.households for row in children}["SG9"] == 3
