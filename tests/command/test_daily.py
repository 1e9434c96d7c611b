"""The 日报: one table, a line per street with the key figures of every section (sweep,
follow-up, checkpoints), each line equal to that street's own brief, the district's own total
last; the same table is the last sheet of the brief's XLSX."""

import datetime
import io
import random

import pytest
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.command.brief import brief_sections
from doorstep.command.daily import daily_report
from doorstep.followup.models import Check, Monitoring, Referral
from doorstep.followup.services import ReasonInput, SourceInput, key_person_add, referral_open
from doorstep.followup.services.check_insert import tally_moved
from doorstep.registry.models import Person
from tests.checkpoints.conftest import logged_in, occupant

from .test_checkpoints_brief import TO_C1, TO_C2, _arrive
from .test_verify import _play

FOLLOWUP = ["under_monitoring", "checked_on_day", "missed_on_day", "lost", "referrals_open"]
CHECKPOINTS = ["arrivals", "risk_arrivals", "handoffs_pending", "handoffs_overdue"]


@pytest.fixture
def district_day(checkpoints, officer_for, sweep, areas, user_for):
    """Today's visits, key persons in two communities (one checked today, one referral), and
    checkpoint arrivals for C1 and C2 plus a passer-by (counted at the district only)."""
    _play(random.Random(6), sweep, days_back=0, count=8, late_hours=(0, 1))
    admin = user_for(Role.COMMAND, "D")
    now = timezone.now()
    persons = list(Person.objects.select_related("household__grid__parent").order_by("pk"))
    chosen = [persons[0], *[p for p in persons if p.household.grid.parent.code == "C3"][:1]]
    for index, person in enumerate(chosen):
        key_person = key_person_add(
            user=admin,
            person=person,
            reasons=[ReasonInput(kind="close_contact", exposure_date=timezone.localdate())],
            source=SourceInput(kind="manual"),
            measure="home_isolation",
            community=person.household.grid.parent,
        )
        monitoring = Monitoring.objects.get(key_person=key_person)
        Monitoring.objects.filter(pk=monitoring.pk).update(
            started_at=now - datetime.timedelta(days=2)
        )
        if index == 0:
            check = Check.objects.create(
                monitoring=monitoring,
                slot_date=timezone.localdate(),
                slot=0,
                outcome="measured",
                method="visit",
                measured_at=now - datetime.timedelta(minutes=5),
                entered_at=now - datetime.timedelta(minutes=4),
            )
            # typed by hand (its own entered_at), the tally moved as the service moves it
            monitoring.save(update_fields=tally_moved(monitoring, check))
            referral = referral_open(
                user=admin,
                key_person=key_person,
                temperature=None,
                symptoms=[],
                source=SourceInput(kind="manual"),
            )
            assert Referral.objects.filter(pk=referral.pk).exists()
    officer = logged_in(officer_for("K1"))
    _arrive(
        officer,
        checkpoints["K1"],
        occupant(name="甲", destination=TO_C1),
        occupant(name="乙", destination=TO_C2),
        occupant(name="路过丙", purpose="passing", destination=""),
    )
    return areas


def _figures(area, day, prefix):
    for section in brief_sections(area, day):
        if section.key.split(".")[0] == prefix:
            return section.figures
    return None


@pytest.mark.django_db(transaction=True)  # committed rows: see tests/command/test_verify.py
def test_the_daily_table_carries_every_section_per_street(district_day, client_for):
    areas = district_day
    today = timezone.localdate()
    report = daily_report(areas["D"], today)
    keys = [g.key.split(".")[0] for g in report.groups]
    assert keys == ["sweep", "followup", "checkpoints"]
    columns = [f"{g.key.split('.')[0]}.{c.key}" for g in report.groups for c in g.columns]
    for key in FOLLOWUP:
        assert f"followup.{key}" in columns
    for key in CHECKPOINTS:
        assert f"checkpoints.{key}" in columns
    assert [line.name for line in report.lines[:-1]] == ["天生街道", "朝阳街道"]
    assert report.lines[-1].total
    # every line is that area's own brief
    for line in report.lines:
        cells = dict(zip(columns, line.values, strict=True))
        for prefix, keys in (("followup", FOLLOWUP[:-1]), ("checkpoints", CHECKPOINTS)):
            figures = _figures(line.area, today, prefix)
            for key in keys:
                expected = None if figures is None else figures[key]
                assert cells[f"{prefix}.{key}"] == expected, (line.name, prefix, key)
        followup = _figures(line.area, today, "followup")
        if followup is not None:
            assert (
                cells["followup.referrals_open"] == followup["ref_open"] + followup["ref_arrived"]
            )
        sweep = _figures(line.area, today, "sweep")
        assert cells["sweep.households"] == sweep["households"]
    total = dict(zip(columns, report.lines[-1].values, strict=True))
    assert (total["followup.under_monitoring"], total["followup.checked_on_day"]) == (2, 1)
    assert total["followup.referrals_open"] == 1
    # the passer-by counts at the district, in no street
    assert total["checkpoints.arrivals"] == 3
    streets = [dict(zip(columns, line.values, strict=True)) for line in report.lines[:-1]]
    assert sum(s["checkpoints.arrivals"] or 0 for s in streets) == 2
    assert sum(s["followup.under_monitoring"] or 0 for s in streets) == 2

    client = client_for(Role.COMMAND, "D")
    page = client.get(reverse("command:daily"))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-column="followup.under_monitoring"' in text
    assert 'data-column="checkpoints.handoffs_overdue"' in text
    rows = page.context["tables"][0]["rows"]
    assert len(rows) == 3 and rows[-1]["total"]
    index = columns.index("checkpoints.arrivals")
    assert rows[-1]["cells"][index] == "3"

    response = client.post(reverse("command:brief_export"), {"purpose": "分析研判例会"})
    assert response.status_code == 200
    book = CalamineWorkbook.from_filelike(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.get_sheet_by_name(book.sheet_names[-1]).to_python()
    assert "日报" in book.sheet_names[-1]
    header = sheet[3]
    assert header[0] and isinstance(header[1 + index], str) and header[1 + index]
    lines = {row[0]: row for row in sheet[4:]}
    assert int(lines["天生街道"][1]) == int(report.lines[0].values[0])
    total_row = sheet[-1]
    assert int(total_row[1 + index]) == 3
    assert int(total_row[1 + columns.index("followup.under_monitoring")]) == 2


def test_a_community_daily_table_has_its_grids(sweep, areas, client_for):
    _play(random.Random(3), sweep, days_back=0, count=6, late_hours=(0, 1))
    report = daily_report(areas["C1"], timezone.localdate())
    assert [line.area.code for line in report.lines] == ["G1", "G2", "C1"]
    households = [line.values[0] for line in report.lines]
    assert households[-1] == households[0] + households[1]
    page = client_for(Role.COMMUNITY_ADMIN, "C1").get(reverse("command:daily") + "?area=C1")
    assert page.status_code == 200
