"""The schedule's boundaries, pinned: day 0 is the exposure day, day 14's last slot is due, day
15 has none, a slot just before midnight belongs to its own day (Asia/Shanghai)."""

import datetime

from hypothesis import given
from hypothesis import strategies as st

from doorstep.followup import schedule

ZONE = schedule.ZONE
EXPOSURE = datetime.date(2020, 2, 1)
END = schedule.end_date_for(EXPOSURE, 14)
STARTED = datetime.datetime(2020, 2, 1, 9, 0, tzinfo=ZONE)


def at(day, hh, mm=0, ss=0):
    return datetime.datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ZONE)


def test_day_zero_is_the_exposure_day_and_fourteen_days_end_on_day_fourteen():
    assert schedule.day_number(EXPOSURE, EXPOSURE) == 0
    assert datetime.date(2020, 2, 15) == END
    assert schedule.day_number(EXPOSURE, END) == 14


def test_the_last_slot_of_day_14_is_due_and_day_15_has_none():
    slots = list(schedule.monitoring_slots(started_at=STARTED, end_date=END))
    last = slots[-1]
    assert last == schedule.Slot(END, 1)
    assert last.is_due(at(END, 12, 0))
    assert last.ends_at == at(END + datetime.timedelta(days=1), 0, 0)
    assert not any(s.day == END + datetime.timedelta(days=1) for s in slots)
    assert len(slots) == 15 * 2  # day 0 (started 09:00, the morning slot still open) to day 14


def test_a_check_just_before_midnight_belongs_to_its_own_day():
    slot = schedule.slot_of(at(END, 23, 59, 59))
    assert slot == schedule.Slot(END, 1)
    assert schedule.slot_of(
        at(END + datetime.timedelta(days=1), 0, 0)
    ).day == END + datetime.timedelta(days=1)


def test_days_are_counted_in_shanghai_whatever_the_moments_zone():
    # 2020-02-15 23:30 in Shanghai is 15:30 UTC the same day, and 2020-02-16 00:30 Shanghai is
    # still the 15th in UTC: the slot is that of Shanghai's day.
    utc = datetime.UTC
    assert schedule.slot_of(datetime.datetime(2020, 2, 15, 15, 30, tzinfo=utc)).day == END
    late = datetime.datetime(2020, 2, 15, 16, 30, tzinfo=utc)
    assert schedule.slot_of(late).day == END + datetime.timedelta(days=1)


def test_a_monitoring_started_in_the_afternoon_owes_no_morning_slot():
    started = at(EXPOSURE, 15, 0)
    first = next(schedule.monitoring_slots(started_at=started, end_date=END))
    assert first == schedule.Slot(EXPOSURE, 1)


def test_required_mask():
    first = schedule.Slot(EXPOSURE, 1)
    assert schedule.required_mask(first=first, today=EXPOSURE, ended=2) == 0b10
    assert schedule.required_mask(first=first, today=EXPOSURE, ended=1) == 0
    later = EXPOSURE + datetime.timedelta(days=1)
    assert schedule.required_mask(first=first, today=later, ended=2) == 0b11


moments = st.datetimes(
    min_value=datetime.datetime(2019, 1, 1),
    max_value=datetime.datetime(2030, 1, 1),
    timezones=st.sampled_from(
        [ZONE, datetime.UTC, datetime.timezone(datetime.timedelta(hours=-8))]
    ),
)


@given(moments)
def test_every_moment_lies_in_its_slot(moment):
    slot = schedule.slot_of(moment)
    assert slot.starts_at <= moment < slot.ends_at
    assert slot.day == moment.astimezone(ZONE).date()
    assert schedule.slot_from_ordinal(slot.ordinal) == slot


@given(
    st.dates(min_value=datetime.date(2019, 1, 1), max_value=datetime.date(2030, 1, 1)),
    st.integers(0, 30),
    st.times(),
)
def test_the_schedule_covers_day_0_to_day_n_and_nothing_after(exposure, days, time_of_day):
    started = datetime.datetime.combine(exposure, time_of_day, tzinfo=ZONE)
    end = schedule.end_date_for(exposure, days)
    slots = list(schedule.monitoring_slots(started_at=started, end_date=end))
    assert slots[0] == schedule.slot_of(started)
    assert slots[-1] == schedule.Slot(end, schedule.slots_per_day() - 1)
    assert all(exposure <= s.day <= end for s in slots)
    assert [s.ordinal for s in slots] == list(range(slots[0].ordinal, slots[-1].ordinal + 1))
    for s in slots:
        assert schedule.slot_in_monitoring(s, started_at=started, end_date=end)
    after = schedule.Slot(end + datetime.timedelta(days=1), 0)
    assert not schedule.slot_in_monitoring(after, started_at=started, end_date=end)
