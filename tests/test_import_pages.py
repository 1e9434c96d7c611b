"""The browser import flow through HTTP: upload, column check, start, progress, rejected rows."""

import io

from django.urls import reverse
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.imports.models import ImportJob
from doorstep.registry.models import Person

from .factories import unique_id_number
from .sheets import write_csv


def upload(client, path, area_code):
    with open(path, "rb") as handle:
        return client.post(reverse("imports:roster_upload"), {"area": area_code, "file": handle})


def test_upload_check_columns_start_and_report(
    client_for, areas, tmp_path, django_capture_on_commit_callbacks
):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    good, bad = unique_id_number(), unique_id_number()
    bad = bad[:-1] + ("1" if bad[-1] != "1" else "2")
    path = write_csv(
        tmp_path / "名单.csv",
        [
            ["H1", "张三", good, "13800138000", "户主", "天生路1号101"],
            ["H2", "李四", bad, "13800138001", "户主", "天生路1号102"],
        ],
        header=["户编号", "姓名", "公民身份号码", "手机号", "与户主关系", "现住址", "备注"],
    )
    response = upload(client, path, "G1")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/imports/{job.pk}/")
    page = client.get(response["Location"]).content.decode()
    assert 'name="column_0"' in page and "张三" in page  # mapping form and preview rows
    assert job.mapping == {
        "0": "household_number",
        "1": "name",
        "2": "id_number",
        "3": "phone",
        "4": "relation",
        "5": "address",
    }
    with django_capture_on_commit_callbacks(execute=True):  # the worker picks the job up
        response = client.post(
            reverse("imports:job_start", args=[job.pk]),
            {f"column_{i}": f for i, f in job.mapping.items()},
        )
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created_count, job.rejected_count) == ("done", 1, 1)
    progress = client.get(reverse("imports:job_progress", args=[job.pk])).content.decode()
    assert 'data-status="done"' in progress and "download-rejections" in progress
    # a second click on start changes nothing
    client.post(reverse("imports:job_start", args=[job.pk]), {})
    assert Person.objects.count() == 1
    download = client.post(reverse("imports:job_rejections", args=[job.pk]), {"purpose": "更正"})
    assert download.status_code == 200
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(download.streaming_content)))
    rows = workbook.get_sheet_by_index(0).to_python()
    assert rows[1][0] == 3 and rows[1][2] == "李四"
    assert AuditEvent.objects.filter(action="import.rejections.export", purpose="更正").exists()


def test_remapping_columns_before_start(
    client_for, areas, tmp_path, django_capture_on_commit_callbacks
):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    path = write_csv(
        tmp_path / "r.csv",
        [["H1", "张三", unique_id_number(), "户主", "甲"]],
        header=["编号", "姓名", "身份证号", "与户主关系", "地址"],
    )
    upload(client, path, "G1")
    job = ImportJob.objects.get()
    assert "0" not in job.mapping  # "编号" is not recognised as 户号 on its own
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("imports:job_start", args=[job.pk]),
            {
                "column_0": "household_number",
                "column_1": "name",
                "column_2": "id_number",
                "column_3": "relation",
            },
        )
    assert response.status_code == 302
    assert Person.objects.get().household.household_number == "H1"


def test_missing_required_column_is_shown_and_nothing_is_imported(client_for, areas, tmp_path):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    path = write_csv(tmp_path / "r.csv", [["张三", "天生路1号"]], header=["姓名", "地址"])
    upload(client, path, "G1")
    job = ImportJob.objects.get()
    response = client.post(
        reverse("imports:job_start", args=[job.pk]), {"column_0": "name", "column_1": "address"}
    )
    assert response.status_code == 400
    assert "mapping-problems" in response.content.decode()
    job.refresh_from_db()
    assert job.status == "uploaded" and Person.objects.count() == 0


def test_a_non_spreadsheet_upload_gets_a_clear_error(client_for, areas, tmp_path):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"\x00\x01\x02garbage" * 100)
    response = upload(client, path, "G1")
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_an_area_outside_the_jurisdiction_is_not_offered_nor_accepted(client_for, areas, tmp_path):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    page = client.get(reverse("imports:roster_upload")).content.decode()
    # option values, not bare substrings: a random CSRF token may well contain "C3"
    assert 'value="G1"' in page
    assert 'value="C3"' not in page and 'value="G4"' not in page
    path = write_csv(tmp_path / "r.csv", [["H1", "张三", unique_id_number(), "", "户主", "a"]])
    response = upload(client, path, "G4")
    assert response.status_code == 200 and ImportJob.objects.count() == 0


def test_another_communitys_job_is_404(client_for, areas, tmp_path):
    owner = client_for(Role.COMMUNITY_ADMIN, "C1")
    path = write_csv(tmp_path / "r.csv", [["H1", "张三", unique_id_number(), "", "户主", "a"]])
    upload(owner, path, "G1")
    job = ImportJob.objects.get()
    other = client_for(Role.COMMUNITY_ADMIN, "C2")
    for name in ("imports:job", "imports:job_progress"):
        assert other.get(reverse(name, args=[job.pk])).status_code == 404
    download = reverse("imports:job_rejections", args=[job.pk])
    assert other.post(download, {"purpose": "x"}).status_code == 404
    assert other.post(reverse("imports:job_start", args=[job.pk]), {}).status_code == 404
    job.refresh_from_db()
    assert job.status == "uploaded"


def test_grid_workers_cannot_import(client_for, areas):
    client = client_for(Role.GRID_WORKER, "G1")
    assert client.get(reverse("imports:roster_upload")).status_code == 403
    assert client.get(reverse("imports:list")).status_code == 403


def test_a_refused_upload_leaves_no_file_behind(client_for, areas, tmp_path, settings):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"\x00\x01\x02garbage" * 100)
    upload(client, path, "G1")
    assert list(settings.IMPORT_FILE_DIR.glob("*")) == []  # the folder was made for the upload
    assert ImportJob.objects.count() == 0


def test_the_column_check_preview_masks_numbers(client_for, areas, tmp_path):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    number = unique_id_number()
    path = write_csv(tmp_path / "r.csv", [["H1", "张三", number, "13800138000", "户主", "a"]])
    response = upload(client, path, "G1")
    page = client.get(response["Location"]).content.decode()
    assert "张三" in page and number not in page and "13800138000" not in page
