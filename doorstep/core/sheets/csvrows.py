"""CSV and tab-separated text, record by record, with the caps. Django-free.

The file is read as bytes, a line at a time and never more than LINE_BYTES of a line, and each
line is decoded on its own: a line that is not text in the file's encoding, a cell over the cap, a
NUL character or a line longer than any row can be makes that row's problem, and the rows after
it are read as usual (a whole file used to fail on one bad byte, and again on every resume).
"""

import csv
import io
from collections.abc import Iterator

from .cells import guard_row, trim_row
from .limits import SheetLimits
from .problems import RowProblem, SheetRefused, SheetRow

LINE_BYTES = 1 << 20  # no row of a resident list comes near; a longer line is refused as a row
_CHECK_CELLS = RowProblem("", -1)  # not a problem yet: a NUL is in the line, its cell says where


def _byte_lines(handle, encoding: str, flags: list) -> Iterator[str]:
    """Lines of a UTF-8 or GB18030 file (neither puts a newline byte inside a character)."""
    first = True
    for raw in iter(lambda: handle.readline(LINE_BYTES), b""):
        if len(raw) == LINE_BYTES and not raw.endswith(b"\n"):
            while (more := handle.readline(LINE_BYTES)) and not more.endswith(b"\n"):
                pass  # the rest of an over-long line is dropped, unread by the csv module
            flags.append(RowProblem("line_too_long", -1, LINE_BYTES))
            yield "\n"
            continue
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError:
            flags.append(RowProblem("bad_encoding", -1))
            line = raw.decode(encoding, "replace")
        if "\x00" in line:
            flags.append(_CHECK_CELLS)
        if first:
            first = False
            line = line.removeprefix("\ufeff")
        yield line


def _text_lines(handle, encoding: str, flags: list) -> Iterator[str]:
    """Lines of a UTF-16 file (Excel's "Unicode text"): decoded as a stream."""
    text = io.TextIOWrapper(handle, encoding=encoding, errors="replace", newline="")
    limit = LINE_BYTES // 2
    for line in iter(lambda: text.readline(limit), ""):
        if len(line) == limit and not line.endswith("\n"):
            while (more := text.readline(limit)) and not more.endswith("\n"):
                pass
            flags.append(RowProblem("line_too_long", -1, LINE_BYTES))
            yield "\n"
            continue
        if "\ufffd" in line:
            flags.append(RowProblem("bad_encoding", -1))
        if "\x00" in line:
            flags.append(_CHECK_CELLS)
        yield line


class _CarriageReturnsAsNewlines(io.RawIOBase):
    """A file whose lines end in CR alone (old Mac Excel), read as if they ended in LF."""

    def __init__(self, raw) -> None:
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer)).replace(b"\r", b"\n")
        buffer[: len(data)] = data
        return len(data)


def csv_rows(
    path: str, encoding: str, delimiter: str, limits: SheetLimits, *, cr_lines: bool = False
) -> Iterator[SheetRow]:
    csv.field_size_limit(LINE_BYTES)  # a quoted cell running over many lines stops there
    max_rows, max_columns, max_chars = limits.max_rows, limits.max_columns, limits.max_cell_chars
    flags: list[RowProblem] = []  # what the line reader found in the record being read
    with open(path, "rb") as handle:
        if cr_lines:
            handle = io.BufferedReader(_CarriageReturnsAsNewlines(handle), 1 << 16)
        if encoding.startswith("utf-16"):
            lines = _text_lines(handle, encoding, flags)
        else:
            lines = _byte_lines(handle, "utf-8" if encoding == "utf-8-sig" else encoding, flags)
        reader = csv.reader(lines, delimiter=delimiter)
        number = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:
                cells = []
                flags.append(RowProblem("cell_too_long", -1, max_chars))
            number += 1
            if number > max_rows:
                raise SheetRefused("too_many_rows", limit=max_rows)
            trim_row(cells)
            problem = check = None
            if flags:
                check = _CHECK_CELLS in flags
                problem = next((f for f in flags if f is not _CHECK_CELLS), None)
                flags.clear()
            if not cells and problem is None:
                continue  # a blank line
            if len(cells) > max_columns:
                raise SheetRefused("too_many_columns", limit=max_columns)
            if check or max(map(len, cells), default=0) > max_chars:
                problem = guard_row(cells, max_chars) or problem
            yield SheetRow(number, cells, problem)
