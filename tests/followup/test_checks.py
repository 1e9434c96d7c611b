import datetime
from decimal import Decimal

import pytest
from django.http import Http404
from django.utils import timezone
from freezegun import freeze_time

from doorstep.accounts.models import Role
from doorstep.areas.models import Area
from doorstep.core.db import count_each
from doorstep.followup import field_reads, schedule, selectors
from doorstep.followup.models import Check, CheckChange, CheckSubmission, Monitoring, Referral
from doorstep.followup.services import (
    CheckConflict,
    FollowupRefused,
    check_record,
    monitoring_release,
    self_check_lookup,
    self_check_token_for,
    transfer_ask,
)
from doorstep.screening.rules import TEMPERATURE_RANGE, parse_temperature

from .conftest import check_input

ZONE = schedule.ZONE


def test_a_second_check_for_the_slot_replaces_the_first_with_history(key_person, fworker):
    first = check_record(user=fworker, key_person=key_person, data=check_input(temperature="36.4"))
    second = check_record(user=fworker, key_person=key_person, data=check_input(temperature="36.8"))
    assert (first.status, second.status) == ("created", "replaced")
    assert Check.objects.count() == 1
    check = Check.objects.get()
    assert check.temperature == Decimal("36.8")
    assert CheckChange.objects.get().previous["temperature"] == "36.4"


def test_a_retry_returns_the_first_answer_and_another_body_is_a_conflict(key_person, fworker):
    data = check_input()
    first = check_record(user=fworker, key_person=key_person, data=data)
    again = check_record(user=fworker, key_person=key_person, data=data)
    assert again.status == "duplicate" and again.check.pk == first.check.pk
    changed = check_input(temperature="37.0")
    changed.client_uuid = data.client_uuid
    with pytest.raises(CheckConflict):
        check_record(user=fworker, key_person=key_person, data=changed)
    assert CheckSubmission.objects.count() == 1 and not CheckChange.objects.exists()


@pytest.mark.parametrize(
    ("raw", "meant"),
    [
        ("3.65", "36.5"),
        ("365", "36.5"),
        ("33.9", None),
        ("42.1", None),
        ("42.05", None),
        ("abc", None),
        ("NaN", None),
    ],
)
def test_temperatures_outside_the_sweeps_range_are_refused_clearly(key_person, fworker, raw, meant):
    with pytest.raises(FollowupRefused) as refused:
        check_record(user=fworker, key_person=key_person, data=check_input(temperature=raw))
    assert refused.value.field == "temperature"
    if meant:
        assert meant in refused.value.message
    assert not Check.objects.exists()


def test_temperature_bounds_are_the_sweeps_and_inclusive():
    assert (Decimal("34.0"), Decimal("42.0")) == TEMPERATURE_RANGE
    assert parse_temperature("34.0") == Decimal("34.0")
    assert parse_temperature("42.0") == Decimal("42.0")
    assert parse_temperature("36.55℃") == Decimal("36.6")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("34.0", "34.0"), ("34.5", "34.5"), ("42.0", "42.0"), ("36.55℃", "36.6"), ("41.96", "42.0")],
)
def test_edge_temperatures_are_recorded_as_the_sweep_reads_them(key_person, fworker, raw, stored):
    # 34.0-34.9 was refused by follow-up and accepted at the door; now one rule, and the
    # database's own check agrees with it
    check_record(user=fworker, key_person=key_person, data=check_input(temperature=raw))
    assert Check.objects.get().temperature == Decimal(stored)


def test_a_check_in_the_future_or_before_the_start_is_refused(key_person, fworker):
    monitoring = key_person.monitorings.get()
    future = timezone.now() + datetime.timedelta(hours=1)
    before = schedule.local_moment(
        monitoring.start_date - datetime.timedelta(days=1), datetime.time(9)
    )
    for when in (future, before):
        with pytest.raises(FollowupRefused):
            check_record(user=fworker, key_person=key_person, data=check_input(when=when))
    assert not Check.objects.exists()


def test_a_late_check_inside_the_monitoring_is_accepted_and_marked_even_after_it_ended(
    key_person, fworker
):
    monitoring = key_person.monitorings.get()
    last_day = monitoring.end_date
    measured = schedule.local_moment(last_day, datetime.time(20, 0))
    with freeze_time(
        schedule.local_moment(last_day + datetime.timedelta(days=2), datetime.time(10))
    ):
        result = check_record(user=fworker, key_person=key_person, data=check_input(when=measured))
        assert result.status == "created" and result.late
        # the day after the last one is outside the monitoring
        after = schedule.local_moment(last_day + datetime.timedelta(days=1), datetime.time(9))
        with pytest.raises(FollowupRefused):
            check_record(user=fworker, key_person=key_person, data=check_input(when=after))
    assert Check.objects.get().late


