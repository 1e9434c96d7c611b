"""Command-line tools: exit status and a summary line, usable in scripts."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from doorstep.accounts.models import ApiToken
from doorstep.areas.models import Area
from doorstep.demo.generator import RosterGenerator, plan_areas
from doorstep.registry.models import IdReconciliation, Person
from doorstep.registry.validation import validate_phone, validate_resident_id

from .factories import unique_id_number
from .sheets import write_csv


def test_import_roster_prints_a_summary_and_exits_zero(areas, tmp_path):
    path = write_csv(tmp_path / "r.csv", [["H1", "张三", unique_id_number(), "", "户主", "a"]])
    out = io.StringIO()
    call_command(
        "import_roster",
        str(path),
        "--area",
        "G1",
        "--no-progress",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert out.getvalue().startswith("done rows=1 created=1")


def test_import_roster_exits_one_when_rows_were_rejected(areas, tmp_path):
    path = write_csv(tmp_path / "r.csv", [["H1", "", unique_id_number(), "", "户主", "a"]])
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "import_roster",
            str(path),
            "--area",
            "G1",
            "--no-progress",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert exit_info.value.code == 1
    assert "row 2:" in err.getvalue()


def test_import_roster_refuses_an_unknown_area_code(areas, tmp_path):
    path = write_csv(tmp_path / "r.csv", [["H1", "张三", unique_id_number(), "", "户主", "a"]])
    with pytest.raises(CommandError, match="NOPE") as error:
        call_command("import_roster", str(path), "--area", "NOPE")
    assert error.value.returncode == 2
    assert Person.objects.count() == 0


def test_import_roster_as_a_user_outside_the_area(areas, tmp_path, user_for):
    user = user_for()  # community admin of C1
    path = write_csv(tmp_path / "r.csv", [["H1", "张三", unique_id_number(), "", "户主", "a"]])
    with pytest.raises(CommandError) as error:
        call_command("import_roster", str(path), "--area", "G4", "--user", user.username)
    assert error.value.returncode == 2 and Person.objects.count() == 0


def test_import_areas_builds_a_tree_in_any_row_order(db, tmp_path):
    path = write_csv(
        tmp_path / "areas.csv",
        [
            ["500109001001", "状元社区", "社区", "500109001"],
            ["500109", "北碚区", "区", ""],
            ["500109001", "天生街道", "街道", "500109"],
            ["50010900100101", "第1网格", "网格", "500109001001"],
            ["X1", "孤儿", "网格", "MISSING"],
            ["X2", "错级", "网格", "500109"],
        ],
        header=["代码", "名称", "级别", "上级代码"],
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_areas", str(path), stdout=out, stderr=err)
    assert exit_info.value.code == 1
    assert "created=4" in out.getvalue() and "rejected=2" in out.getvalue()
    grid = Area.objects.get(code="50010900100101")
    assert grid.path == "/500109/500109001/500109001001/50010900100101/"
    assert "row 6:" in err.getvalue() and "row 7:" in err.getvalue()
    # a second run changes nothing
    with pytest.raises(SystemExit):
        call_command("import_areas", str(path), stdout=(out := io.StringIO()), stderr=err)
    assert "created=0" in out.getvalue() and "unchanged=4" in out.getvalue()


def test_demo_roster_is_deterministic_and_valid():
    first = list(RosterGenerator(persons=600, seed=7).rows())
    again = list(RosterGenerator(persons=600, seed=7).rows())
    other = list(RosterGenerator(persons=600, seed=8).rows())
    assert first == again and first != other and len(first) == 600
    numbers = [row[5] for row in first if row[5]]
    assert len(numbers) == len(set(numbers))
    for row in first:
        if row[5]:
            validate_resident_id(row[5])
        validate_phone(row[6])


def test_demo_has_the_seventeen_streets_of_beibei():
    streets = {grid.street_name for grid in plan_areas(20000)}
    assert len(streets) == 17 and "天生街道" in streets and "金刀峡镇" in streets


def test_demo_command_loads_a_small_district(db):
    out = io.StringIO()
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=out)
    # the roster, and a newcomer whose ID number waits for reconciliation (the trust pages' demo)
    # (besides the people the demo checkpoints' arrivals brought: key persons of an accepted
    # handoff or a fever referral, made by follow-up)
    from_checkpoints = Person.objects.filter(key_person__sources__kind="checkpoint", is_new=True)
    assert Person.objects.exclude(pk__in=from_checkpoints.values("pk")).count() == 301
    case = IdReconciliation.objects.get()
    assert case.person.name == "王新来" and case.holder is not None
    assert ApiToken.objects.filter(user__username="worker").count() == 1
    assert "rejected=0" in out.getvalue() and "worker" in out.getvalue()
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    # loading twice changes nothing
    assert Person.objects.exclude(pk__in=from_checkpoints.values("pk")).count() == 301
    assert from_checkpoints.exists()
    assert IdReconciliation.objects.count() == ApiToken.objects.count() == 1
