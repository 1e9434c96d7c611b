"""The schedule of checks, in Asia/Shanghai days whatever the server's or the browser's zone.

Day 0 is the exposure day. A monitoring of N days ends at the end of day N (its `end_date`,
inclusive). Each day has the slots of FOLLOWUP_SLOT_STARTS ("00:00", "12:00" by default: morning,
afternoon); a slot runs from its start to the next one's, the last one to midnight, so a check at
23:59 belongs to the day's last slot and never to the next day. A slot is due from its start,
missed once it has ended without a check. A monitoring's slots are those of its days that end
after it started (one that starts at 10:00 owes the morning slot, one at 15:00 does not).

A slot is also known by its ordinal, `date.toordinal() * slots_per_day + index`, which orders
slots and lets the tally (Monitoring.checked_mask) hold a day's checked slots as bits.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings

ZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_DAYS = 14


def slot_starts() -> list[datetime.time]:
    return list(_parsed_starts(tuple(settings.FOLLOWUP_SLOT_STARTS)))


@functools.lru_cache(maxsize=8)
def _parsed_starts(texts: tuple[str, ...]) -> tuple[datetime.time, ...]:
    """Parsed once per setting (the lists of a page ask for every slot of every monitoring)."""
    starts = [datetime.time.fromisoformat(s) for s in texts]
    if not starts or starts[0] != datetime.time(0, 0) or starts != sorted(set(starts)):
        raise ValueError("FOLLOWUP_SLOT_STARTS: sorted times, the first one 00:00")
    return tuple(starts)


def slots_per_day() -> int:
    return len(slot_starts())


@dataclass(frozen=True, order=True)
class Slot:
    day: datetime.date
    index: int

    @property
    def ordinal(self) -> int:
        return self.day.toordinal() * slots_per_day() + self.index

    @property
    def starts_at(self) -> datetime.datetime:
        return local_moment(self.day, slot_starts()[self.index])

    @property
    def ends_at(self) -> datetime.datetime:
        starts = slot_starts()
        if self.index + 1 < len(starts):
            return local_moment(self.day, starts[self.index + 1])
        return local_moment(self.day + datetime.timedelta(days=1), datetime.time(0, 0))

    def is_due(self, now: datetime.datetime) -> bool:
        return self.starts_at <= now

    def has_ended(self, now: datetime.datetime) -> bool:
        return self.ends_at <= now


def local_moment(day: datetime.date, at: datetime.time) -> datetime.datetime:
    return datetime.datetime.combine(day, at, tzinfo=ZONE)


def local_date(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(ZONE).date()


def slot_of(moment: datetime.datetime) -> Slot:
    """The slot a moment falls in, counted in Asia/Shanghai."""
    local = moment.astimezone(ZONE)
    index = 0
    for i, start in enumerate(slot_starts()):
        if local.time() >= start:
            index = i
    return Slot(local.date(), index)


def slot_from_ordinal(ordinal: int) -> Slot:
    per_day = slots_per_day()
    return Slot(datetime.date.fromordinal(ordinal // per_day), ordinal % per_day)


def day_number(exposure_date: datetime.date, day: datetime.date) -> int:
    """Day 0 is the exposure day."""
    return (day - exposure_date).days


def end_date_for(exposure_date: datetime.date, days: int) -> datetime.date:
    """The last day of a monitoring of `days` days after this exposure (day `days`)."""
    return exposure_date + datetime.timedelta(days=days)


def first_slot(started_at: datetime.datetime) -> Slot:
    """The first slot a monitoring owes: the one it started in (it has not ended yet)."""
    return slot_of(started_at)


def monitoring_slots(
    *,
    started_at: datetime.datetime,
    end_date: datetime.date,
    until: datetime.datetime | None = None,
    since: datetime.date | None = None,
) -> Iterator[Slot]:
    """The slots of a monitoring in order, up to the end of its last day (or the slot `until`
    falls in); from day `since` on when given."""
    slot = first_slot(started_at)
    if since is not None and slot.day < since:
        slot = Slot(since, 0)
    per_day = slots_per_day()
    last = Slot(end_date, per_day - 1)
    if until is not None:
        last = min(last, slot_of(until))
    ordinal = slot.ordinal
    while ordinal <= last.ordinal:
        yield slot_from_ordinal(ordinal)
        ordinal += 1


def slot_in_monitoring(
    slot: Slot, *, started_at: datetime.datetime, end_date: datetime.date
) -> bool:
    return (
        first_slot(started_at).ordinal
        <= slot.ordinal
        <= Slot(end_date, slots_per_day() - 1).ordinal
    )


def day_mask(count: int) -> int:
    """The bits of a day's first `count` slots."""
    return (1 << count) - 1


def ended_slots_today(now: datetime.datetime) -> int:
    """How many of today's slots have ended (0 just after midnight)."""
    today = local_date(now)
    return sum(1 for i in range(slots_per_day()) if Slot(today, i).has_ended(now))


def required_mask(*, first: Slot, today: datetime.date, ended: int) -> int:
    """The bits of today's ended slots that a monitoring whose first slot is `first` owes."""
    if first.day > today:
        return 0
    low = first.index if first.day == today else 0
    return day_mask(ended) & ~day_mask(low)
