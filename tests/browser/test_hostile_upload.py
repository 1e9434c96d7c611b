"""A hostile spreadsheet and a roster with unusable rows, uploaded from the browser: the refusal
says why in Chinese and the server keeps serving; the column check shows a masked preview of
numbers typed in groups; unusable rows end rejected with their reason."""

import re

import pytest

from doorstep.accounts.models import Role
from doorstep.imports.models import ImportJob
from doorstep.registry.models import Person
from tests.factories import unique_id_number
from tests.hostile_sheets import csv_with_late_trouble, used_range_xfd

from .helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def upload(page, live_server, path):
    page.goto(f"{live_server.url}/imports/roster/new/")
    page.locator("select[name=area]").select_option("G1")
    page.locator("input[type=file][name=file]").set_input_files(path)
    page.locator("main form button[type=submit]").click()


def test_a_hostile_sheet_is_refused_and_unusable_rows_are_rejected_with_reasons(
    page, live_server, user_for, login, tmp_path, shot
):
    login(page, user_for(Role.COMMUNITY_ADMIN))
    upload(page, live_server, used_range_xfd(tmp_path / "名单.xlsx"))
    expect(page.locator(".errorlist")).to_contain_text("表格超过 100 列")
    shot(page, "refused")
    assert ImportJob.objects.count() == 0

    number = unique_id_number()
    good = [
        ["H-1", "王大明", f"{number[:6]} {number[6:14]} {number[14:]}"],
        ["H-2", "李小红", unique_id_number()],
    ]
    path = csv_with_late_trouble(tmp_path / "居民名单.csv", good, ["户号", "姓名", "身份证号"])
    upload(page, live_server, path)
    expect(page).to_have_url(re.compile(r"/imports/[0-9a-f-]{36}/$"))
    preview = page.locator("#preview")
    expect(preview).to_contain_text("王大明")
    expect(preview).to_contain_text(number[:6] + "********" + number[-4:])
    expect(preview).not_to_contain_text(number[6:14])
    shot(page, "masked preview")

    page.get_by_role("button", name=re.compile("开始导入|Start import", re.I)).click()
    expect(page.locator("#job-card")).to_have_attribute("data-status", "done", timeout=20_000)
    rejections = page.locator("#rejections")
    expect(rejections).to_contain_text("单元格过长")
    expect(rejections).to_contain_text("无法识别的字符")
    expect(rejections).to_contain_text("空字符")
    shot(page, "rows rejected with reasons")
    assert Person.objects.filter(name__in=["王大明", "李小红"]).count() == 2
