"""Hostile sheets through every upload path of the roster and accounts pages and the areas
command (the visit sheet's are in tests/screening/test_hostile_visit_sheets.py): each is refused
with its reason in Chinese, nothing is written, and the server answers the next request.

Rows a reader can read but not use (a cell over the cap, bytes that are not text, a NUL) are
rejected row by row with the reason, and the rows around them go in.
"""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area
from doorstep.imports.models import ImportJob, ImportRejection
from doorstep.registry.models import Person

from .factories import unique_id_number
from .hostile_sheets import HOSTILE, csv_with_late_trouble
from .import_flow import upload_and_start

CASES = pytest.mark.parametrize("case", list(HOSTILE))


def hostile_file(tmp_path, case: str):
    build, words = HOSTILE[case]
    suffix = ".xls" if "XLS" in case else ".ods" if "ODS" in case else ".xlsx"
    return build(tmp_path / f"hostile{suffix}"), words


def still_serving(client) -> None:
    assert client.get(reverse("home")).status_code == 200


@CASES
def test_a_hostile_roster_is_refused_at_upload(case, client_for, areas, tmp_path, settings):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    path, words = hostile_file(tmp_path, case)
    with open(path, "rb") as handle:
        response = client.post(reverse("imports:roster_upload"), {"area": "G1", "file": handle})
    body = response.content.decode()
    assert response.status_code == 200 and "errorlist" in body
    assert re.search(words, body), body[body.find("errorlist") :][:300]
    assert ImportJob.objects.count() == 0 and Person.objects.count() == 0
    assert list(settings.IMPORT_FILE_DIR.glob("*")) == []  # the upload is not kept
    still_serving(client)


@CASES
def test_a_hostile_account_sheet_is_refused(case, client_for, areas, tmp_path):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    before = User.objects.count()
    path, words = hostile_file(tmp_path, case)
    with open(path, "rb") as handle:
        response = client.post(reverse("accounts:users_import"), {"file": handle})
    body = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in body
    assert re.search(words, body)
    assert User.objects.count() == before
    still_serving(client)


@CASES
def test_a_hostile_area_sheet_is_refused_by_the_command(case, areas, tmp_path, client_for):
    before = Area.objects.count()
    path, words = hostile_file(tmp_path, case)
    with pytest.raises(CommandError) as refused:
        call_command("import_areas", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert refused.value.returncode == 2 and re.search(words, str(refused.value))
    assert Area.objects.count() == before
    still_serving(client_for(Role.COMMUNITY_ADMIN, "C1"))


# -- rows that cannot be used, late in a file -----------------------------------------------
def test_a_roster_with_unreadable_rows_late_imports_the_rest_and_rejects_those(
    client_for, areas, tmp_path, django_capture_on_commit_callbacks
):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    good = [[f"H{i}", f"张{i}", unique_id_number()] for i in range(1, 6)]
    path = csv_with_late_trouble(tmp_path / "r.csv", good, ["户号", "姓名", "身份证号"])
    job = upload_and_start(client, path, "G1", django_capture_on_commit_callbacks)
    assert (job.status, job.created_count, job.rejected_count) == ("done", 5, 3)
    reasons = dict(ImportRejection.objects.filter(job=job).values_list("row_number", "reason"))
    assert reasons == {
        6: "C 列：单元格过长（超过 32,767 个字符）",
        7: "此行含有无法识别的字符（不是有效的 UTF-8 编码文本）",
        8: "B 列含有空字符（NUL）",
    }
    assert Person.objects.filter(name__in=[r[1] for r in good]).count() == 5
    assert not Person.objects.filter(name__contains="\ufffd").exists()
    page = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert "单元格过长" in page and "resume-import" not in page


def test_an_account_sheet_with_unreadable_rows_creates_the_others(client_for, areas, tmp_path):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    good = [["worker-a", "王一", "网格员", "G1", ""], ["worker-b", "王二", "网格员", "G2", ""]]
    path = csv_with_late_trouble(
        tmp_path / "u.csv", good, ["用户名", "姓名", "角色", "区域代码", "手机号"]
    )
    with open(path, "rb") as handle:
        body = client.post(reverse("accounts:users_import"), {"file": handle}).content.decode()
    assert set(
        User.objects.filter(username__startswith="worker-").values_list("username", flat=True)
    ) == {
        "worker-a",
        "worker-b",
    }
    for reason in ("单元格过长", "无法识别的字符", "空字符"):
        assert reason in body
    assert not User.objects.filter(username__in=["X1", "X2", "X3"]).exists()


def test_an_area_sheet_with_unreadable_rows_rejects_them_by_row(db, tmp_path):
    good = [["500109", "北碚区", "区县", ""], ["500109001", "天生街道", "街道", "500109"]]
    path = csv_with_late_trouble(tmp_path / "a.csv", good, ["代码", "名称", "级别", "上级代码"])
    err = io.StringIO()
    with pytest.raises(SystemExit) as ended:
        call_command("import_areas", str(path), stdout=io.StringIO(), stderr=err)
    assert ended.value.code == 1
    assert set(Area.objects.values_list("code", flat=True)) == {"500109", "500109001"}
    lines = err.getvalue().splitlines()
    assert lines == [
        "row 3: C 列：单元格过长（超过 32,767 个字符）",
        "row 4: 此行含有无法识别的字符（不是有效的 UTF-8 编码文本）",
        "row 5: B 列含有空字符（NUL）",
    ]
