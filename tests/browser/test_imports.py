"""Importing a resident list from the browser: upload, column check, progress, rejected rows."""

import csv
import re

import pytest
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.imports.models import ImportJob
from doorstep.registry.models import Person
from tests.factories import unique_id_number

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADER = ["户号", "姓名", "身份证号", "联系电话", "与户主关系", "地址"]
EXPECTED_MAPPING = ["household_number", "name", "id_number", "phone", "relation", "address"]


def wrong_check_digit(id_number: str) -> str:
    return id_number[:-1] + ("1" if id_number[-1] != "1" else "2")


@pytest.fixture
def roster_csv(tmp_path):
    """Six data rows (file rows 2–7): three good, then rows 4, 5, 6 bad, then one more good."""
    rows = [
        HEADER,
        ["H-100", "王大明", unique_id_number(), "13800138000", "户主", "天生路2号1栋1单元101"],
        ["H-100", "李小红", unique_id_number(), "13900139000", "配偶", "天生路2号1栋1单元101"],
        ["H-101", "赵四", wrong_check_digit(unique_id_number()), "13700137000", "户主",
         "天生路2号1栋1单元102"],
        ["H-102", "钱五", unique_id_number(), "1380013800", "户主", "天生路2号1栋1单元103"],
        ["H-103", "", unique_id_number(), "13600136000", "户主", "天生路2号1栋1单元104"],
        ["H-104", "孙七", unique_id_number(), "", "户主", "天生路2号1栋1单元201"],
    ]  # fmt: skip
    path = tmp_path / "居民名单.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path, rows


def open_upload_form(page, live_server, login, user):
    login(page, user)
    page.locator("header nav").get_by_role("link", name=re.compile("Imports|导入")).click()
    expect(page).to_have_url(f"{live_server.url}/imports/")
    page.locator("main a.button").click()
    expect(page).to_have_url(f"{live_server.url}/imports/roster/new/")


def test_import_with_rejected_rows(page, live_server, user_for, login, roster_csv, tmp_path, shot):
    path, rows = roster_csv
    user = user_for(Role.COMMUNITY_ADMIN)  # C1
    open_upload_form(page, live_server, login, user)

    area = page.locator("select[name=area]")
    options = area.locator("option")
    expect(options).to_have_count(3)  # C1 and its grids G1, G2; nothing outside
    expect(area).not_to_contain_text("(G3)")
    area.select_option("G1")
    page.locator("input[type=file][name=file]").set_input_files(path)
    shot(page, "upload")
    page.locator("main form button[type=submit]").click()

    # Column check: every header recognised, nothing imported yet.
    expect(page).to_have_url(re.compile(r"/imports/[0-9a-f-]{36}/$"))
    expect(page.locator("h1")).to_contain_text("居民名单.csv")
    expect(page.locator("#mapping-problems")).to_have_count(0)
    for index, field in enumerate(EXPECTED_MAPPING):
        expect(page.locator(f"select[name=column_{index}]")).to_have_value(field)
    expect(page.locator("#mapping tbody")).to_contain_text("身份证号")
    assert not Person.objects.filter(name="王大明").exists()
    shot(page, "mapping")

    page.get_by_role("button", name=re.compile("开始导入|Start import", re.I)).click()
    card = page.locator("#job-card")
    expect(card).to_have_attribute("data-status", "done", timeout=20_000)
    expect(page.locator("#job-status")).to_have_text(re.compile("完成|done", re.I))
    counts = page.locator("#job-counts .stat b")
    expect(counts.nth(0)).to_have_text("3")  # created
    expect(counts.nth(3)).to_have_text("3")  # rejected
    rejected = page.locator("#rejections tbody tr")
    expect(rejected).to_have_count(3)
    for position, row_number in enumerate((4, 5, 6)):
        cells = rejected.nth(position).locator("td")
        expect(cells.nth(0)).to_have_text(str(row_number))
        expect(cells.nth(1)).to_have_text(re.compile(r"\S"))
    expect(rejected.nth(1)).to_contain_text("10")  # the phone had 10 digits
    shot(page, "done")

    imported = Person.objects.filter(household__grid__code="G1").values_list("name", flat=True)
    assert set(imported) == {"王大明", "李小红", "孙七"}

    with page.expect_download() as download_info:
        page.locator("#download-rejections").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".xlsx")
    assert "居民名单" in download.suggested_filename  # non-ASCII Content-Disposition survives
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes()[:4] == b"PK\x03\x04"

    workbook = CalamineWorkbook.from_path(str(saved))
    sheet = workbook.get_sheet_by_name(workbook.sheet_names[0]).to_python()
    header, *data = sheet
    assert len(header) == len(HEADER) + 2  # row number, the file's columns, the reason
    assert header[1:-1] == HEADER
    assert [int(r[0]) for r in data] == [4, 5, 6]
    assert [r[1:-1] for r in data] == rows[3:6]  # the original values, as text
    assert all(str(r[-1]).strip() for r in data), "every rejected row needs a reason"
    reasons_on_page = [rejected.nth(i).locator("td").nth(1).inner_text() for i in range(3)]
    assert [r[-1] for r in data] == reasons_on_page


