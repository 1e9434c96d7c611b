"""ODS (LibreOffice, WPS), streamed: the first table with data, row by row. Django-free.

An ODS sheet says "this row, 1,048,553 times" and "this cell, 16,384 times" instead of writing
them out, so a few bytes can stand for any number of cells. Repeats are never expanded ahead:
empty ones (the tail every LibreOffice sheet ends with) only move the row or column counter, and
a repeated cell or row with content counts against the caps before it is built.
"""

import datetime
from collections.abc import Iterator

from .cells import guard_text, iso_datetime
from .limits import SheetLimits
from .problems import RowProblem, SheetRefused, SheetRow
from .xmlparse import StopParsing, local, parse_small, parse_stream, secure_parser
from .zipparts import ZippedWorkbook, read_chunks

_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE_EL, _ROW, _CELL, _P, _S, _TAB, _BREAK, _ANNOTATION = range(1, 9)
_KINDS = {
    f"{_TABLE} table": _TABLE_EL,
    f"{_TABLE} table-row": _ROW,
    f"{_TABLE} table-cell": _CELL,
    f"{_TABLE} covered-table-cell": _CELL,
    f"{_TEXT} p": _P,
    f"{_TEXT} h": _P,
    f"{_TEXT} s": _S,
    f"{_TEXT} tab": _TAB,
    f"{_TEXT} line-break": _BREAK,
    f"{_OFFICE} annotation": _ANNOTATION,
}
_ROWS_REPEATED = f"{_TABLE} number-rows-repeated"
_COLUMNS_REPEATED = f"{_TABLE} number-columns-repeated"
_VALUE_TYPE = f"{_OFFICE} value-type"
_SPACES = f"{_TEXT} c"
# The value attributes in the order python-calamine honours the first one present.
_VALUE = f"{_OFFICE} value"
_STRING_VALUE = f"{_OFFICE} string-value"
_DATE_VALUE = f"{_OFFICE} date-value"
_TIME_VALUE = f"{_OFFICE} time-value"
_BOOLEAN_VALUE = f"{_OFFICE} boolean-value"


def _repeat(attrs: dict, key: str) -> int:
    text = attrs.get(key, "1")
    return max(1, int(text)) if text.isdigit() else 1


def _duration_time(text: str) -> object:
    """office:time-value ("PT09H30M00S") as python-calamine gives it: a time of day."""
    try:
        hours, rest = text.removeprefix("PT").split("H")
        minutes, rest = rest.split("M")
        seconds = float(rest.rstrip("S"))
        whole = int(seconds)
        return datetime.time(int(hours), int(minutes), whole, round((seconds - whole) * 1_000_000))
    except ValueError:
        return text


def _attribute_value(attrs: dict) -> tuple[object, bool]:
    """(value, whether the cell's text content is its value)."""
    for key, value in attrs.items():
        if key == _VALUE:
            try:
                return float(value), False
            except ValueError:
                raise SheetRefused("damaged") from None
        if key == _STRING_VALUE:
            return value, False
        if key == _DATE_VALUE:
            return iso_datetime(value), False
        if key == _TIME_VALUE:
            return _duration_time(value), False
        if key == _BOOLEAN_VALUE:
            return value in ("true", "TRUE"), False
    return "", attrs.get(_VALUE_TYPE) == "string"


