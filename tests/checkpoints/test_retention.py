"""Retention of checkpoints: a retention period after an arrival's handoff closed (or the
arrival, without one), what the officer typed about the people in the vehicle (names, ID
numbers, phones, travel details, addresses, symptoms) is gone, while every figure of the brief's
checkpoint section and of the checkpoint counts is the same (and verify_brief finds no
difference); a pending handoff, the unmatched queue and recent arrivals are untouched; a rerun
changes nothing and says 0; a caller who is not the command is refused with nothing changed; the
command's output and logs carry no personal data."""

import datetime
import io
import logging

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone, translation

from doorstep.accounts.models import Role
from doorstep.checkpoints import selectors, services
from doorstep.checkpoints.models import (
    Arrival,
    Handoff,
    HandoffEvent,
    HandoffStatus,
    Route,
    VehiclePassage,
)
from doorstep.checkpoints.retention import (
    ArrivalCounts,
    arrivals_anonymise_due,
    arrivals_retention_pending,
)
from doorstep.command.brief import brief_sections
from doorstep.command.services import brief_verify
from doorstep.core.models import AuditEvent

from .conftest import logged_in, occupant, passage, post_json

AREAS = ("D", "S1", "S2", "C1", "C2")
TO_C1 = "天生路12号3栋2单元501"
TO_C2 = "北京路5号1栋1单元101"
LATER = datetime.timedelta(days=40)  # past the 30-day period
PHONE = "13987654321"


def _arrive(client, checkpoint, *occupants, **fields) -> list[Arrival]:
    body = passage(*occupants, **fields)
    response = post_json(client, reverse("api:arrival_submit", args=[checkpoint.pk]), body)
    assert response.status_code in (200, 201), response.content
    uuids = [o["client_uuid"] for o in occupants]
    return list(Arrival.objects.filter(client_uuid__in=uuids).order_by("pk"))


@pytest.fixture
def traffic(checkpoints, officer_for, user_for):
    """K1: a car with a risk arrival for C1 (accepted) and a fever for C1 (accepted); a
    passing traveller; a coach with a risk arrival for C2 (reported not found, with a note).
    K2: a risk arrival for C1 left pending, and one whose destination matched nothing (waiting
    in the command's queue)."""
    officer = logged_in(officer_for("K1"))
    admin_c1 = user_for(Role.COMMUNITY_ADMIN, "C1")
    admin_c2 = user_for(Role.COMMUNITY_ADMIN, "C2")
    car = _arrive(
        officer,
        checkpoints["K1"],
        occupant(name="张湖北", phone=PHONE, destination=TO_C1, left_origin_on=None),
        occupant(
            name="孙发热",
            origin="重庆市渝中区",
            temperature="38.6",
            symptoms=["cough"],
            destination=TO_C1,
        ),
        plate="鄂A88888",
    )
    for arrival in car:
        services.handoff_accept(user=admin_c1, handoff_id=arrival.handoff_id)
    passing = _arrive(
        officer,
        checkpoints["K1"],
        occupant(name="过境人", purpose="passing", origin="贵阳", destination="成都市春熙路"),
    )
    coach = _arrive(
        officer, checkpoints["K1"], occupant(name="钱找不到", destination=TO_C2), kind="bus"
    )
    services.handoff_not_found(
        user=admin_c2,
        handoff_id=coach[0].handoff_id,
        reason="other",
        note=f"电话{PHONE}打不通，邻居说去了成都",
    )
    other = logged_in(officer_for("K2"))
    pending = _arrive(other, checkpoints["K2"], occupant(name="李等待", destination=TO_C1))
    unmatched = _arrive(other, checkpoints["K2"], occupant(name="赵不明", destination="某处"))
    assert car[0].is_risk and car[1].handoff_id and coach[0].handoff_id
    assert pending[0].handoff_id and unmatched[0].route == Route.UNMATCHED
    return {
        "command": user_for(Role.COMMAND, "D"),
        "closed": [*car, *passing, *coach],
        "open": [*pending, *unmatched],
    }


# -- what is compared --------------------------------------------------------------------------
def brief_figures(areas) -> dict:
    found = {}
    today = timezone.localdate()
    for key in AREAS:
        for back in range(2):
            day = today - datetime.timedelta(days=back)
            section = {s.key: s for s in brief_sections(areas[key], day)}.get("checkpoints")
            found[(key, back)] = dict(section.figures) if section else None
    return found


def count_figures(user) -> tuple:
    now = timezone.now()
    return (
        [(r.key, r.label, r.figures) for r in selectors.counts_by_checkpoint(user, now)],
        [(r.key, r.label, r.figures) for r in selectors.counts_by_community(user, now)],
        {
            kind: selectors.arrivals_filtered(
                selectors.arrivals_visible_to(user), kind, now
            ).count()
            for kind in selectors.LIST_FILTERS
        },
    )


