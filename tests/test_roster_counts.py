"""The roster counts (households and persons per grid, which the dashboards read) stay equal to a
COUNT over the roster after every kind of write: an import that creates, one that moves a
household to another grid, rows refused (an empty new household deleted), a person added by
an admin, a person found at the door (with a household and without), a reconciliation that
moves a record and folds a duplicate; and the check fails when they drift."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from doorstep.accounts.models import Role
from doorstep.registry.counts import roster_count_differences, roster_totals
from doorstep.registry.models import (
    Household,
    IdReconciliation,
    Person,
    RosterCount,
    RosterParentCount,
)
from doorstep.registry.selectors import (
    households_visible_to,
    persons_visible_to,
    roster_totals_visible_to,
)
from doorstep.registry.services import (
    person_create,
    person_found_at_door,
    reconciliation_moved_here,
)

from .factories import unique_id_number
from .sheets import HEADER, write_csv
from .test_roster_import import run_import

GRID_HEADER = [*HEADER, "社区", "网格"]


def assert_counts_hold(user_for, areas) -> None:
    """Stored counts equal a fresh COUNT, per grid and for every area's users."""
    assert roster_count_differences() == {}
    for key, role in (
        ("D", Role.COMMAND),
        ("S1", Role.STREET_ADMIN),
        ("S2", Role.STREET_ADMIN),
        ("C1", Role.COMMUNITY_ADMIN),
        ("C3", Role.COMMUNITY_ADMIN),
        ("G2", Role.GRID_WORKER),
    ):
        user = user_for(role, key)
        fresh = (households_visible_to(user).count(), persons_visible_to(user).count())
        assert roster_totals_visible_to(user) == fresh, key


def test_every_kind_of_roster_write_keeps_the_counts(areas, user_for, tmp_path):
    # given a roster imported into street S1 (two grids of C1, one of C2)
    a, b, c, d = (unique_id_number() for _ in range(4))
    rows = [
        ["H1", "甲", a, "", "户主", "天生路1号101", "状元社区", "第1网格"],
        ["H1", "乙", b, "", "配偶", "天生路1号101", "状元社区", "第1网格"],
        ["H2", "丙", c, "", "户主", "天生路1号102", "状元社区", "第2网格"],
        ["H3", "丁", d, "", "户主", "天生路1号103", "碚峡社区", "第1网格"],
    ]
    job = run_import(write_csv(tmp_path / "a.csv", rows, header=GRID_HEADER), areas["S1"])
    assert job.created_count == 4
    assert RosterCount.objects.get(grid=areas["G1"]).persons == 2
    assert_counts_hold(user_for, areas)

    # when a corrected file moves H1 to grid G2 and adds a member there
    e = unique_id_number()
    moved = [
        ["H1", "甲", a, "", "户主", "天生路1号101", "状元社区", "第2网格"],
        ["H1", "乙", b, "", "配偶", "天生路1号101", "状元社区", "第2网格"],
        ["H1", "戊", e, "", "子", "天生路1号101", "状元社区", "第2网格"],
    ]
    run_import(write_csv(tmp_path / "b.csv", moved, header=GRID_HEADER), areas["S1"])
    assert Household.objects.get(household_number="H1").grid == areas["G2"]
    assert RosterCount.objects.get(grid=areas["G1"]).persons == 0
    assert RosterCount.objects.get(grid=areas["G2"]).persons == 4
    assert_counts_hold(user_for, areas)

    # when a new household's only row is refused (its number is already on the roster): the
    # empty household is deleted and counted nowhere
    refused = [["H9", "己", c, "", "户主", "天生路1号109", "状元社区", "第1网格"]]
    job = run_import(write_csv(tmp_path / "c.csv", refused, header=GRID_HEADER), areas["S1"])
    assert job.rejected_count == 1 and not Household.objects.filter(household_number="H9").exists()
    assert_counts_hold(user_for, areas)

    # when an admin adds a person, and a worker finds one at the door
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    h2 = Household.objects.get(household_number="H2")
    person_create(
        user=admin,
        household_id=h2.pk,
        data={"name": "庚", "id_number": unique_id_number(), "relation": "子"},
    )
    person_found_at_door(user=admin, household_id=h2.pk, data={"name": "辛"}, source="field")
    assert_counts_hold(user_for, areas)

    # when a person followed up without a household is found (on no roster: nothing moves)
    before = RosterCount.objects.order_by("grid").values_list("grid", "households", "persons")
    person_found_at_door(
        user=admin, household_id=None, data={"name": "访客"}, source="form", area=areas["C1"]
    )
    assert list(before) == list(
        RosterCount.objects.order_by("grid").values_list("grid", "households", "persons")
    )
    assert_counts_hold(user_for, areas)

    # when a newcomer in H3 (grid G3) carries the number of 丙 (H2, grid G2), and the street
    # decides it is the same person, moved: 丙 moves into H3 and the newcomer's record goes
    h3 = Household.objects.get(household_number="H3")
    newcomer = person_found_at_door(
        user=admin,
        household_id=h3.pk,
        data={"name": "丙", "id_number_held": c},
        source="field",
    )
    case = IdReconciliation.objects.get(person_id=newcomer)
    reconciliation_moved_here(user=user_for(Role.STREET_ADMIN, "S1"), case_id=case.pk)
    assert Person.objects.get(id_number=c).household_id == h3.pk
    assert not Person.objects.filter(pk=newcomer).exists()
    assert_counts_hold(user_for, areas)


def test_a_bare_record_folded_into_its_holder_moves_nothing(households, areas, user_for):
    # given a person followed up without a household who carries the number of a G1 member
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    holder = households["G1"].persons.order_by("pk").first()
    bare = person_found_at_door(
        user=admin,
        household_id=None,
        data={"name": holder.name, "id_number_held": holder.id_number},
        source="form",
        area=areas["C1"],
    )
    case = IdReconciliation.objects.get(person_id=bare)
    # when the admin folds the bare record into the holder
    reconciliation_moved_here(user=admin, case_id=case.pk)
    # then the counts still equal the roster's
    assert not Person.objects.filter(pk=bare).exists()
    assert_counts_hold(user_for, areas)


def test_the_check_fails_when_the_counts_drift_and_fix_repairs(households, areas, user_for):
    # given counts that hold
    assert roster_count_differences() == {}
    # when a person is added behind the services' back (a raw write)
    Person.objects.create(household=households["G3"], name="无名")
    # then the check names the grid and its parent and exits 1; --fix rebuilds the counts
    assert set(roster_count_differences()) == {areas["G3"].pk, areas["C2"].pk}
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("recount_roster", stdout=out, stderr=err)
    assert exit_.value.code == 1
    assert "differences=2" in out.getvalue() and f"area {areas['G3'].pk}" in err.getvalue()
    call_command("recount_roster", "--fix", stdout=io.StringIO(), stderr=io.StringIO())
    assert roster_count_differences() == {}
    assert roster_totals(areas["C2"]) == (1, 3)
    assert_counts_hold(user_for, areas)


def test_the_migration_fills_the_counts_of_an_existing_roster(households, areas):
    # given a database whose counts are gone (as before the migration that made them)
    RosterCount.objects.all().delete()
    RosterParentCount.objects.all().delete()
    assert roster_count_differences()
    # when the migration's statements run
    from importlib import import_module

    migration = import_module("doorstep.registry.migrations.0006_roster_count")
    with connection.cursor() as cursor:
        for statement in migration.FILL:
            cursor.execute(statement)
    # then the counts are right
    assert roster_count_differences() == {}
    assert roster_totals(areas["D"]) == (4, 8)
