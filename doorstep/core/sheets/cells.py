"""Cell values as every reader hands them out, and the per-cell caps. Django-free.

Values follow python-calamine's choices, so that the readers agree with what the app read before
(and with each other): text as `str`, numbers as `float` (XLS integers as `int`), booleans, and
cells with a date or time format as `datetime.date` / `datetime` / `time` / `timedelta`; an empty
cell or an error value is "".
"""

import datetime
import math
import re

from .problems import RowProblem

_EPOCH = datetime.datetime(1899, 12, 30)
_DAY_MS = 86_400_000
_1904_SHIFT = 1462.0

NUMBER, DATETIME, DURATION = 0, 1, 2  # what a cell's number format makes of its number


def excel_datetime(value: float, kind: int, is_1904: bool) -> object:
    """An Excel serial number in a date or duration format, as python-calamine converts it."""
    if kind == DURATION:
        try:
            return datetime.timedelta(milliseconds=_round(value * _DAY_MS))
        except (OverflowError, ValueError):
            return value
    shifted = value + _1904_SHIFT if is_1904 else value
    if shifted < 60.0:
        shifted += 1.0  # Excel's 1900-02-29, which never was
    try:
        moment = _EPOCH + datetime.timedelta(milliseconds=_round(shifted * _DAY_MS))
    except (OverflowError, ValueError):  # out of datetime's range, or not a number at all
        return value
    if value < 1.0:
        return moment.time()
    if moment.year > 9999:
        return value
    if value.is_integer():
        return moment.date()
    return moment


def _round(x: float) -> int:
    """Rust's f64::round: halves away from zero (Python's round() goes to even)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def iso_datetime(text: str) -> object:
    """A cell of type "d" (an ISO 8601 date, time or date-time), or the text when it is none."""
    try:
        if "T" in text:
            return datetime.datetime.fromisoformat(text.rstrip("Z"))
        if ":" in text:
            return datetime.time.fromisoformat(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        return text


def column_index(letters: str) -> int:
    """'A' → 0, 'XFD' → 16383."""
    index = 0
    for char in letters:
        index = index * 26 + (ord(char) & 0x1F)
    return index - 1


def column_letters(index: int) -> str:
    """0 → 'A', 16383 → 'XFD'."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_EXCEL_ESCAPE = re.compile(r"_x00([0-9A-Fa-f]{2})_")


def excel_unescape(text: str) -> str:
    """Excel writes characters XML cannot carry as _x00HH_ (calamine's unescape_xml)."""
    if "_x00" not in text:
        return text
    return _EXCEL_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)


def guard_text(value: str, column: int, max_chars: int) -> tuple[str, RowProblem | None]:
    """A text cell cut to the cap and without NUL characters (PostgreSQL text cannot hold one,
    and no roster has a reason to), with the problem that makes its row unusable."""
    problem = None
    if len(value) > max_chars:
        value = value[:max_chars]
        problem = RowProblem("cell_too_long", column, max_chars)
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
        problem = problem or RowProblem("nul_character", column)
    return value, problem


def guard_row(cells: list, max_chars: int) -> RowProblem | None:
    """Apply guard_text to the text cells of a row in place; the first problem found."""
    first = None
    for column, value in enumerate(cells):
        if type(value) is str and (len(value) > max_chars or "\x00" in value):
            cells[column], problem = guard_text(value, column, max_chars)
            first = first or problem
    return first


def trim_row(cells: list) -> list:
    """Cells after the last non-empty one left out (the readers agree on ragged rows)."""
    while cells and (cells[-1] == "" or cells[-1] is None):
        cells.pop()
    return cells
