"""The command pages through HTTP: the brief for each reader, bad days and areas, the list behind
a number, the XLSX export, the 日报, the print layout and the dashboards."""

import datetime
import io
import random

from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.command.brief import cut_off_for
from doorstep.command.models import BriefSnapshot
from doorstep.command.services import brief_freeze
from doorstep.core.models import AuditEvent
from doorstep.screening.models import Visit

from .test_verify import _play

BRIEF = reverse("command:brief")


def test_the_command_reads_the_district_brief(sweep, client_for):
    _play(random.Random(5), sweep, days_back=0, count=10, late_hours=(0, 1))
    client = client_for(Role.COMMAND, "D")
    page = client.get(BRIEF)
    assert page.status_code == 200
    text = page.content.decode()
    assert "全区拉网式摸排" in text and 'data-table="rank_coverage"' in text
    assert 'data-figure="overdue_revisits"' in text
    assert "echarts-6.1.0.min.js" in text and "cdn" not in text.lower()
    section = page.context["sections"][0]
    figures = {r["key"]: r for r in section["rows"]}
    # every figure with a list opens it, for this area and day
    assert figures["h_screened"]["url"].startswith(reverse("command:brief_list"))
    listed = client.get(figures["households"]["url"])
    assert listed.status_code == 200
    assert len(listed.context["rows"]) == int(figures["households"]["value"])


def test_a_street_admin_reads_own_street_and_not_the_other(sweep, client_for, areas):
    client = client_for(Role.STREET_ADMIN, "S1")
    assert client.get(BRIEF).context["area"] == areas["S1"]
    assert client.get(BRIEF, {"area": "C1"}).status_code == 200
    for code in ("S2", "C3", "G4", "D", "NOPE"):
        assert client.get(BRIEF, {"area": code}).status_code == 404
    lists = reverse("command:brief_list")
    section = f"sweep.{sweep['campaign'].pk}"
    assert client.get(lists, {"area": "C3", "section": section, "list": "all"}).status_code == 404


def test_grid_workers_and_checkpoint_staff_get_no_brief(sweep, client_for):
    assert client_for(Role.GRID_WORKER, "G1").get(BRIEF).status_code == 404
    assert client_for(Role.CHECKPOINT_OFFICER, None).get(BRIEF).status_code == 404


def test_bad_days_say_what_is_wrong(sweep, client_for):
    client = client_for(Role.COMMAND, "D")
    future = timezone.localdate() + datetime.timedelta(days=1)
    page = client.get(BRIEF, {"date": future.isoformat()})
    assert page.status_code == 400 and "未来" in page.context["error"]
    page = client.get(BRIEF, {"date": "2019-12-31"})
    assert page.status_code == 400 and "早于" in page.context["error"]
    page = client.get(BRIEF, {"date": "2020-02-30"})
    assert page.status_code == 400 and "不是有效日期" in page.context["error"]


def test_a_past_day_shows_the_meeting_beside_what_is_now_known(sweep, client_for):
    rng = random.Random(11)
    _play(rng, sweep, days_back=1, count=10, late_hours=(0, 4))
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    brief_freeze(day=yesterday)
    _play(rng, sweep, days_back=1, count=6, late_hours=None)  # paper typed today
    page = client_for(Role.COMMAND, "D").get(BRIEF, {"date": yesterday.isoformat()})
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="snapshot-note"' in text and 'id="late-entries"' in text
    late = page.context["late"][0]
    cut_off = cut_off_for(yesterday)
    typed_after = Visit.objects.filter(visited_at__date=yesterday, entered_at__gt=cut_off).count()
    assert typed_after >= 6
    assert late.now_known - late.at_meeting == typed_after
    # the trend has the frozen day and the day shown
    assert page.context["trend"]["days"][-1] == yesterday.isoformat()


def test_export_asks_a_purpose_and_writes_one_sheet_per_section(sweep, client_for):
    _play(random.Random(2), sweep, days_back=0, count=5, late_hours=(0, 1))
    client = client_for(Role.COMMAND, "D")
    export = reverse("command:brief_export")
    assert client.get(export).status_code == 200  # the purpose form
    assert not AuditEvent.objects.filter(action="export.brief").exists()
    response = client.post(export, {"purpose": "分析研判例会"})
    assert response.status_code == 200
    book = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(response.streaming_content)))
    assert (len(book.sheet_names) == 1 and book.sheet_names[0].startswith("Sweep")) or "摸排" in (
        book.sheet_names[0]
    )
    rows = book.get_sheet_by_name(book.sheet_names[0]).to_python()
    labels = [r[0] for r in rows]
    assert any("Households" in str(v) or "户" in str(v) for v in labels)
    event = AuditEvent.objects.get(action="export.brief")
    assert event.purpose == "分析研判例会"


def test_daily_table_has_a_line_per_street_and_the_total(sweep, client_for):
    _play(random.Random(4), sweep, days_back=0, count=8, late_hours=(0, 1))
    page = client_for(Role.COMMAND, "D").get(reverse("command:daily"))
    assert page.status_code == 200
    rows = page.context["tables"][0]["rows"]
    assert [r["name"] for r in rows[:2]] == ["天生街道", "朝阳街道"]
    assert rows[-1]["total"] is True
    households = int(rows[-1]["cells"][0])
    assert households == sum(int(r["cells"][0]) for r in rows[:-1]) == 16


def test_dashboards_say_what_to_do(sweep, client_for, areas):
    _play(random.Random(8), sweep, days_back=0, count=12, late_hours=(0, 1))
    worker = client_for(Role.GRID_WORKER, "G1")
    # the worker of the sweep fixture holds G1; log in as that one
    from django.test import Client

    worker = Client()
    worker.force_login(sweep["workers"]["G1"])
    page = worker.get("/")
    assert page.status_code == 200
    labels = [t.label for t in page.context["todos"]]
    assert any("Revisits due today" in x or "今日" in x for x in labels)
    assert page.context["household_count"] == 4
    command = client_for(Role.COMMAND, "D").get("/")
    assert command.status_code == 200
    assert command.context["standing"][0]["households"] == 16
    assert command.context["standing"][0]["chart"]["days"] == ["天生街道", "朝阳街道"]
    assert client_for(Role.CLINIC_STAFF, None).get("/").status_code == 200


def test_print_layout_keeps_tables(sweep, client_for):
    page = client_for(Role.COMMAND, "D").get(reverse("command:brief_print"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "@page { size: A4" in text and "break-inside: avoid" in text


def test_snapshots_are_per_area(sweep, areas):
    _play(random.Random(9), sweep, days_back=1, count=4, late_hours=(0, 2))
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    brief_freeze(day=yesterday)
    codes = set(BriefSnapshot.objects.filter(day=yesterday).values_list("area__code", flat=True))
    assert codes == {"D", "S1", "S2", "C1", "C2", "C3", "G1", "G2", "G3", "G4"}
