"""The leading group's usual 日报: one table, one line per street (or per child area of the area
asked for) and the area's own total last, with the key figures of every section side by side —
the sweep's coverage and open work, follow-up's monitoring, checks and referrals, the
checkpoints' arrivals and handoffs — so command staff read one table.

Each line is the brief of that area on its own: the figures come from the providers'
`sections_for_areas` (one pass per provider for the area and its children, the path the evening
freeze takes and that tests/command/test_freeze_fast.py holds equal to each area's brief). The
total line is the area's own figure, not a sum of the lines: arrivals without a destination
community count at the district only.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from doorstep.areas.models import Area
from doorstep.core.brief import FigureValue, Section

from .brief import brief_query, brief_reads
from .sections import providers

Figures = dict[str, FigureValue]


def _figure(key: str) -> Callable[[Figures], FigureValue]:
    return lambda figures: figures.get(key)


def _coverage(figures: Figures) -> FigureValue:
    households, closed = figures.get("households"), figures.get("households_closed")
    if not isinstance(households, int) or not isinstance(closed, int):
        return None
    return closed * 1000 // households if households else 0


def _referrals_open(figures: Figures) -> FigureValue:
    """Referrals without an outcome yet: on the way, or arrived and waiting for the doctor."""
    on_way, arrived = figures.get("ref_open"), figures.get("ref_arrived")
    if not isinstance(on_way, int) or not isinstance(arrived, int):
        return None
    return on_way + arrived


@dataclass(frozen=True)
class DailyColumn:
    key: str  # the figure (or "coverage_permille", "referrals_open": computed from figures)
    label: str
    value: Callable[[Figures], FigureValue]


def daily_columns() -> dict[str, list[DailyColumn]]:
    """The 日报's columns of each provider (by the prefix of its section keys), in order."""
    return {
        "sweep": [
            DailyColumn("households", _("Households"), _figure("households")),
            DailyColumn("households_closed", _("Closed"), _figure("households_closed")),
            DailyColumn("coverage_permille", _("Coverage"), _coverage),
            DailyColumn("households_open", _("Open"), _figure("households_open")),
            DailyColumn("overdue_revisits", _("Revisits overdue"), _figure("overdue_revisits")),
            DailyColumn("h_escalated", _("Escalated"), _figure("h_escalated")),
        ],
        "followup": [
            DailyColumn("under_monitoring", _("Under monitoring"), _figure("under_monitoring")),
            DailyColumn("checked_on_day", _("Checked on the day"), _figure("checked_on_day")),
            DailyColumn("missed_on_day", _("Missed checks"), _figure("missed_on_day")),
            DailyColumn("lost", _("Lost to follow-up"), _figure("lost")),
            DailyColumn("referrals_open", _("Referrals open"), _referrals_open),
        ],
        "checkpoints": [
            DailyColumn("arrivals", _("Arrivals"), _figure("arrivals")),
            DailyColumn("risk_arrivals", _("Risk arrivals"), _figure("risk_arrivals")),
            DailyColumn("handoffs_pending", _("Handoffs pending"), _figure("handoffs_pending")),
            DailyColumn("handoffs_overdue", _("Handoffs overdue"), _figure("handoffs_overdue")),
        ],
    }


@dataclass
class DailyGroup:
    """The columns of one section (a campaign's sweep, follow-up, checkpoints)."""

    key: str
    title: str
    columns: list[DailyColumn]


@dataclass
class DailyLine:
    area: Area
    name: str
    values: list[FigureValue]  # every group's columns, in order; None where the area has none
    total: bool = False


@dataclass
class DailyReport:
    area: Area
    day: datetime.date
    groups: list[DailyGroup] = field(default_factory=list)
    lines: list[DailyLine] = field(default_factory=list)

    @property
    def columns(self) -> list[DailyColumn]:
        return [c for g in self.groups for c in g.columns]


def _line(
    area: Area, name: str, sections: list[Section], groups: list[DailyGroup], *, total: bool
) -> DailyLine:
    by_key = {s.key: s.figures for s in sections}
    values: list[FigureValue] = []
    for group in groups:
        figures = by_key.get(group.key)
        values += [None if figures is None else c.value(figures) for c in group.columns]
    return DailyLine(area=area, name=name, values=values, total=total)


def daily_report(
    area: Area, day: datetime.date, known_at: datetime.datetime | None = None
) -> DailyReport:
    """The 日报 of `area` on `day` as known at `known_at` (now): a line per child area by code
    (the order of the paper form), the area's total last."""
    children = list(area.children.select_related("parent").order_by("code"))
    query = brief_query(area, day, known_at)
    per_area: dict[int, list[Section]] = {a.pk: [] for a in [area, *children]}
    with brief_reads():
        for provider in providers():
            for pk, sections in provider.sections_for_areas(query, [area, *children]).items():
                per_area[pk] += sections
    columns = daily_columns()
    report = DailyReport(area=area, day=day)
    for section in per_area[area.pk]:
        wanted = columns.get(section.key.split(".", 1)[0])
        if wanted:
            report.groups.append(DailyGroup(section.key, section.title, wanted))
    for child in children:
        line = _line(child, child.display_name, per_area[child.pk], report.groups, total=False)
        report.lines.append(line)
    report.lines.append(
        _line(
            area,
            _("Total") + f" {area.name}",
            per_area[area.pk],
            report.groups,
            total=True,
        )
    )
    return report