KEPT_ARRIVAL = (
    "pk",
    "passage_id",
    "checkpoint_id",
    "client_uuid",
    "id_type",
    "purpose",
    "temperature",
    "arrived_at",
    "created_at",
    "needs_completion",
    "is_risk",
    "route",
    "match_status",
    "match_method",
    "match_confidence",
    "community_id",
    "handoff_id",
    "key_person_id",
    "referral_id",
    "entered_by_id",
)


def kept() -> tuple:
    """What the figures read, which must survive anonymisation."""
    return (
        list(Arrival.objects.order_by("pk").values_list(*KEPT_ARRIVAL)),
        list(
            VehiclePassage.objects.order_by("pk").values_list(
                "pk", "checkpoint_id", "client_uuid", "kind", "arrived_at", "created_at"
            )
        ),
        [
            {k: v for k, v in row.items() if k not in ("person_key", "note")}
            for row in Handoff.objects.order_by("pk").values()
        ],
        list(
            HandoffEvent.objects.order_by("pk").values_list(
                "handoff_id", "action", "at", "user_id", "from_community", "to_community", "reason"
            )
        ),
    )


def everything(arrivals) -> tuple:
    passages = {a.passage_id for a in arrivals}
    handoffs = {a.handoff_id for a in arrivals if a.handoff_id}
    return (
        list(Arrival.objects.filter(pk__in=[a.pk for a in arrivals]).order_by("pk").values()),
        list(VehiclePassage.objects.filter(pk__in=passages).order_by("pk").values()),
        list(Handoff.objects.filter(pk__in=handoffs).order_by("pk").values()),
        list(HandoffEvent.objects.filter(handoff__in=handoffs).order_by("pk").values()),
    )


def audit_trail() -> list:
    return list(
        AuditEvent.objects.exclude(action="write.refused").order_by("pk").values_list("action")
    )


BLANK = {
    "name": "",
    "id_number": None,
    "phone": "",
    "origin": "",
    "destination": "",
    "symptoms": [],
    "left_origin_on": None,
    "risk_flags": [],
    "risk_area": "",
    "match_candidates": [],
    "household_id": None,
    "person_id": None,
    "body_hash": "",
}


# -- the figures and the blanks ----------------------------------------------------------------
def test_anonymising_keeps_every_figure_and_blanks_what_was_typed(traffic, areas):
    # given closed arrivals of every kind and open ones
    command = traffic["command"]
    before_brief, before_counts, before_kept = brief_figures(areas), count_figures(command), kept()
    before_open = everything(traffic["open"])
    assert before_brief[("D", 0)]["arrivals"] == 6 and before_brief[("D", 0)]["fever_arrivals"]
    assert Arrival.objects.filter(id_number__isnull=False, phone=PHONE).exists()
    later = timezone.now() + LATER
    pending = arrivals_retention_pending(user=command, now=later)

    # when 40 days later the arrivals are anonymised, one passage per batch
    counts = arrivals_anonymise_due(user=command, now=later, batch_size=1)

    # then every figure of the brief (every area, today and yesterday) and the counts are the same
    assert brief_figures(areas) == before_brief
    assert count_figures(command) == before_counts
    today = timezone.localdate()
    for key in AREAS:
        for back in range(2):
            assert brief_verify(areas[key], today - datetime.timedelta(days=back)) == []
    assert kept() == before_kept
    # and the closed arrivals hold nothing typed about the person
    closed = [a.pk for a in traffic["closed"]]
    for row in Arrival.objects.filter(pk__in=closed).values(*BLANK):
        assert row == BLANK
    passages = VehiclePassage.objects.filter(arrivals__pk__in=closed).distinct()
    assert set(passages.values_list("plate", "origin", "destination", "body_hash")) == {
        ("", "", "", "")
    }
    closed_handoffs = Handoff.objects.exclude(status=HandoffStatus.PENDING)
    assert set(closed_handoffs.values_list("person_key", "note")) == {("", "")}
    assert not HandoffEvent.objects.filter(handoff__in=closed_handoffs).exclude(note="").exists()
    # and the pending handoff and the unmatched queue are untouched
    assert everything(traffic["open"]) == before_open
    # and the counts are what the dry run announced, audited as counts only
    assert counts == pending
    assert counts == ArrivalCounts(
        passages_due=3, arrivals=4, passages=3, handoffs=3, handoff_events=1
    )
    event = AuditEvent.objects.get(action="arrivals.anonymise")
    assert event.user == command and event.detail["arrivals"] == 4
    assert PHONE not in str(event.detail)


def test_anonymised_arrivals_still_show(traffic, areas):
    # given anonymised arrivals
    command = traffic["command"]
    arrivals_anonymise_due(user=command, now=timezone.now() + LATER)
    client = logged_in(command)
    # when their pages and lists are opened, then they render
    for arrival in traffic["closed"]:
        response = client.get(reverse("checkpoints:arrival", args=[arrival.pk]))
        assert response.status_code == 200
        assert "张湖北" not in response.content.decode()
    handoff = traffic["closed"][0].handoff_id
    assert client.get(reverse("checkpoints:handoff", args=[handoff])).status_code == 200