def test_upload_of_a_non_spreadsheet_shows_an_error(
    page, live_server, user_for, login, tmp_path, shot
):
    junk = tmp_path / "名单.xlsx"
    junk.write_bytes(b"\x00\x01\x02garbage\xff\x00" * 200)
    open_upload_form(page, live_server, login, user_for(Role.COMMUNITY_ADMIN))
    page.locator("select[name=area]").select_option("G1")
    page.locator("input[type=file][name=file]").set_input_files(junk)
    page.locator("main form button[type=submit]").click()

    expect(page).to_have_url(f"{live_server.url}/imports/roster/new/")
    errors = page.locator("#errors-file .errorlist")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text(re.compile("XLSX|spreadsheet|表格", re.I))
    expect(page.locator("select[name=area]")).to_have_value("G1")  # the choice is kept
    assert not ImportJob.objects.exists()
    shot(page, "error")


def test_an_interrupted_import_is_resumed_from_its_page(
    page, live_server, user_for, login, tmp_path, settings, shot
):
    """The process died after two batches: the page says so, and one click finishes the file
    from the next row, each row once."""
    import subprocess

    from django.utils import timezone

    from doorstep.imports.models import ImportStatus
    from doorstep.imports.selectors import import_runner_id
    from doorstep.imports.services import (
        roster_import_create,
        roster_import_run,
        roster_import_start,
    )

    settings.ROSTER_IMPORT_CHUNK_ROWS = 10
    user = user_for(Role.COMMUNITY_ADMIN)  # C1
    path = tmp_path / "大名单.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(
            [HEADER]
            + [
                [f"H-{i}", f"居民{i}", unique_id_number(), "", "户主", f"天生路3号{100 + i}"]
                for i in range(35)
            ]
        )
    area = user.jurisdiction_area.children.get(code="G1")
    with open(path, "rb") as stream:
        job = roster_import_create(user=user, area=area, stream=stream, original_name=path.name)
    roster_import_start(user=user, job=job, enqueue=False)

    def killed_after_two_batches(current):
        if current.rows_done >= 20:
            raise KeyboardInterrupt  # not caught by the run: the job stays "running"

    with pytest.raises(KeyboardInterrupt):
        roster_import_run(job_id=job.pk, on_progress=killed_after_two_batches)
    gone = subprocess.Popen(["true"])
    gone.wait()
    host, namespace, _pid, nonce = import_runner_id().split(":")
    ImportJob.objects.filter(pk=job.pk).update(
        runner=f"{host}:{namespace}:{gone.pid}:{nonce}", heartbeat_at=timezone.now()
    )
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.RUNNING

    login(page, user)
    page.goto(f"{live_server.url}/imports/{job.pk}/")
    expect(page.locator("#job-interrupted")).to_contain_text("21")
    expect(page.locator("#job-status")).to_have_text("已中断")
    expect(page.locator("#job-counts .stat b").nth(0)).to_have_text("20")
    shot(page, "interrupted")
    page.locator("#resume-import").click()
    card = page.locator("#job-card")
    expect(card).to_have_attribute("data-status", "done", timeout=20_000)
    expect(page.locator("#job-counts .stat b").nth(0)).to_have_text("35")
    expect(page.locator("#resume-import")).to_have_count(0)
    shot(page, "resumed")
    names = Person.objects.filter(household__grid__code="G1").values_list("name", flat=True)
    assert sorted(names) == sorted(f"居民{i}" for i in range(35))
