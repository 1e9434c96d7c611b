"""The checkpoints' section of the brief: arrivals and handoffs of past days as their own times
say, agreeing with the raw records on every area and day (and with the day's snapshot), and
today's figures as counted by hand."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.checkpoints import services
from doorstep.checkpoints.brief import _counting_on_day, _handoffs_touching
from doorstep.checkpoints.models import Arrival, Handoff, HandoffEvent
from doorstep.command.brief import brief_query, brief_sections
from doorstep.command.services import brief_freeze, brief_verify
from tests.checkpoints.conftest import logged_in, occupant, passage, post_json

from .test_verify import AREAS

TO_C1 = "天生路12号3栋2单元501"
TO_C2 = "北京路5号1栋1单元101"


def _arrive(client, checkpoint, *occupants) -> list[Arrival]:
    body = passage(*occupants)
    response = post_json(client, reverse("api:arrival_submit", args=[checkpoint.pk]), body)
    assert response.status_code in (200, 201), response.content
    uuids = [o["client_uuid"] for o in occupants]
    return list(Arrival.objects.filter(client_uuid__in=uuids).order_by("pk"))


def _move_back(arrivals: list[Arrival], days: int) -> None:
    """As if it all happened `days` days ago: the arrivals, their handoffs and events."""
    shift = datetime.timedelta(days=days)
    for arrival in arrivals:
        Arrival.objects.filter(pk=arrival.pk).update(
            arrived_at=arrival.arrived_at - shift, created_at=arrival.created_at - shift
        )
        if arrival.handoff_id:
            handoff = Handoff.objects.get(pk=arrival.handoff_id)
            Handoff.objects.filter(pk=handoff.pk).update(
                received_at=handoff.received_at - shift, deadline=handoff.deadline - shift
            )
            for event in HandoffEvent.objects.filter(handoff=handoff):
                HandoffEvent.objects.filter(pk=event.pk).update(at=event.at - shift)


def _section(area, day):
    return {s.key: s for s in brief_sections(area, day)}.get("checkpoints")


@pytest.mark.django_db(transaction=True)  # committed rows: see tests/command/test_verify.py
def test_checkpoint_figures_agree_with_the_raw_records_on_every_day(
    sweep, areas, user_for, checkpoints, officer_for
):
    officer = logged_in(officer_for("K1"))
    admin_c1 = user_for(Role.COMMUNITY_ADMIN, "C1")
    admin_c2 = user_for(Role.COMMUNITY_ADMIN, "C2")
    # Three days ago: two risk arrivals for C1, one accepted the same day (handoffs are now
    # overdue if left: the deadline is hours, not days).
    old = _arrive(
        officer,
        checkpoints["K1"],
        occupant(name="旧甲", destination=TO_C1),
        occupant(name="旧乙", destination=TO_C1, temperature="38.4"),
    )
    services.handoff_accept(user=admin_c1, handoff_id=old[0].handoff_id)
    _move_back(old, 3)
    # Yesterday: one for C2, reported not found; a passer-by with a fever; a local with no risk.
    yesterday = _arrive(
        officer,
        checkpoints["K1"],
        occupant(name="昨丙", destination=TO_C2),
        occupant(name="路过丁", purpose="passing", destination="", temperature="38.9"),
        occupant(name="本地戊", origin="重庆", destination=TO_C1),
    )
    services.handoff_not_found(
        user=admin_c2, handoff_id=yesterday[0].handoff_id, reason="wrong_address"
    )
    _move_back(yesterday, 1)
    # Today: one for C2, still waiting.
    today_arrivals = _arrive(officer, checkpoints["K1"], occupant(name="今己", destination=TO_C2))
    assert all(a.handoff_id for a in old + today_arrivals) and yesterday[0].handoff_id

    today = timezone.localdate()
    for back in (3, 2, 1):
        brief_freeze(day=today - datetime.timedelta(days=back))
    for back in (3, 2, 1, 0):
        day = today - datetime.timedelta(days=back)
        for key in AREAS:
            assert brief_verify(areas[key], day) == [], (key, day)

    district = _section(areas["D"], today - datetime.timedelta(days=3)).figures
    assert (district["arrivals"], district["risk_arrivals"], district["fever_arrivals"]) == (
        2,
        2,
        1,
    )
    assert (district["sent_on_day"], district["accepted_on_day"]) == (2, 1)
    # overdue at the day's end only if the deadline fell that day (it depends on the hour)
    deadline = Handoff.objects.get(pk=old[1].handoff_id).deadline
    overdue = deadline < timezone.make_aware(
        datetime.datetime.combine(today - datetime.timedelta(days=2), datetime.time())
    )
    assert (district["handoffs_pending"], district["handoffs_overdue"]) == (1, int(overdue))
    day_before = _section(areas["D"], today - datetime.timedelta(days=1)).figures
    assert (day_before["arrivals"], day_before["passing"], day_before["fever_arrivals"]) == (
        3,
        1,
        1,
    )
    assert (day_before["sent_on_day"], day_before["not_found_on_day"]) == (1, 1)
    # the handoff of three days ago left waiting is still waiting (and overdue) yesterday
    assert (day_before["handoffs_pending"], day_before["handoffs_overdue"]) == (1, 1)
    now = _section(areas["D"], today).figures
    assert (now["arrivals"], now["sent_on_day"], now["handoffs_pending"]) == (1, 1, 2)
    # each community sees its own: C1 the old pending one, C2 today's; the passer-by only the
    # district (no community)
    c1 = _section(areas["C1"], today).figures
    c2 = _section(areas["C2"], today).figures
    assert (c1["handoffs_pending"], c2["handoffs_pending"]) == (1, 1)
    c2_yesterday = _section(areas["C2"], today - datetime.timedelta(days=1)).figures
    assert (c2_yesterday["arrivals"], c2_yesterday["fever_arrivals"]) == (1, 0)
    # the reads of a day leave out the handoffs closed before it (their fold adds nothing, and
    # the figures above agree with the raw walk over every handoff): the handoff accepted three
    # days ago is read on its own day only, the one reported not found yesterday from then on

    def read_on(back: int) -> set[int]:
        query = brief_query(areas["D"], today - datetime.timedelta(days=back))
        return set(
            _counting_on_day(query, _handoffs_touching(areas["D"])).values_list("pk", flat=True)
        )

    accepted, not_found = old[0].handoff_id, yesterday[0].handoff_id
    assert accepted in read_on(3) and accepted not in read_on(2) | read_on(1) | read_on(0)
    assert not_found in read_on(1) and not_found not in read_on(0) | read_on(2)


@pytest.mark.django_db(transaction=True)
def test_the_overdue_list_names_the_handoffs_of_the_area_only(
    sweep, areas, user_for, checkpoints, officer_for, client_for
):
    officer = logged_in(officer_for("K1"))
    late = _arrive(
        officer,
        checkpoints["K1"],
        occupant(name="逾期甲", destination=TO_C1),
        occupant(name="逾期乙", destination=TO_C2),
    )
    _move_back(late, 1)
    command = client_for(Role.COMMAND, "D")
    today = timezone.localdate()
    query = {"area": "C1", "day": today.isoformat(), "section": "checkpoints", "list": "overdue"}
    body = command.get(reverse("command:brief_list"), query).content.decode()
    assert "逾期甲" in body and "逾期乙" not in body
    page = command.get(reverse("command:brief"), {"area": "D"}).content.decode()
    assert "卡口与移交" in page and "移交逾期" in page


@pytest.mark.django_db(transaction=True)  # committed rows: see tests/command/test_verify.py
def test_a_handoff_in_the_list_bears_its_first_arrivals_name(
    sweep, areas, user_for, checkpoints, officer_for, client_for
):
    first = occupant(name="首到者", destination=TO_C1)
    _arrive(logged_in(officer_for("K1")), checkpoints["K1"], first)
    later = occupant(name="后到者", destination=TO_C1, id_number=first["id_number"])
    _arrive(logged_in(officer_for("K2")), checkpoints["K2"], later)
    handoff = Handoff.objects.get()
    assert handoff.arrivals.count() == 2
    Arrival.objects.filter(name="后到者").update(
        arrived_at=timezone.now() + datetime.timedelta(minutes=5)
    )
    _move_back(list(Arrival.objects.order_by("pk")), 1)
    command = client_for(Role.COMMAND, "D")
    query = {
        "area": "C1",
        "day": timezone.localdate().isoformat(),
        "section": "checkpoints",
        "list": "overdue",
    }
    body = command.get(reverse("command:brief_list"), query).content.decode()
    assert "首到者" in body and "后到者" not in body
