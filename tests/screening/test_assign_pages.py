"""Assignment (包片分工) and claim (认领) through the pages; the visit sheet of an assignment."""

import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.core.models import AuditEvent
from doorstep.screening.models import Assignment, HouseholdProgress, PersonCheck, Visit
from doorstep.screening.services import campaign_enrol_households, visit_record
from doorstep.screening.sheets import COLUMNS
from tests.factories import HouseholdFactory, PersonFactory
from tests.sheets import write_xlsx

from .conftest import screened

PURPOSE = {"purpose": "入户排查"}


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def assign_url(campaign, area: str = "") -> str:
    url = reverse("screening:assign", args=[campaign.pk])
    return f"{url}?area={area}" if area else url


def holders(campaign) -> dict:
    return dict(
        HouseholdProgress.objects.filter(campaign=campaign).values_list(
            "household__household_number", "assigned_to"
        )
    )


def test_the_admin_sees_the_grids_of_their_community(client_for, campaign, worker, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    body = client.get(assign_url(campaign)).content.decode()
    assert 'id="grid-G1"' in body and 'id="grid-G2"' in body and 'id="grid-G3"' not in body
    assert worker.display_name in body
    # a grid shows its buildings
    body = client.get(assign_url(campaign, "G1")).content.decode()
    assert 'id="buildings"' in body and "1栋" in body
    # outside the jurisdiction is not found
    assert client.get(assign_url(campaign, "G3")).status_code == 404
    assert client.get(assign_url(campaign, "S1")).status_code == 404


def test_giving_a_grid_to_a_worker(client_for, user_for, campaign, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    g2_worker = user_for(Role.GRID_WORKER, "G2")
    assert g2_worker.display_name in client.get(assign_url(campaign, "C1")).content.decode()
    response = client.post(assign_url(campaign), {"grid": "G2", "worker": g2_worker.pk})
    assert response.status_code == 302
    assert holders(campaign)["HN-G2"] == g2_worker.pk
    assert Assignment.objects.get(grid__code="G2").worker == g2_worker


def test_reassigning_keeps_the_visits(client_for, user_for, campaign, worker, households):
    visit, _created = visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    other = user_for(Role.GRID_WORKER, "G1")
    client.post(assign_url(campaign), {"grid": "G1", "building": "1", "worker": other.pk})
    assert holders(campaign)["HN-G1"] == other.pk
    assert Visit.objects.get() == visit and PersonCheck.objects.count() == 2
    progress = HouseholdProgress.objects.get(campaign=campaign, household=households["G1"])
    assert progress.state == "screened"


def test_a_worker_of_another_grid_cannot_be_given_the_grid(
    client_for, user_for, campaign, worker, households
):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    before = holders(campaign)
    g2_worker = user_for(Role.GRID_WORKER, "G2")
    response = client.post(assign_url(campaign), {"grid": "G1", "worker": g2_worker.pk})
    assert response.status_code == 302
    assert holders(campaign) == before and Assignment.objects.count() == 1


def test_denied_assignments_change_nothing(client_for, user_for, campaign, worker, households):
    before = (holders(campaign), list(Assignment.objects.values()))
    g3_worker = user_for(Role.GRID_WORKER, "G3")
    g2_worker = user_for(Role.GRID_WORKER, "G2")
    # a grid worker may not hand out work
    response = login(worker).post(assign_url(campaign), {"grid": "G2", "worker": g2_worker.pk})
    assert response.status_code == 403
    # an admin may not assign a grid of another community
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    response = admin.post(assign_url(campaign), {"grid": "G3", "worker": g3_worker.pk})
    assert response.status_code == 404
    # an account without an area does not see the campaign
    nobody = client_for(Role.CHECKPOINT_OFFICER, None)
    assert nobody.post(assign_url(campaign), {"grid": "G1", "worker": 1}).status_code == 404
    assert (holders(campaign), list(Assignment.objects.values())) == before


def test_a_worker_claims_an_unassigned_block(user_for, campaign, worker, households):
    g2_worker = user_for(Role.GRID_WORKER, "G2")
    client = login(g2_worker)
    body = client.get(assign_url(campaign)).content.decode()
    assert 'id="claimable"' in body and 'value="G2"' in body
    assert 'value="G1"' not in body  # held by someone already
    response = client.post(reverse("screening:assign_claim", args=[campaign.pk]), {"grid": "G2"})
    assert response.status_code == 302
    assert holders(campaign)["HN-G2"] == g2_worker.pk
    assert Assignment.objects.get(worker=g2_worker).claimed
    # a second worker of the grid cannot claim it again
    second = login(user_for(Role.GRID_WORKER, "G2"))
    second.post(reverse("screening:assign_claim", args=[campaign.pk]), {"grid": "G2"})
    assert holders(campaign)["HN-G2"] == g2_worker.pk
    assert Assignment.objects.filter(grid__code="G2").count() == 1


def test_claims_outside_the_workers_area_or_by_admins_are_refused(
    client_for, user_for, campaign, households
):
    claim = reverse("screening:assign_claim", args=[campaign.pk])
    before = holders(campaign)
    assert login(user_for(Role.GRID_WORKER, "G2")).post(claim, {"grid": "G3"}).status_code == 404
    assert client_for(Role.COMMUNITY_ADMIN, "C1").post(claim, {"grid": "G2"}).status_code == 403
    assert holders(campaign) == before and Assignment.objects.count() == 0


# -- the visit sheet --------------------------------------------------------------------------
@pytest.fixture
def block(campaign, worker, households, areas):
    """G1 with three households of two members each, all held by the worker."""
    extra = []
    for room in ("301", "401"):
        household = HouseholdFactory(grid=areas["G1"], household_number=f"HN-{room}", room=room)
        PersonFactory(household=household, name=f"户主{room}", relation="户主")
        PersonFactory(household=household, name=f"家人{room}", relation="子")
        extra.append(household)
    campaign_enrol_households(campaign=campaign)
    HouseholdProgress.objects.filter(campaign=campaign, grid=areas["G1"]).update(assigned_to=worker)
    return Assignment.objects.get(worker=worker)


def sheet_rows(content: bytes) -> list[list]:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
    return workbook.get_sheet_by_name(workbook.sheet_names[0]).to_python()


def upload(client, campaign, assignment, path):
    with open(path, "rb") as handle:
        return client.post(
            reverse("screening:assignment_upload", args=[campaign.pk, assignment.pk]),
            {"file": handle},
        )


def filled(rows: list[list], when: str) -> list[list]:
    """HN-G1 screened; HN-301 screened with one temperature slip; HN-401 left blank."""
    out = []
    for row in rows[1:]:
        row = ["" if c is None else str(c) for c in row]
        row[10] = str(int(float(row[10])))
        if row[0] in ("HN-G1", "HN-301"):
            row[4], row[5], row[6] = "已排查", when, "36.6"
        if row[2] == "家人301":
            row[6] = "365"
        out.append(row)
    return out


def test_template_upload_and_reupload(worker, campaign, block, tmp_path):
    client = login(worker)
    template = client.post(
        reverse("screening:assignment_template", args=[campaign.pk, block.pk]), PURPOSE
    )
    assert template.status_code == 200
    rows = sheet_rows(template.content)
    assert rows[0] == COLUMNS
    assert [r[0] for r in rows[1:]].count("HN-301") == 2 and len(rows) == 7
    when = (timezone.localtime() - timezone.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    path = write_xlsx(tmp_path / "filled.xlsx", filled(rows, when), header=COLUMNS)
    response = upload(client, campaign, block, path)
    body = response.content.decode()
    assert response.status_code == 200
    report_url = reverse("screening:assignment_upload_report", args=[campaign.pk, block.pk])
    found = re.findall(r'data-status="(\w+)" data-row="(\d+)"', body)
    by_row = {int(row): status for status, row in found}
    assert len(by_row) == 6
    numbers = [r[0] for r in rows[1:]]
    bad_row = next(i for i, r in enumerate(rows) if r[2] == "家人301") + 1
    for index, number in enumerate(numbers, start=2):
        expected = {"HN-G1": "accepted", "HN-301": "rejected", "HN-401": "skipped"}[number]
        assert by_row[index] == expected, (index, number)
    reasons = {int(r[0]): r[4] for r in sheet_rows(client.post(report_url, PURPOSE).content)[1:]}
    assert "36.5" in reasons[bad_row]
    other_row = next(i for i, r in enumerate(rows) if r[2] == "户主301") + 1
    assert str(bad_row) in reasons[other_row]  # not recorded because of the bad row
    assert Visit.objects.count() == 1 and Visit.objects.get().source == "sheet"
    assert PersonCheck.objects.count() == 2
    report = client.post(
        reverse("screening:assignment_upload_report", args=[campaign.pk, block.pk]), PURPOSE
    )
    report_rows = sheet_rows(report.content)
    assert len(report_rows) == 7
    assert any(int(r[0]) == bad_row and "36.5" in r[4] for r in report_rows[1:])

    # the same file again records nothing new
    body = upload(client, campaign, block, path).content.decode()
    assert Visit.objects.count() == 1 and PersonCheck.objects.count() == 2
    assert body.count('data-status="duplicate"') == 2


def test_another_worker_cannot_use_the_sheet(user_for, worker, campaign, block, tmp_path):
    other = login(user_for(Role.GRID_WORKER, "G2"))
    template = reverse("screening:assignment_template", args=[campaign.pk, block.pk])
    assert other.post(template, PURPOSE).status_code == 404
    path = write_xlsx(
        tmp_path / "x.xlsx", [["HN-G1", "", "", "", "已排查", "09:00"]], header=COLUMNS
    )
    assert upload(other, campaign, block, path).status_code == 404
    assert Visit.objects.count() == 0


def test_a_file_that_is_not_a_visit_sheet_is_refused(worker, campaign, block, tmp_path):
    path = write_xlsx(tmp_path / "x.xlsx", [["a", "b"]], header=["foo", "bar"])
    response = upload(login(worker), campaign, block, path)
    assert response.status_code == 422 and 'id="errors-file"' in response.content.decode()
    assert Visit.objects.count() == 0


def test_answers_on_a_shut_door_are_rejected_not_dropped(worker, campaign, block, tmp_path):
    client = login(worker)
    template = client.post(
        reverse("screening:assignment_template", args=[campaign.pk, block.pk]), PURPOSE
    )
    rows = sheet_rows(template.content)
    when = (timezone.localtime() - timezone.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    out = []
    for row in rows[1:]:
        row = ["" if c is None else str(c) for c in row]
        row[10] = str(int(float(row[10])))
        if row[0] == "HN-301":  # nobody home, yet a temperature typed in
            row[4], row[5] = "无人在家", when
            if row[2] == "户主301":
                row[6] = "36.6"
        out.append(row)
    out.append(["HN-401", "", "", "", "已排查", when, "36.6", "", "", "", ""])  # no name
    path = write_xlsx(tmp_path / "shut.xlsx", out, header=COLUMNS)
    body = upload(client, campaign, block, path).content.decode()
    found = dict((int(r), s) for s, r in re.findall(r'data-status="(\w+)" data-row="(\d+)"', body))
    statuses = {number: found[i] for i, number in enumerate([r[0] for r in out], start=2)}
    assert statuses["HN-301"] == "rejected" and statuses["HN-401"] == "rejected"
    assert not Visit.objects.filter(household__household_number__in=["HN-301", "HN-401"]).exists()


def test_the_sheet_and_the_report_ask_for_a_purpose_first(worker, campaign, block, tmp_path):
    client = login(worker)
    url = reverse("screening:assignment_template", args=[campaign.pk, block.pk])
    asked = client.get(url)
    assert asked.status_code == 200 and asked["Content-Type"].startswith("text/html")
    assert 'id="purpose-form"' in asked.content.decode()
    assert client.post(url, {"purpose": "   "}).status_code == 400
    # a purpose in a link is refused: it would let another site write the audit row
    assert client.get(url, {"purpose": "入户排查"}).status_code == 400
    assert not AuditEvent.objects.filter(action="assignment.template").exists()
    sheet = client.post(url, {"purpose": "入户排查"})
    assert sheet["Content-Type"].startswith("application/vnd.openxmlformats")
    event = AuditEvent.objects.get(action="assignment.template")
    assert (event.user, event.purpose) == (worker, "入户排查")
