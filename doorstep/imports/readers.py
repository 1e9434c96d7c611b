"""Streaming readers for the sheets resident lists arrive in: CSV (UTF-8 or GBK), XLSX, XLS, ODS.

A reader yields rows as lists of cell values, one at a time, so memory does not grow with the file.
The format is told from the file's first bytes, not its name: lists arrive renamed.
"""

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _
from python_calamine import CalamineError, CalamineWorkbook

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class UnreadableFile(ValueError):
    """The file is empty, not a spreadsheet, or damaged; the message says which, in Chinese."""


@dataclass
class SheetSource:
    path: Path
    format: str  # csv | xlsx | xls | ods
    encoding: str = ""
    delimiter: str = ","
    height: int | None = None  # rows of the sheet, once a workbook has been parsed

    def rows(self) -> Iterator[list]:
        if self.format == "csv":
            return self._csv_rows()
        return self._workbook_rows()

    def _csv_rows(self) -> Iterator[list]:
        with open(self.path, encoding=self.encoding, newline="") as handle:
            yield from csv.reader(handle, delimiter=self.delimiter)

    def _workbook_rows(self) -> Iterator[list]:
        try:
            key = self._key()
            sheet = _kept_sheets.get(key)
            if sheet is None:
                sheet = _first_sheet_with_data(CalamineWorkbook.from_path(str(self.path)))
            self.height = sheet.height
            # iter_rows hands rows to Python one by one instead of building a list of lists.
            yield from sheet.iter_rows()
            _kept_sheets.pop(key, None)  # read to the end: the import is done with it
        except CalamineError as error:
            raise UnreadableFile(_("the spreadsheet is damaged: %(e)s") % {"e": error}) from None

    def _key(self) -> tuple:
        stat = self.path.stat()
        return (str(self.path), stat.st_size, stat.st_mtime_ns)

    def keep_parsed_sheet(self) -> None:
        """Parse the workbook now and keep the sheet for the next `rows()` in this process
        (the command line checks the header and runs the import in one process: one parse
        instead of two). One sheet is kept at most."""
        if self.format == "csv":
            return
        try:
            sheet = _first_sheet_with_data(CalamineWorkbook.from_path(str(self.path)))
        except CalamineError as error:
            raise UnreadableFile(_("the spreadsheet is damaged: %(e)s") % {"e": error}) from None
        _kept_sheets.clear()
        _kept_sheets[self._key()] = sheet

    def row_count_estimate(self) -> int | None:
        """Rows in the file (lines, for CSV): the denominator of the progress bar. For a
        workbook it is known once the sheet is parsed (`height`), not before: parsing it just
        to count would double the work and the memory."""
        if self.format != "csv":
            return self.height
        count = 0
        with open(self.path, "rb") as handle:
            while block := handle.read(1 << 20):
                count += block.count(b"\n")
        return count


_kept_sheets: dict[tuple, object] = {}


def _first_sheet_with_data(workbook: CalamineWorkbook):
    for name in workbook.sheet_names:
        sheet = workbook.get_sheet_by_name(name)
        if sheet.height > 0:
            return sheet
    raise UnreadableFile(_("the spreadsheet has no rows"))


def _detect_encoding(sample: bytes) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        # A multi-byte character may be cut at the end of the sample: ignore only that tail.
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if error.start >= len(sample) - 3:
            return "utf-8"
    try:
        sample.decode("gb18030")
        return "gb18030"  # a superset of GBK and GB2312, what Excel on Chinese Windows writes
    except UnicodeDecodeError:
        raise UnreadableFile(
            _("the file is neither a spreadsheet nor text in UTF-8 or GBK")
        ) from None


def open_sheet(path: Path) -> SheetSource:
    """Recognise the file and return a source for its rows, or raise UnreadableFile."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile(_("the file is empty"))
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if head.startswith(_ZIP):
        kind = "ods" if b"opendocument.spreadsheet" in head[:200] else "xlsx"
        return SheetSource(path=path, format=kind)
    if head.startswith(_OLE):
        return SheetSource(path=path, format="xls")
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(_("the file is not a spreadsheet (XLSX, XLS or CSV)"))
    encoding = _detect_encoding(head)
    text = head.decode(encoding, errors="ignore")
    if not text.strip():
        raise UnreadableFile(_("the file is empty"))
    first_line = text.splitlines()[0] if text.splitlines() else ""
    delimiter = max([",", "\t", ";"], key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    if text.lstrip().startswith(("<", "%PDF", "{")):
        raise UnreadableFile(_("the file is not a spreadsheet (XLSX, XLS or CSV)"))
    return SheetSource(path=path, format="csv", encoding=encoding, delimiter=delimiter)


def read_head(source: SheetSource, limit: int = 12) -> list[list]:
    rows: list[list] = []
    try:
        for row in source.rows():
            rows.append(list(row))
            if len(rows) >= limit:
                break
    except (UnicodeDecodeError, csv.Error) as error:
        raise UnreadableFile(_("the file cannot be read as CSV: %(e)s") % {"e": error}) from None
    if not any(any(str(c).strip() for c in row) for row in rows):
        raise UnreadableFile(_("the file is empty"))
    return rows