class OdsReader:
    def __init__(self, path: str, limits: SheetLimits):
        self.limits = limits
        self.book = ZippedWorkbook(path, limits)
        self.declared_rows: int | None = None
        if self.book.has("META-INF/manifest.xml"):
            encrypted: list[bool] = []

            def start(name: str, attrs: dict) -> None:
                if local(name) == "encryption-data":
                    encrypted.append(True)

            parse_small(self.book.read_small("META-INF/manifest.xml", 16 << 20), start)
            if encrypted:
                raise SheetRefused("encrypted")
        if not self.book.has("content.xml"):
            raise SheetRefused("not_a_sheet")

    def rows(self) -> Iterator[SheetRow]:
        # (first row, times): a repeated row is copied out as it is handed on, never ahead.
        out: list[tuple[SheetRow, int]] = []
        parser = secure_parser()
        found = self._install_handlers(parser, out)
        for _pause in parse_stream(parser, read_chunks(self.book.open("content.xml"), 1 << 20)):
            yield from _expanded(out)
        if not found[0]:
            raise SheetRefused("no_rows")

    def _install_handlers(self, parser, out: list[tuple[SheetRow, int]]) -> list[bool]:
        limits = self.limits
        max_rows, max_columns = limits.max_rows, limits.max_columns
        max_chars = limits.max_cell_chars
        found = [False]  # a row with content was read in this table, or an earlier one
        row_index = 0  # rows of the current table before the current one
        row_repeat = 1
        column = 0  # the current row's next column
        cells: list = []
        problem: RowProblem | None = None
        cell_repeat = 1
        value: object = ""
        collecting = False  # inside a string cell whose text is its value
        paragraphs = 0
        parts: list[str] = []
        size = 0
        depth_in_cell = 0  # elements open inside the current cell (a nested table is ignored)
        in_annotation = 0

        def start(name: str, attrs: dict) -> None:
            nonlocal row_index, row_repeat, column, cells, problem, cell_repeat, value
            nonlocal collecting, paragraphs, size, depth_in_cell, in_annotation
            kind = _KINDS.get(name)
            if depth_in_cell:
                depth_in_cell += 1
                if kind == _ANNOTATION:
                    in_annotation += 1
                elif collecting and not in_annotation:
                    if kind == _P:
                        if paragraphs:
                            parts.append("\n")
                        paragraphs += 1
                    elif kind == _S:
                        count = _repeat(attrs, _SPACES)
                        parts.append(" " * min(count, max_chars + 1))
                        size += count
                    elif kind == _TAB:
                        parts.append("\t")
                    elif kind == _BREAK:
                        parts.append("\n")
                return
            if kind == _CELL:
                cell_repeat = _repeat(attrs, _COLUMNS_REPEATED)
                value, collecting = _attribute_value(attrs)
                paragraphs, size = 0, 0
                parts.clear()
                depth_in_cell = 1
            elif kind == _ROW:
                row_repeat = _repeat(attrs, _ROWS_REPEATED)
                column, cells, problem = 0, [], None
            elif kind == _TABLE_EL:
                if found[0]:
                    raise StopParsing  # the first table with data is the sheet
                row_index = 0

        def text(data: str) -> None:
            nonlocal size
            if collecting and not in_annotation and size <= max_chars:
                parts.append(data)
                size += len(data)

        def end(name: str) -> None:
            nonlocal row_index, column, problem, collecting, depth_in_cell, in_annotation
            if depth_in_cell > 1:
                depth_in_cell -= 1
                if _KINDS.get(name) == _ANNOTATION:
                    in_annotation -= 1
                return
            kind = _KINDS.get(name)
            if kind == _CELL:
                depth_in_cell = 0
                cell = "".join(parts) if collecting else value
                collecting = False
                if cell != "":
                    if column + cell_repeat > max_columns:
                        raise SheetRefused("too_many_columns", limit=max_columns)
                    if type(cell) is str and (len(cell) > max_chars or "\x00" in cell):
                        cell, bad = guard_text(cell, column, max_chars)
                        problem = problem or bad
                    if column > len(cells):
                        cells.extend([""] * (column - len(cells)))
                    cells.extend([cell] * cell_repeat)
                column += cell_repeat
            elif kind == _ROW:
                if cells:
                    if row_index + row_repeat > max_rows:
                        raise SheetRefused("too_many_rows", limit=max_rows)
                    out.append((SheetRow(row_index + 1, cells, problem), row_repeat))
                    found[0] = True
                row_index += row_repeat
            elif kind == _TABLE_EL and found[0]:
                raise StopParsing

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text
        return found

    def close(self) -> None:
        self.book.close()


def _expanded(out: list[tuple[SheetRow, int]]) -> Iterator[SheetRow]:
    for row, times in out:
        yield row
        for offset in range(1, times):
            yield SheetRow(row.number + offset, list(row.cells), row.problem)
    out.clear()
