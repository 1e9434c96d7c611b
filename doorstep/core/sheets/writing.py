"""Every XLSX the app writes: cells are text unless the app itself made them numbers or dates.

A sheet is opened in Excel by someone who trusts it, so nothing an uploaded file or a typed form
field carries may come back as a live formula ("=HYPERLINK(…)", "=WEBSERVICE(…)"), a link, or a
number Excel reinterprets (an ID number losing its last digits). The workbook options turn
xlsxwriter's guessing off, and `write_cell` writes text with write_string whatever it starts
with; numbers and dates only when the value is one in Python.
"""

import datetime
from collections.abc import Iterable
from typing import IO, Any

import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

SAFE_OPTIONS = {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False}


def new_workbook(target: str | IO[bytes], *, constant_memory: bool = False) -> xlsxwriter.Workbook:
    """A workbook writing to a path (`constant_memory` for long exports) or to a BytesIO."""
    options: dict[str, Any] = dict(SAFE_OPTIONS)
    if isinstance(target, str):
        options["constant_memory"] = constant_memory
    else:
        options["in_memory"] = True
    return xlsxwriter.Workbook(target, options)


def write_cell(
    sheet: Worksheet,
    row: int,
    column: int,
    value: object,
    cell_format: Format | None = None,
    *,
    date_format: Format | None = None,
) -> None:
    """One cell: nothing for None, a number for int/float, a date for a date or datetime (in
    `date_format`, or as ISO text without one), text for everything else."""
    if value is None:
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        sheet.write_number(row, column, value, cell_format)
    elif isinstance(value, datetime.date) and date_format is not None:
        sheet.write_datetime(row, column, value, date_format)
    elif isinstance(value, datetime.date):
        sheet.write_string(row, column, value.isoformat(), cell_format)
    else:
        sheet.write_string(row, column, str(value), cell_format)


def write_cells(
    sheet: Worksheet,
    row: int,
    values: Iterable[object],
    cell_format: Format | None = None,
    *,
    first_column: int = 0,
) -> None:
    for column, value in enumerate(values, start=first_column):
        write_cell(sheet, row, column, value, cell_format)