def test_a_rerun_changes_nothing_and_says_0(traffic):
    command = traffic["command"]
    later = timezone.now() + LATER
    arrivals_anonymise_due(user=command, now=later)
    before, before_audit = everything(traffic["closed"] + traffic["open"]), audit_trail()
    counts = arrivals_anonymise_due(user=command, now=later)
    assert counts == ArrivalCounts()  # nothing left: not even a passage read as due
    assert arrivals_retention_pending(user=command, now=later).total == 0
    assert everything(traffic["closed"] + traffic["open"]) == before
    assert audit_trail() == before_audit


def test_recent_arrivals_are_untouched(traffic):
    # given arrivals of today, their handoffs closed just now
    everything_now = everything(traffic["closed"] + traffic["open"])
    # when retention runs today, then nothing changed
    assert arrivals_anonymise_due(user=traffic["command"]) == ArrivalCounts()
    assert everything(traffic["closed"] + traffic["open"]) == everything_now


@pytest.mark.parametrize("role", [Role.COMMUNITY_ADMIN, Role.STREET_ADMIN, Role.GRID_WORKER])
def test_a_caller_who_is_not_the_command_is_refused_with_nothing_changed(traffic, user_for, role):
    user = user_for(role)
    before, before_audit = everything(traffic["closed"]), audit_trail()
    later = timezone.now() + LATER
    with pytest.raises(PermissionDenied):
        arrivals_anonymise_due(user=user, now=later)
    with pytest.raises(PermissionDenied):
        arrivals_retention_pending(user=user, now=later)
    assert everything(traffic["closed"]) == before
    assert audit_trail() == before_audit


def test_an_officer_is_refused(traffic, officer_for):
    before = everything(traffic["closed"])
    with pytest.raises(PermissionDenied):
        arrivals_anonymise_due(user=officer_for("K1"), now=timezone.now() + LATER)
    assert everything(traffic["closed"]) == before


def test_the_command_refuses_a_non_command_user(traffic, user_for, settings):
    settings.DOORSTEP_CHECKPOINT_RETENTION_DAYS = 0
    user = user_for(Role.COMMUNITY_ADMIN, "C1")
    before = everything(traffic["closed"])
    with pytest.raises(CommandError) as refused:
        call_command("apply_retention", "--user", user.username, stdout=io.StringIO())
    assert refused.value.returncode == 1
    assert everything(traffic["closed"]) == before


def test_the_command_says_counts_only_and_logs_nothing_personal(traffic, settings, caplog):
    # given a retention period of 0 days (the closed handoffs are past it at once)
    settings.DOORSTEP_CHECKPOINT_RETENTION_DAYS = 0
    numbers = [n for n in Arrival.objects.values_list("id_number", flat=True) if n]
    assert numbers  # (the traffic carries ID numbers: the check below reads something)
    caplog.set_level(logging.DEBUG)
    # when the dry run, the run and a rerun are made by the district's command account
    outputs = []
    for extra in (["--dry-run"], [], []):
        out = io.StringIO()
        # (the fixture's requests left their language active: English, for the words)
        with translation.override("en"):
            call_command(
                "apply_retention",
                "--only",
                "arrivals",
                "--user",
                traffic["command"].username,
                *extra,
                stdout=out,
            )
        outputs.append(out.getvalue())
    # then the lines are counts, the rerun's all 0
    assert "4 arrivals" in outputs[0] and "4 arrivals" in outputs[1]
    assert "0 arrivals, 0 vehicles, 0 handoffs, 0 handoff events" in outputs[2]
    # and no name, number, phone, plate or address is in them or in the logs
    said = "".join(outputs) + caplog.text
    for secret in (PHONE, "张湖北", "孙发热", "鄂A88888", "天生路", "成都", "38.6", *numbers):
        assert secret not in said, secret
    # and the open ones were left alone
    assert Handoff.objects.filter(status=HandoffStatus.PENDING).exclude(person_key="").exists()
    assert Arrival.objects.filter(route=Route.UNMATCHED).exclude(name="").exists()


def test_an_old_arrival_whose_handoff_closed_recently_is_untouched(traffic):
    # given the coach's handoff closed 35 days from now, and retention run 40 days from now
    coach = traffic["closed"][-1]
    Handoff.objects.filter(pk=coach.handoff_id).update(
        closed_at=timezone.now() + datetime.timedelta(days=35)
    )
    before = everything([coach])
    counts = arrivals_anonymise_due(user=traffic["command"], now=timezone.now() + LATER)
    # then the other closed passages went, the coach (closed 5 days before) is as it was
    assert counts.passages_due == 2 and counts.handoffs == 2
    assert everything([coach]) == before
