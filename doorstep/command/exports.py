"""The brief as XLSX: one sheet per section (headline figures, then each table), and the 日报
(a line per child area, every section's key figures side by side) as the last sheet, written
through `core.sheets.writing` (text stays text). The brief holds counts, area names and worker
names: no resident's personal data."""

from __future__ import annotations

import tempfile
from typing import Any

from django.utils.translation import gettext as _

from doorstep.core.sheets.writing import new_workbook, write_cell, write_cells

from .brief import Brief
from .daily import DailyReport


def _sheet_name(title: str, used: set[str]) -> str:
    name = "".join(c for c in title if c not in "[]:*?/\\")[:28] or "sheet"
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name[:25]}~{n}", n + 1
    used.add(candidate)
    return candidate


def _daily_sheet(workbook: Any, bold: Any, daily: DailyReport, used: set[str]) -> None:
    sheet = workbook.add_worksheet(_sheet_name(_("Daily table (日报)"), used))
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, len(daily.columns), 12)
    write_cells(
        sheet, 0, [f"{daily.area.name} {daily.day.isoformat()}", _("Daily table (日报)")], bold
    )
    column = 1
    for group in daily.groups:  # the section's title over its first column
        write_cell(sheet, 2, column, group.title, bold)
        column += len(group.columns)
    write_cells(sheet, 3, [_("Area"), *[c.label for c in daily.columns]], bold)
    for row, line in enumerate(daily.lines, start=4):
        write_cell(sheet, row, 0, line.name, bold if line.total else None)
        for index, (spec, value) in enumerate(zip(daily.columns, line.values, strict=True)):
            if spec.key == "coverage_permille" and isinstance(value, int):
                value = f"{value / 10:.1f}%"
            write_cell(sheet, row, index + 1, value)


def brief_workbook(brief: Brief, daily: DailyReport | None = None) -> str:
    """Write the brief to a temporary XLSX file and return its path."""
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    workbook = new_workbook(handle.name)
    bold = workbook.add_format({"bold": True, "bg_color": "#EEF2F6"})
    used: set[str] = set()
    for section in brief.sections:
        sheet = workbook.add_worksheet(_sheet_name(section.title, used))
        sheet.set_column(0, 0, 34)
        sheet.set_column(1, 8, 14)
        at_meeting = brief.at_meeting(section.key) if brief.snapshot else {}
        write_cells(sheet, 0, [f"{brief.area.name} {brief.day.isoformat()}", section.title], bold)
        header = [_("Figure"), _("Value"), _("Since the day before")]
        if brief.snapshot:
            header.append(_("At the meeting"))
        write_cells(sheet, 2, header, bold)
        row = 3
        for key, label in section.labels.items():
            write_cell(sheet, row, 0, label)
            write_cell(sheet, row, 1, section.figures.get(key))
            write_cell(sheet, row, 2, section.figures.get(f"change.{key}"))
            if brief.snapshot:
                write_cell(sheet, row, 3, at_meeting.get(key))
            row += 1
        for table in section.tables:
            row += 1
            write_cell(sheet, row, 0, table.title, bold)
            row += 1
            write_cells(sheet, row, ["", *[label for _suffix, label in table.columns]], bold)
            row += 1
            for prefix, name in table.rows:
                write_cell(sheet, row, 0, name)
                for column, (suffix, _label) in enumerate(table.columns, start=1):
                    write_cell(sheet, row, column, section.figures.get(f"{prefix}.{suffix}"))
                row += 1
    if not brief.sections:
        sheet = workbook.add_worksheet(_sheet_name(_("Brief"), used))
        write_cell(sheet, 0, 0, _("No campaign ran in this area on this day."))
    elif daily is not None and daily.columns:
        _daily_sheet(workbook, bold, daily, used)
    workbook.close()
    return handle.name
