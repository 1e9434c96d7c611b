"""A grid worker's visit sheet upload with a hostile file: refused with the reason (it used to
abort the web process), nothing recorded, and the next request served. Rows that cannot be read
are reported by row, not answered with a 500."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.screening.models import Assignment, Visit
from doorstep.screening.sheets import COLUMNS
from tests.hostile_sheets import HOSTILE, csv_with_late_trouble


def _upload(worker, campaign, path):
    client = Client()
    client.force_login(worker)
    assignment = Assignment.objects.get(worker=worker)
    url = reverse("screening:assignment_upload", args=[campaign.pk, assignment.pk])
    with open(path, "rb") as handle:
        return client, client.post(url, {"file": handle})


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_visit_sheet_is_refused_and_nothing_recorded(case, worker, campaign, tmp_path):
    build, words = HOSTILE[case]
    suffix = ".xls" if "XLS" in case else ".ods" if "ODS" in case else ".xlsx"
    client, response = _upload(worker, campaign, build(tmp_path / f"visits{suffix}"))
    body = response.content.decode()
    assert response.status_code == 422 and 'id="errors-file"' in body
    assert re.search(words, body)
    assert Visit.objects.count() == 0
    assert client.get(reverse("screening:field_list", args=[campaign.pk])).status_code == 200


def test_unreadable_rows_of_a_visit_sheet_are_rejected_by_row(
    worker, campaign, households, tmp_path
):
    when = (timezone.localtime() - timezone.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    good = [["HN-G1", "", "户主G1", "户主", "已排查", when, "36.5", "", "", "", ""]]
    path = csv_with_late_trouble(tmp_path / "visits.csv", good, COLUMNS)
    _client, response = _upload(worker, campaign, path)
    body = response.content.decode()
    assert response.status_code == 200
    found = dict((int(r), s) for s, r in re.findall(r'data-status="(\w+)" data-row="(\d+)"', body))
    assert found == {2: "rejected", 3: "rejected", 4: "rejected", 5: "accepted"}
    for reason in ("单元格过长", "无法识别的字符", "空字符"):
        assert reason in body
    assert Visit.objects.count() == 1
