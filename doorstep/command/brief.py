"""The daily brief of an area: the sections of every domain (sections.py), the change since the
day before, and for a past day the snapshot taken at the meeting beside the figures as now known.

"The day before" is the previous day as frozen at its cut-off (the figures the last meeting
read): its snapshot when there is one, else the same figures computed from the records as they
stood at that cut-off; both ways give the same numbers (verify_brief checks it).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area
from doorstep.core.brief import BriefQuery, FigureValue, ProblemList, Section, Table

from .models import BriefSnapshot
from .sections import providers


class BriefDateError(ValueError):
    """A day the brief cannot speak of: before the campaigns or in the future."""


def cut_off_time() -> datetime.time:
    hours, minutes = settings.DOORSTEP_BRIEF_CUTOFF.split(":")
    return datetime.time(int(hours), int(minutes))


def cut_off_for(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, cut_off_time()))


def day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    start = timezone.make_aware(datetime.datetime.combine(day, datetime.time()))
    end = timezone.make_aware(
        datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time())
    )
    return start, end


def brief_query(
    area: Area, day: datetime.date, known_at: datetime.datetime | None = None
) -> BriefQuery:
    start, end = day_bounds(day)
    return BriefQuery(
        area=area, day=day, day_start=start, day_end=end, known_at=known_at or timezone.now()
    )


def first_day(area: Area) -> datetime.date | None:
    days = [d for d in (p.first_day(area) for p in providers()) if d is not None]
    return min(days) if days else None


def check_day(area: Area, day: datetime.date) -> None:
    today = timezone.localdate()
    if day > today:
        raise BriefDateError(_("%(day)s is in the future") % {"day": day.isoformat()})
    first = first_day(area)
    if first is None:
        raise BriefDateError(_("no campaign covers this area yet"))
    if day < first:
        raise BriefDateError(
            _("%(day)s is before the first campaign here (from %(first)s)")
            % {"day": day.isoformat(), "first": first.isoformat()}
        )


def sections_to_json(sections: list[Section]) -> list[dict[str, object]]:
    return [
        {
            "key": s.key,
            "title": s.title,
            "figures": s.figures,
            "labels": s.labels,
            "lists": s.lists,
            "trend": s.trend,
            "notes": s.notes,
            "tables": [
                {"key": t.key, "title": t.title, "columns": t.columns, "rows": t.rows}
                for t in s.tables
            ],
            "problems": [{"key": p.key, "label": p.label, "figure": p.figure} for p in s.problems],
        }
        for s in sections
    ]


def sections_from_json(data: list[dict[str, Any]]) -> list[Section]:
    return [
        Section(
            key=d["key"],
            title=d["title"],
            figures=d["figures"],
            labels=d["labels"],
            lists=d["lists"],
            trend=d["trend"],
            notes=d.get("notes", []),
            tables=[
                Table(
                    t["key"],
                    t["title"],
                    [tuple(c) for c in t["columns"]],
                    [tuple(r) for r in t["rows"]],
                )
                for t in d["tables"]
            ],
            problems=[ProblemList(p["key"], p["label"], p["figure"]) for p in d["problems"]],
        )
        for d in data
    ]


@contextmanager
def brief_reads() -> Iterator[None]:
    """The sections' reads, on PostgreSQL in a transaction without JIT compilation. The
    planner's estimates for the brief's aggregates (EXISTS subplans per monitoring, GROUP BYs
    over the day's records) pass `jit_above_cost`, and compiling them took longer than running
    them: at 50,000 monitorings and 1.35M checks the follow-up's GROUP BY ran 1.1 s, 0.8 s of
    it JIT. The transaction also lets the sweep's fold set its own planner settings (SET LOCAL
    needs one)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def compute_sections(query: BriefQuery, *, raw: bool = False) -> list[Section]:
    sections: list[Section] = []
    with brief_reads():
        for provider in providers():
            sections += provider.sections_raw(query) if raw else provider.sections(query)
    return sections


def add_change(sections: list[Section], before: list[Section] | None) -> None:
    """`change.<figure>` for each trend figure: today's minus the day before's at its cut-off
    (absent when the section did not exist the day before)."""
    previous = {s.key: s.figures for s in before or []}
    for section in sections:
        old = previous.get(section.key)
        for key in section.trend:
            new_value, old_value = section.figures.get(key), (old or {}).get(key)
            if isinstance(new_value, int) and isinstance(old_value, int):
                section.figures[f"change.{key}"] = new_value - old_value


def baseline(area: Area, day: datetime.date, *, raw: bool = False) -> list[Section] | None:
    """The day before `day` as frozen at its cut-off: the snapshot, or computed as it stood
    then (raw: always computed, at the snapshot's own cut-off when there is one)."""
    before = day - datetime.timedelta(days=1)
    snapshot = BriefSnapshot.objects.filter(area=area, day=before).first()
    if snapshot is not None and not raw:
        return sections_from_json(snapshot.sections)
    cut_off = snapshot.cut_off_at if snapshot is not None else cut_off_for(before)
    if cut_off > timezone.now():
        return None
    first = first_day(area)
    if first is None or before < first:
        return None
    return compute_sections(brief_query(area, before, cut_off), raw=raw)


def brief_sections(
    area: Area, day: datetime.date, *, known_at: datetime.datetime | None = None, raw: bool = False
) -> list[Section]:
    """Every section of the brief of `area` on `day` as known at `known_at` (now)."""
    sections = compute_sections(brief_query(area, day, known_at), raw=raw)
    add_change(sections, baseline(area, day, raw=raw))
    return sections


@dataclass
class Changed:
    section: str
    key: str
    label: str
    at_meeting: FigureValue
    now_known: FigureValue


@dataclass
class Brief:
    area: Area
    day: datetime.date
    sections: list[Section]
    snapshot: BriefSnapshot | None = None
    snapshot_sections: list[Section] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)

    def at_meeting(self, section_key: str) -> dict[str, FigureValue]:
        for section in self.snapshot_sections:
            if section.key == section_key:
                return section.figures
        return {}


def differences(before: list[Section], after: list[Section]) -> list[Changed]:
    old = {s.key: s for s in before}
    found: list[Changed] = []
    for section in after:
        figures = old[section.key].figures if section.key in old else {}
        for key, value in section.figures.items():
            if figures.get(key) != value:
                label = section.labels.get(key) or key
                found.append(Changed(section.title, key, label, figures.get(key), value))
    return found


def brief_for(area: Area, day: datetime.date) -> Brief:
    """The brief the page shows (the caller has checked the area and the day)."""
    sections = brief_sections(area, day)
    brief = Brief(area=area, day=day, sections=sections)
    snapshot = BriefSnapshot.objects.filter(area=area, day=day).first()
    if snapshot is not None:
        brief.snapshot = snapshot
        brief.snapshot_sections = sections_from_json(snapshot.sections)
        brief.changed = differences(brief.snapshot_sections, sections)
    return brief