def test_a_check_dated_after_the_release_is_refused_and_one_before_it_accepted(
    key_person, fworker, admin
):
    monitoring = key_person.monitorings.get()
    with freeze_time(schedule.local_moment(monitoring.end_date, datetime.time(13))):
        check_record(user=fworker, key_person=key_person, data=check_input())
    with freeze_time(schedule.local_moment(monitoring.end_date, datetime.time(14))):
        monitoring_release(user=admin, monitoring=monitoring)
    with freeze_time(
        schedule.local_moment(monitoring.end_date + datetime.timedelta(days=1), datetime.time(9))
    ):
        with pytest.raises(FollowupRefused) as refused:
            check_record(
                user=fworker,
                key_person=key_person,
                data=check_input(
                    when=schedule.local_moment(monitoring.end_date, datetime.time(23))
                ),
            )
        assert "解除管控时间" in refused.value.message  # after the release
        morning = schedule.local_moment(monitoring.end_date, datetime.time(9))
        assert check_record(
            user=fworker, key_person=key_person, data=check_input(when=morning)
        ).late
    assert Check.objects.count() == 2


def test_the_tally_follows_the_checks(key_person, fworker):
    monitoring = key_person.monitorings.get()
    yesterday = timezone.now() - datetime.timedelta(days=1)
    check_record(user=fworker, key_person=key_person, data=check_input(when=yesterday))
    check_record(user=fworker, key_person=key_person, data=check_input())
    check_record(
        user=fworker,
        key_person=key_person,
        data=check_input(temperature=None, outcome="unreachable"),
    )
    monitoring.refresh_from_db()
    from doorstep.followup.services.checks import tally_of_checks

    assert (
        monitoring.last_check_at,
        monitoring.checked_on,
        monitoring.checked_mask,
    ) == tally_of_checks(monitoring)


def test_a_fever_opens_a_referral_at_once_and_only_one(key_person, fworker):
    result = check_record(user=fworker, key_person=key_person, data=check_input(temperature="38.2"))
    assert result.referral is not None
    check_record(
        user=fworker,
        key_person=key_person,
        data=check_input(temperature="38.5", symptoms=["cough"]),
    )
    assert Referral.objects.count() == 1


def test_no_symptoms_is_an_answer_kept_as_one(key_person, fworker):
    check_record(user=fworker, key_person=key_person, data=check_input(symptoms=[]))
    check = Check.objects.get()
    assert check.outcome == "measured" and check.symptoms == []


def test_a_self_check_link_is_valid_only_during_the_monitoring(key_person, admin, fworker):
    monitoring = key_person.monitorings.get()
    token = self_check_token_for(monitoring=monitoring)
    assert self_check_lookup(token.token) == monitoring
    with pytest.raises(Http404):
        self_check_lookup("made-up")
    with (
        freeze_time(
            schedule.local_moment(
                monitoring.end_date + datetime.timedelta(days=1), datetime.time(9)
            )
        ),
        pytest.raises(Http404),
    ):
        self_check_lookup(token.token)
    check_record(user=fworker, key_person=key_person, data=check_input())
    monitoring_release(user=admin, monitoring=monitoring, reason="症状消失，提前解除")
    with pytest.raises(Http404):
        self_check_lookup(token.token)


def test_the_due_rows_are_due_nows_in_every_scope(key_person, fworker, admin, user_for, areas):
    # given the G1 worker's key person owing this afternoon's slot, being transferred to C2
    monitoring = key_person.monitorings.get()
    day = schedule.local_date(timezone.now())
    Monitoring.objects.filter(pk=monitoring.pk).update(
        started_at=schedule.local_moment(day - datetime.timedelta(days=2), datetime.time(8))
    )
    transfer_ask(user=admin, key_person=key_person, to=areas["C2"], reason="住在C2")
    users = {
        "worker": fworker,
        "admin": admin,
        "receiver": user_for(Role.COMMUNITY_ADMIN, "C2"),
        "street": user_for(Role.STREET_ADMIN, "S1"),
        "command": user_for(Role.COMMAND, "D"),
        "other worker": user_for(Role.GRID_WORKER, "G2"),
        "other street": user_for(Role.STREET_ADMIN, "S2"),
        "other community": user_for(Role.COMMUNITY_ADMIN, "C3"),
        "clinic": user_for(Role.CLINIC_STAFF, None),
        "no jurisdiction": user_for(Role.COMMUNITY_ADMIN, None),
    }
    with freeze_time(schedule.local_moment(day, datetime.time(13))):
        # when each reads the due list as rows and as models
        rows = {name: field_reads.due_now_rows(user) for name, user in users.items()}
        models = {name: list(selectors.due_now(user)) for name, user in users.items()}
        counts = {name: field_reads.due_now_count(user) for name, user in users.items()}
        # (and counted beside another count, as the dashboards send it)
        together = {
            name: count_each([Area.objects.all(), field_reads.due_now_count_sql(user)])[1]
            for name, user in users.items()
        }
    # then the same monitorings, for those who see the key person only (the transfer's
    # receiver too, until it accepts)
    assert {name: [r.pk for r in found] for name, found in rows.items()} == {
        name: [m.pk for m in found] for name, found in models.items()
    }
    seeing = {name for name, found in rows.items() if found}
    assert seeing == {"worker", "admin", "receiver", "street", "command"}
    # and the dashboards' count of them is the same
    assert counts == {name: len(found) for name, found in models.items()}
    assert together == counts
    assert rows["admin"] == [
        field_reads.DueRow(
            monitoring.pk, key_person.pk, key_person.person.name, monitoring.end_date
        )
    ]


