"""Roster import: every row ends created, updated, unchanged or rejected with a reason."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from python_calamine import CalamineWorkbook
from stdnum.cn import ric

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.core.sheets.reading import UnreadableFile
from doorstep.imports.models import ImportJob
from doorstep.imports.reports import rejections_workbook
from doorstep.imports.services import (
    roster_import_create,
    roster_import_run,
    roster_import_start,
)
from doorstep.registry.models import Household, Person, RecordChange

from .factories import HouseholdFactory, PersonFactory, unique_id_number, valid_id_number
from .sheets import HEADER, write_csv, write_xls, write_xlsx


def run_import(path, area, user=None):
    with open(path, "rb") as stream:
        job = roster_import_create(user=user, area=area, stream=stream, original_name=path.name)
    roster_import_start(user=user, job=job, enqueue=False)
    return roster_import_run(job_id=job.pk)


def reasons(job: ImportJob) -> dict[int, str]:
    return dict(job.rejections.values_list("row_number", "reason"))


def accounted(job: ImportJob) -> int:
    return job.created_count + job.updated_count + job.unchanged_count + job.rejected_count


@pytest.fixture
def good_rows():
    a, b, c = unique_id_number(), unique_id_number(), unique_id_number()
    return [
        ["H001", "张三", a, "13800138000", "户主", "天生路2号1栋2单元301"],
        ["H001", "李四", b, "+86 139-0013-9000", "配偶", "天生路2号1栋2单元301"],
        ["H002", "王五", c, "", "户主", "天生路2号1栋2单元302"],
    ]


def test_a_clean_csv_creates_households_and_persons(areas, tmp_path, good_rows):
    job = run_import(write_csv(tmp_path / "r.csv", good_rows), areas["G1"])
    assert (job.status, job.created_count, job.rejected_count) == ("done", 3, 0)
    assert Household.objects.count() == 2
    head = Person.objects.get(name="张三")
    assert head.household.household_number == "H001"
    assert head.household.grid == areas["G1"]
    assert (head.household.building, head.household.unit, head.household.room) == ("1", "2", "301")
    assert head.household.floor == 3
    assert head.birth_date == ric.get_birth_date(head.id_number)
    assert Person.objects.get(name="李四").phone == "13900139000"


def roster_data(model) -> list[dict]:
    """The rows as the roster holds them, without the import's bookkeeping of when a run last
    matched them."""
    return list(model.objects.order_by("pk").values(*ROSTER_FIELDS[model]))


ROSTER_FIELDS = {
    model: [f.attname for f in model._meta.concrete_fields if f.name != "import_seen_at"]
    for model in (Household, Person)
}


def test_reimporting_the_same_file_changes_nothing(areas, tmp_path, good_rows):
    path = write_csv(tmp_path / "r.csv", good_rows)
    run_import(path, areas["G1"])
    before = roster_data(Person), roster_data(Household)
    second = run_import(path, areas["G1"])
    assert (second.created_count, second.updated_count, second.unchanged_count) == (0, 0, 3)
    assert (roster_data(Person), roster_data(Household)) == before
    assert RecordChange.objects.count() == 0


@pytest.mark.parametrize("batch_rows", [50, 1], ids=["one batch", "a batch per row"])
def test_a_household_number_with_two_addresses_is_a_conflict_in_every_run(
    areas, tmp_path, settings, batch_rows
):
    """A file that gives one household number two addresses: the second is refused as a
    conflict with the first row, and the stored address stays the first one, run after run
    (it used to flip between the two on every re-import)."""
    settings.ROSTER_IMPORT_CHUNK_ROWS = batch_rows
    rows = [
        ["H1", "张三", unique_id_number(), "", "户主", "天生路1号101"],
        ["H2", "李四", unique_id_number(), "", "户主", "天生路1号102"],
        ["H1", "王五", unique_id_number(), "", "配偶", "天生路9号909"],
    ]
    path = write_csv(tmp_path / "two.csv", rows)
    for _run in range(3):
        job = run_import(path, areas["G1"])
        assert job.rejected_count == 1
        assert reasons(job)[4] in (
            _("household number %(number)s has another address in row %(row)s")
            % {"number": "H1", "row": "2"},
            _("household number %(number)s has another address in an earlier row")
            % {"number": "H1"},
        )
        household = Household.objects.get(household_number="H1")
        assert (household.house_number, household.room) == ("1号", "101")
        assert not Person.objects.filter(name="王五").exists()
    assert RecordChange.objects.count() == 0


def test_a_person_repeated_in_a_later_batch_is_a_duplicate_in_every_run(areas, tmp_path, settings):
    settings.ROSTER_IMPORT_CHUNK_ROWS = 1
    number = unique_id_number()
    rows = [
        ["H1", "张三", number, "13800138000", "户主", "天生路1号101"],
        ["H1", "张三", number, "13700137000", "户主", "天生路1号101"],
    ]
    path = write_csv(tmp_path / "dup.csv", rows)
    for _run in range(3):
        job = run_import(path, areas["G1"])
        assert job.rejected_count == 1
        assert reasons(job)[3] in (
            _("duplicate: this ID number already appears in row %(row)s") % {"row": "2"},
            _("duplicate: this ID number already appears in an earlier row"),
        )
        assert Person.objects.get(id_number=number).phone == "13800138000"


def test_a_corrected_file_updates_in_place_with_history(areas, tmp_path, good_rows):
    run_import(write_csv(tmp_path / "r.csv", good_rows), areas["G1"])
    good_rows[0][3] = "13700137000"
    good_rows[2][5] = "天生路2号1栋2单元402"
    job = run_import(write_csv(tmp_path / "r2.csv", good_rows), areas["G1"])
    assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 2, 1)
    assert Person.objects.count() == 3
    assert Person.objects.get(name="张三").phone == "13700137000"
    assert Household.objects.get(household_number="H002").room == "402"
    change = RecordChange.objects.get(person__name="张三")
    assert change.changes["phone"] == ["138****8000", "137****7000"]  # masked in history


def test_bad_rows_are_rejected_with_reasons_and_good_rows_kept(areas, tmp_path):
    good = unique_id_number()
    wrong_check = valid_id_number(n=7)
    wrong_check = wrong_check[:-1] + ("1" if wrong_check[-1] != "1" else "2")
    body = f"500109{datetime.date.today().year + 1}0101011"
    future = body + ric.calc_check_digit(body + "0")
    rows = [
        ["H1", "好人", good, "13800138000", "户主", "天生路1号101"],
        ["H2", "错位", wrong_check, "13800138001", "户主", "天生路1号102"],
        ["H3", "未来", future, "13800138002", "户主", "天生路1号103"],
        ["H4", "短号", unique_id_number(), "1380013800", "户主", "天生路1号104"],
        ["H5", "", unique_id_number(), "13800138003", "户主", "天生路1号105"],
    ]
    job = run_import(write_csv(tmp_path / "bad.csv", rows), areas["G1"])
    assert job.created_count == 1 and job.rejected_count == 4 and accounted(job) == 5
    why = reasons(job)
    assert set(why) == {3, 4, 5, 6}  # file row numbers: the header is row 1
    assert "check digit" in why[3] or "校验位" in why[3]
    assert "future" in why[4] or "晚于今天" in why[4]
    assert "10" in why[5]
    assert "name" in why[6] or "姓名" in why[6]
    assert list(Person.objects.values_list("name", flat=True)) == ["好人"]


def test_duplicate_rows_are_reported_against_the_first(areas, tmp_path):
    number = unique_id_number()
    row = ["H1", "张三", number, "13800138000", "户主", "天生路1号101"]
    job = run_import(write_csv(tmp_path / "dup.csv", [row, list(row)]), areas["G1"])
    assert (job.created_count, job.rejected_count) == (1, 1)
    assert "2" in reasons(job)[3]
    assert Person.objects.filter(id_number=number).count() == 1


def test_a_household_number_with_two_addresses_is_rejected(areas, tmp_path):
    rows = [
        ["H1", "张三", unique_id_number(), "", "户主", "天生路1号101"],
        ["H1", "李四", unique_id_number(), "", "配偶", "北京路9号903"],
    ]
    job = run_import(write_csv(tmp_path / "addr.csv", rows), areas["G1"])
    assert job.rejected_count == 1
    assert "H1" in reasons(job)[3]
    assert Household.objects.get().address == "天生路1号101"


def test_an_id_number_of_another_household_is_a_conflict_not_a_copy(households, areas, tmp_path):
    taken = households["G2"].persons.first()
    rows = [["H9", taken.name, taken.id_number, "", "户主", "天生路1号101"]]
    job = run_import(write_csv(tmp_path / "c.csv", rows), areas["G1"])
    assert job.rejected_count == 1
    assert "HN-G2" in reasons(job)[2]  # from the shell: everything is in scope
    assert Person.objects.filter(id_number=taken.id_number).count() == 1


def test_a_conflict_inside_the_importers_jurisdiction_names_the_household(
    households, areas, tmp_path, user_for
):
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    taken = households["G2"].persons.first()  # G2 lies in C1
    rows = [["H9", taken.name, taken.id_number, "", "户主", "天生路1号101"]]
    job = run_import(write_csv(tmp_path / "c.csv", rows), areas["G1"], user=admin)
    assert "HN-G2" in reasons(job)[2]
    assert not AuditEvent.objects.filter(action="import.conflict_outside").exists()


def test_a_conflict_outside_the_importers_jurisdiction_names_nothing_and_is_audited(
    households, areas, tmp_path, user_for
):
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    taken = households["G4"].persons.first()  # G4 lies in another street
    rows = [
        ["H9", "某人", taken.id_number, "", "户主", "天生路1号101"],  # an ID number of G4
        ["HN-G3", "某人", unique_id_number(), "", "户主", "天生路1号102"],  # a household of C2
        ["H10", "好人", unique_id_number(), "", "户主", "天生路1号103"],
    ]
    job = run_import(write_csv(tmp_path / "c.csv", rows), areas["G1"], user=admin)
    outside = "与辖区外的记录冲突"
    assert reasons(job) == {2: outside, 3: outside}
    for household in ("HN-G4", "HN-G3"):
        assert household not in str(reasons(job))
    assert job.created_count == 1
    event = AuditEvent.objects.get(action="import.conflict_outside")
    assert event.user == admin and event.detail == {"rows": [2, 3], "count": 2}
    assert event.object_id == str(job.pk)
    assert Person.objects.filter(id_number=taken.id_number).count() == 1


def test_a_person_followed_up_without_a_household_is_a_conflict_and_the_batch_goes_on(
    households, areas, tmp_path, user_for
):
    """Follow-up keeps visitors as persons without a household; a roster row with such a
    person's number is refused with a reason (outside wording for a community admin, since no
    roster holds them) and the other rows of its batch are imported."""
    bare = PersonFactory(household=None, name="过客")
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    rows = [
        ["H9", "某人", bare.id_number, "", "户主", "天生路1号101"],
        ["H10", "好人", unique_id_number(), "", "户主", "天生路1号103"],
    ]
    job = run_import(write_csv(tmp_path / "b.csv", rows), areas["G1"], user=admin)
    assert job.status == "done"
    assert reasons(job) == {2: "与辖区外的记录冲突"}
    assert job.created_count == 1 and Person.objects.filter(name="好人").exists()
    assert Person.objects.get(pk=bare.pk).household_id is None
    # the shell (no importing user) sees everything and is told what the record is
    shell = run_import(write_csv(tmp_path / "s.csv", rows[:1]), areas["G1"])
    assert reasons(shell)[2] == _(
        "conflict: this ID number belongs to a person followed up without a household"
    )


def test_gbk_csv_is_read(areas, tmp_path, good_rows):
    job = run_import(write_csv(tmp_path / "gbk.csv", good_rows, encoding="gbk"), areas["G1"])
    assert job.created_count == 3 and Person.objects.filter(name="张三").exists()


def test_xlsx_with_header_on_row_three_under_a_merged_title(areas, tmp_path, good_rows):
    path = write_xlsx(tmp_path / "t.xlsx", good_rows, title="天生街道状元社区住户花名册")
    job = run_import(path, areas["G1"])
    assert job.header_row == 3
    assert (job.created_count, job.rejected_count) == (3, 0)


def test_old_xls_is_read(areas, tmp_path, good_rows):
    job = run_import(write_xls(tmp_path / "old.xls", good_rows), areas["G1"])
    assert job.file_format == "xls" and job.created_count == 3


def test_an_id_number_excel_turned_into_a_float_is_explained(areas, tmp_path):
    rows = [["H1", "张三", 500109199001011234.0, "13800138000", "户主", "天生路1号101"]]
    job = run_import(write_xlsx(tmp_path / "f.xlsx", rows), areas["G1"])
    assert job.rejected_count == 1
    assert "Excel" in reasons(job)[2]


def test_full_width_and_spaced_values_are_normalised(areas, tmp_path):
    number = unique_id_number()
    wide = number.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    rows = [["Ｈ１", " 张 三 ", wide.lower(), "１３８ ００１３ ８０００", "户主", "天生路1号101"]]
    job = run_import(write_csv(tmp_path / "w.csv", rows), areas["G1"])
    assert job.created_count == 1
    person = Person.objects.get()
    assert (person.id_number, person.phone, person.household.household_number) == (
        number,
        "13800138000",
        "H1",
    )


def test_an_empty_file_is_refused_before_anything_is_written(areas, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(UnreadableFile, match=r"empty|空"):
        run_import(path, areas["G1"])
    assert ImportJob.objects.count() == 0 and Person.objects.count() == 0


def test_a_file_that_is_not_a_spreadsheet_is_refused(areas, tmp_path):
    path = tmp_path / "photo.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(UnreadableFile):
        run_import(path, areas["G1"])
    assert ImportJob.objects.count() == 0


def test_missing_required_columns_are_reported_before_anything_is_written(areas, tmp_path):
    path = write_csv(tmp_path / "m.csv", [["张三", "天生路1号"]], header=["姓名", "地址"])
    with open(path, "rb") as stream:
        job = roster_import_create(user=None, area=areas["G1"], stream=stream, original_name="m")
    with pytest.raises(ValidationError) as error:
        roster_import_start(user=None, job=job, enqueue=False)
    assert any("ID" in m or "身份证" in m for m in error.value.messages)
    assert Person.objects.count() == 0


def test_rows_into_an_area_above_grid_need_a_known_grid(areas, tmp_path):
    header = [*HEADER, "社区", "网格"]
    rows = [
        ["H1", "甲", unique_id_number(), "", "户主", "天生路1号101", "状元社区", "第2网格"],
        ["H2", "乙", unique_id_number(), "", "户主", "天生路1号102", "新华社区", "第1网格"],
        ["H3", "丙", unique_id_number(), "", "户主", "天生路1号103", "", "第1网格"],
    ]
    job = run_import(write_csv(tmp_path / "g.csv", rows, header=header), areas["S1"])
    assert job.created_count == 1
    assert Person.objects.get().household.grid == areas["G2"]
    why = reasons(job)
    assert "第1网格" in why[3]  # 新华社区 lies in the other street
    assert "第1网格" in why[4]  # two grids of S1 share this name


def test_a_user_cannot_import_outside_their_jurisdiction(user_for, areas, tmp_path, good_rows):
    admin = user_for()  # community admin of C1
    path = write_csv(tmp_path / "r.csv", good_rows)
    with open(path, "rb") as stream, pytest.raises(PermissionDenied):
        roster_import_create(user=admin, area=areas["C3"], stream=stream, original_name="r.csv")
    assert ImportJob.objects.count() == 0 and Person.objects.count() == 0


def test_a_household_outside_the_import_area_is_not_taken_over(households, areas, tmp_path):
    rows = [["HN-G4", "新人", unique_id_number(), "", "户主", "天生路1号101"]]
    job = run_import(write_csv(tmp_path / "o.csv", rows), areas["G1"])
    assert job.rejected_count == 1
    assert households["G4"].persons.count() == 2
    assert Household.objects.get(household_number="HN-G4").grid == areas["G4"]


def test_rejected_rows_workbook_holds_row_numbers_values_and_reasons(areas, tmp_path):
    good = unique_id_number()
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    rows = [
        ["H1", "好人", unique_id_number(), "13800138000", "户主", "天生路1号101"],
        ["H2", "坏号", bad, "13800138000", "户主", "天生路1号102"],
    ]
    job = run_import(write_csv(tmp_path / "x.csv", rows), areas["G1"])
    path = rejections_workbook(job)
    sheet = CalamineWorkbook.from_path(path).get_sheet_by_index(0).to_python()
    assert sheet[0][1:7] == HEADER
    assert sheet[1][0] == 3 and sheet[1][2] == "坏号" and sheet[1][3] == bad
    assert sheet[1][-1]


def test_existing_member_without_id_matched_by_name(areas, tmp_path):
    household = HouseholdFactory(grid=areas["G1"], household_number="H1", address="天生路1号101")
    PersonFactory(household=household, name="小宝", id_number=None, id_type="none", phone="")
    rows = [["H1", "小宝", "", "", "子", "天生路1号101"]]
    job = run_import(write_csv(tmp_path / "n.csv", rows), areas["G1"])
    assert job.created_count == 0 and Person.objects.count() == 1
    assert Person.objects.get().relation == "子"


def test_a_few_thousand_rows_across_many_batches(areas, tmp_path, settings):
    settings.ROSTER_IMPORT_CHUNK_ROWS = 500
    rows = [
        [f"H{i // 3}", f"人{i}", unique_id_number(), "", "户主", f"天生路{i // 3}号"]
        for i in range(3000)
    ]
    path = write_csv(tmp_path / "big.csv", rows)
    job = run_import(path, areas["G1"])
    assert job.created_count == 3000 and Household.objects.count() == 1000


def test_duplicates_and_address_clashes_are_caught_across_batches(areas, tmp_path, settings):
    settings.ROSTER_IMPORT_CHUNK_ROWS = 2  # every pair of rows is its own batch
    number = unique_id_number()
    rows = [
        ["H1", "张三", number, "", "户主", "天生路1号101"],
        ["H2", "李四", unique_id_number(), "", "户主", "天生路1号102"],
        ["H3", "张三", number, "", "户主", "天生路1号103"],  # same ID, a later batch
        ["H1", "王五", unique_id_number(), "", "子", "北京路9号901"],  # H1 with another address
        ["H1", "赵六", unique_id_number(), "", "女", "天生路1号101"],  # H1 as first given: fine
    ]
    job = run_import(write_csv(tmp_path / "xb.csv", rows), areas["G1"])
    why = reasons(job)
    assert (job.created_count, job.rejected_count) == (3, 2) and accounted(job) == 5
    assert set(why) == {4, 5}
    assert "earlier" in why[4] or "之前" in why[4] or "前面" in why[4] or "重复" in why[4]
    assert "H1" in why[5]
    assert Household.objects.get(household_number="H1").address == "天生路1号101"
    # the refused row's new household number leaves no empty household behind
    assert not Household.objects.filter(household_number="H3").exists()
    # and the file imported again is all unchanged, nothing reported as duplicate
    again = run_import(write_csv(tmp_path / "xb2.csv", [rows[0], rows[1], rows[4]]), areas["G1"])
    assert (again.unchanged_count, again.rejected_count) == (3, 0)


def test_planner_statistics_refresh_runs_on_this_database(households):
    from doorstep.imports.services import _refresh_planner_statistics

    _refresh_planner_statistics()  # ANALYZE on PostgreSQL, PRAGMA optimize on SQLite
    assert Person.objects.count() == 8
