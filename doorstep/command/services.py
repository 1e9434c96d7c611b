"""Writes of the command center: the evening freeze of every area's brief. (Bulletins:
bulletins.py.)"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area, AreaLevel
from doorstep.areas.selectors import area_subtree
from doorstep.core.brief import Section
from doorstep.core.db import prefix_q

from .brief import (
    add_change,
    brief_query,
    brief_reads,
    cut_off_for,
    first_day,
    sections_from_json,
    sections_to_json,
)
from .models import BriefSnapshot
from .sections import providers


class FreezeTooEarly(ValueError):
    pass


def _sections_for_areas(
    district: Area, day: datetime.date, known_at: datetime.datetime, areas: list[Area]
) -> dict[int, list[Section]]:
    query = brief_query(district, day, known_at)
    result: dict[int, list[Section]] = {a.pk: [] for a in areas}
    with brief_reads():
        for provider in providers():
            for pk, sections in provider.sections_for_areas(query, areas).items():
                result[pk] += sections
    return result


def _snapshots_under(district: Area, day: datetime.date) -> QuerySet[BriefSnapshot]:
    """The day's snapshots of the district's areas (by path: a list of 10,000 ids would not
    fit SQLite's parameter limit everywhere)."""
    return BriefSnapshot.objects.filter(day=day).filter(prefix_q("area__path", district.path))


@transaction.atomic
def brief_freeze(*, day: datetime.date, now: datetime.datetime | None = None) -> int:
    """Freeze the brief of every area of every district for `day` as it stood at the day's
    cut-off. Areas already frozen for the day keep their snapshot (run twice: one snapshot each;
    a cut-off changed since does not touch them). Returns the number of snapshots written."""
    now = now or timezone.now()
    cut_off = cut_off_for(day)
    if cut_off > now:
        raise FreezeTooEarly(
            _("the cut-off of %(day)s (%(at)s) has not passed yet")
            % {"day": day.isoformat(), "at": timezone.localtime(cut_off).strftime("%H:%M")}
        )
    written = 0
    for district in Area.objects.filter(level=AreaLevel.DISTRICT).order_by("code"):
        first = first_day(district)
        if first is None or day < first:
            continue
        areas = list(area_subtree(district))
        done = set(_snapshots_under(district, day).values_list("area_id", flat=True))
        todo = [a for a in areas if a.pk not in done]
        if not todo:
            continue
        # every area at once: one pass per section provider, rolled up the tree in Python
        per_area = _sections_for_areas(district, day, cut_off, todo)
        before = day - datetime.timedelta(days=1)
        wanted = {a.pk for a in todo}
        # the day before as its meeting read it: the stored snapshots, computed only if absent
        previous = {
            area_id: sections_from_json(sections)
            for area_id, sections in _snapshots_under(district, before).values_list(
                "area_id", "sections"
            )
            if area_id in wanted
        }
        missing = [a for a in todo if a.pk not in previous]
        if missing and before >= first:
            previous.update(_sections_for_areas(district, before, cut_off_for(before), missing))
        rows = []
        for area in todo:
            add_change(per_area[area.pk], previous.get(area.pk))
            rows.append(
                BriefSnapshot(
                    area=area,
                    day=day,
                    cut_off_at=cut_off,
                    sections=sections_to_json(per_area[area.pk]),
                )
            )
        created = BriefSnapshot.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        written += len(created)
    return written


def brief_freeze_due(*, days_back: int = 7) -> int:
    """Freeze every recent day whose cut-off has passed (what the scheduled task runs)."""
    moment = timezone.now()
    today = timezone.localdate()
    written = 0
    for back in range(days_back, -1, -1):
        day = today - datetime.timedelta(days=back)
        if cut_off_for(day) <= moment:
            written += brief_freeze(day=day, now=moment)
    return written


def figure_differences(label: str, ours: list[Section], raw: list[Section]) -> list[str]:
    """Every figure that differs between two versions of the brief, both ways round."""
    left = {(s.key, k): v for s in ours for k, v in s.figures.items()}
    right = {(s.key, k): v for s in raw for k, v in s.figures.items()}
    return [
        f"{section} {key}: {label} {left.get((section, key))!r}, "
        f"raw records {right.get((section, key))!r}"
        for section, key in sorted(set(left) | set(right))
        if left.get((section, key)) != right.get((section, key))
    ]


def brief_verify(area: Area, day: datetime.date) -> list[str]:
    """Every figure of the brief recomputed from the raw records; the differences, if any.
    Also: the day's snapshot against the raw records as they stood at its cut-off."""
    from .brief import brief_sections

    now = timezone.now()
    found = figure_differences(
        "brief",
        brief_sections(area, day, known_at=now),
        brief_sections(area, day, known_at=now, raw=True),
    )
    snapshot = BriefSnapshot.objects.filter(area=area, day=day).first()
    if snapshot is not None:
        found += figure_differences(
            "snapshot",
            sections_from_json(snapshot.sections),
            brief_sections(area, day, known_at=snapshot.cut_off_at, raw=True),
        )
    return found