def test_due_and_missed_are_read_from_checks_and_schedule(key_person, fworker, admin):
    monitoring = key_person.monitorings.get()
    day = datetime.date.today()
    Monitoring.objects.filter(pk=monitoring.pk).update(
        started_at=schedule.local_moment(day - datetime.timedelta(days=2), datetime.time(8))
    )
    noon_plus = schedule.local_moment(schedule.local_date(timezone.now()), datetime.time(13))
    with freeze_time(noon_plus):
        assert list(selectors.due_now(fworker)) == [monitoring]
        assert [r.pk for r in field_reads.due_now_rows(fworker)] == [monitoring.pk]
        missed = [m.slot for m in selectors.missed_slots(fworker)]
        today = schedule.local_date(noon_plus)
        assert schedule.Slot(today, 0) in missed
        check_record(
            user=fworker,
            key_person=key_person,
            data=check_input(when=schedule.local_moment(today, datetime.time(11))),
        )
        assert schedule.Slot(today, 0) not in [m.slot for m in selectors.missed_slots(fworker)]
        assert list(selectors.due_now(fworker)) == [monitoring]
        check_record(
            user=fworker,
            key_person=key_person,
            data=check_input(when=noon_plus - datetime.timedelta(minutes=5)),
        )
        assert list(selectors.due_now(fworker)) == []
        assert field_reads.due_now_rows(fworker) == []
    # escalation: still missing hours later goes to the community, then the street
    tomorrow = today + datetime.timedelta(days=1)
    with freeze_time(schedule.local_moment(tomorrow, datetime.time(3))):
        # the afternoon slot of `today` was checked, tomorrow's morning has not ended
        assert selectors.missed_slots(admin) == []
    with freeze_time(schedule.local_moment(tomorrow, datetime.time(17))):
        now = timezone.now()
        lists = field_reads.today_lists(fworker, now)  # the page's two reads, the same answers
        assert [m.pk for m in lists.due] == [m.pk for m in selectors.due_now(fworker, now)]
        assert [m.pk for m in lists.due] == [m.pk for m in field_reads.due_now_rows(fworker, now)]
        assert [(x.monitoring.pk, x.slot, x.hours_late, x.escalation) for x in lists.missed] == [
            (x.monitoring.pk, x.slot, x.hours_late, x.escalation)
            for x in selectors.missed_slots(fworker, now)
        ]
        assert [m.pk for m in lists.ending] == [m.pk for m in selectors.ending_today(fworker, now)]
        # tomorrow's morning slot ended at 12:00: 5 hours late, past the community's 4
        assert [(m.slot, m.escalation) for m in selectors.missed_slots(admin)] == [
            (schedule.Slot(tomorrow, 0), "community")
        ]
    with freeze_time(
        schedule.local_moment(tomorrow + datetime.timedelta(days=1), datetime.time(1))
    ):
        levels = {m.slot: m.escalation for m in selectors.missed_slots(admin)}
        assert levels[schedule.Slot(tomorrow, 0)] == "street"  # 13 hours late
        assert levels[schedule.Slot(tomorrow, 1)] == ""  # ended an hour ago


def test_recompute_followup_reports_and_repairs_a_drifted_tally(key_person, fworker):
    import io

    from django.core.management import call_command

    check_record(user=fworker, key_person=key_person, data=check_input())
    out = io.StringIO()
    call_command("recompute_followup", stdout=out)
    assert "0 differences found" in out.getvalue()
    Monitoring.objects.update(checked_mask=0, last_check_at=None)
    out = io.StringIO()
    call_command("recompute_followup", "--fix", stdout=out)
    assert "1 differences repaired" in out.getvalue()
    monitoring = key_person.monitorings.get()
    from doorstep.followup.services.checks import tally_of_checks

    assert (monitoring.last_check_at, monitoring.checked_on, monitoring.checked_mask) == (
        tally_of_checks(monitoring)
    )
    assert monitoring.checked_mask != 0
