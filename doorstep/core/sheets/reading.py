"""Open an uploaded sheet and read its rows: the one way the app reads a spreadsheet.

    source = open_sheet(path)              # UnreadableFile: empty, not a sheet, too large
    for row in source.rows():              # SheetRow(number, cells, problem)
        ...                                # problem: why this row cannot be used, or None

The format is told from the file's first bytes, not its name (lists arrive renamed). The rows come
from a reading process under the limits of settings.SHEET_LIMITS (see `sandbox`); a refusal of
the file is an UnreadableFile whose message says why in the user's language ("表格超过 100 列",
"文件解压后过大"), and a row that cannot be used carries its reason ("D 列：单元格过长").
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from .cells import column_letters
from .limits import SheetLimits
from .problems import RowProblem, SheetRefused, SheetRow
from .sandbox import AHEAD_BYTES, ReaderStats, ReaderUnavailable, read_rows

logger = logging.getLogger(__name__)

HEAD_AHEAD_BYTES = 256 * 1024  # a column check reads a dozen rows: buffer little beyond them
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

__all__ = [
    "ReaderUnavailable",
    "SheetRow",
    "SheetSource",
    "UnreadableFile",
    "open_sheet",
    "read_head",
    "sheet_limits",
]


class UnreadableFile(ValueError):
    """The file is refused as a whole; the message says why, in the user's language. `code` is
    the reason's name (problems.REFUSALS, or "empty" / "not_a_sheet" found before reading)."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


def sheet_limits(**changes) -> SheetLimits:
    """The configured limits, with `changes` (the tests loosen or tighten them)."""
    return SheetLimits.from_dict(settings.SHEET_LIMITS).replaced(**changes)


def small_sheet_limits() -> SheetLimits:
    """For the sheets read whole into memory (accounts, areas, a visit sheet): fewer rows."""
    limits = sheet_limits()
    return limits.replaced(max_rows=min(limits.max_rows, settings.SHEET_MAX_ROWS_SMALL))


def _mb(size: int) -> str:
    megabytes = size / (1024 * 1024)
    return f"{megabytes:,.0f}" if megabytes >= 10 else f"{megabytes:.1f}".removesuffix(".0")


def refusal_message(code: str, params: dict) -> str:
    limit = params.get("limit", 0)
    if code == "too_many_rows":
        return _("the sheet has more than %(limit)s rows") % {"limit": f"{limit:,}"}
    if code == "too_many_columns":
        return _("the sheet has more than %(limit)s columns") % {"limit": f"{limit:,}"}
    if code == "too_large":
        return _("the file is larger than %(limit)s MB") % {"limit": _mb(limit)}
    if code == "unpacked_too_large":
        return _("the file unpacks to more than %(limit)s MB") % {"limit": _mb(limit)}
    if code == "unpack_ratio":
        return _(
            "the file unpacks to %(ratio)s times its size (at most %(limit)s times is accepted)"
        ) % {"ratio": f"{params.get('ratio', 0):,}", "limit": f"{limit:,}"}
    if code == "too_many_strings":
        return _("the workbook holds more than %(limit)s distinct texts") % {"limit": f"{limit:,}"}
    if code == "xls_too_large":
        return _(
            "this XLS file spans %(cells)s cells, more than %(limit)s: save it as XLSX or CSV "
            "and upload that"
        ) % {"cells": f"{params.get('cells', 0):,}", "limit": f"{limit:,}"}
    if code == "encrypted":
        return _("the file is protected by a password: remove the password and upload it again")
    if code == "old_excel":
        return _("this file is from an Excel older than Excel 97: save it as XLSX and upload that")
    if code == "no_rows":
        return _("the spreadsheet has no rows")
    if code == "not_a_sheet":
        return _("the file is not a spreadsheet (XLSX, XLS or CSV)")
    if code == "structure":
        return _(
            "the file is built in a way no spreadsheet is (nesting too deep, or declarations "
            "spreadsheets do not have)"
        )
    if code == "memory":
        return _("reading the file needs more memory than allowed: it is too large or malformed")
    if code == "timeout":
        return _("reading the file took longer than allowed: it is too large or malformed")
    return _("the spreadsheet is damaged and cannot be read")


def problem_message(problem: RowProblem, encoding: str = "") -> str:
    column = column_letters(problem.column) if problem.column >= 0 else ""
    if problem.code == "cell_too_long":
        if column:
            return _("column %(column)s: the cell is longer than %(limit)s characters") % {
                "column": column,
                "limit": f"{problem.limit:,}",
            }
        return _("a cell is longer than %(limit)s characters") % {"limit": f"{problem.limit:,}"}
    if problem.code == "nul_character":
        return _("column %(column)s holds a NUL character") % {"column": column}
    if problem.code == "bad_encoding":
        return _("the line is not valid text in the file's encoding (%(encoding)s)") % {
            "encoding": encoding.upper() or "UTF-8"
        }
    if problem.code == "line_too_long":
        return _("the line is longer than %(limit)s MB") % {"limit": _mb(problem.limit)}
    return _("the row cannot be read")


@dataclass
class SheetSource:
    path: Path
    format: str  # csv | xlsx | xls | ods
    limits: SheetLimits
    encoding: str = ""
    delimiter: str = ","
    cr_lines: bool = False  # a CSV whose lines end in CR alone (Excel for Mac)
    line_count: int | None = None  # of a CSV file, counted when it is opened
    stats: ReaderStats = field(default_factory=ReaderStats)

    @property
    def declared_rows(self) -> int | None:
        """The sheet's last row as the file declares it, once the reading has started."""
        return self.stats.declared_rows

    def rows(self, *, after_row: int = 0, ahead_bytes: int = AHEAD_BYTES) -> Iterator[SheetRow]:
        """Every row with a non-empty cell (after `after_row`), its problem as a sentence.
        UnreadableFile when the file is refused, part-way or before the first row."""
        request = {
            "path": str(self.path.resolve()),
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "cr_lines": self.cr_lines,
            "after_row": after_row,
        }
        self.stats = ReaderStats()
        try:
            for row in read_rows(request, self.limits, self.stats, ahead_bytes=ahead_bytes):
                if row.problem is None:
                    yield row
                else:
                    yield row._replace(problem=problem_message(row.problem, self.encoding))
        except SheetRefused as refused:
            logger.warning(
                "sheet refused (%s, %s): %s after %s rows",
                self.format,
                self.path.suffix,
                refused.code,
                self.stats.rows,
            )
            message = refusal_message(refused.code, refused.params)
            raise UnreadableFile(message, refused.code) from None
        logger.info(
            "sheet read (%s): %s rows, reader peak %s MB, %.1f s CPU",
            self.format,
            self.stats.rows,
            self.stats.peak_rss_kb // 1024,
            self.stats.cpu_seconds,
        )

    def row_count_estimate(self) -> int | None:
        """Lines of a CSV file (records can span lines, so at least as many as rows); for a
        workbook, its declared last row once the reading has started."""
        return self.line_count if self.format == "csv" else self.declared_rows


def _count_lines(path: Path, end: bytes) -> int:
    count = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(end)
    return count


def _detect_encoding(sample: bytes) -> str:
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # Excel's "Unicode text": the codec reads the byte order mark
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
            _("the file is neither a spreadsheet nor text in UTF-8 or GBK"), "not_a_sheet"
        ) from None


def open_sheet(path: Path | str, *, limits: SheetLimits | None = None) -> SheetSource:
    """Recognise the file and return a source for its rows, or raise UnreadableFile. Nothing of
    the file is parsed here beyond its first bytes."""
    path = Path(path)
    limits = limits or sheet_limits()
    size = path.stat().st_size
    if size == 0:
        raise UnreadableFile(_("the file is empty"), "empty")
    if size > limits.max_file_bytes:
        raise UnreadableFile(refusal_message("too_large", {"limit": limits.max_file_bytes}))
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if head.startswith(_ZIP):
        kind = "ods" if b"opendocument.spreadsheet" in head[:200] else "xlsx"
        return SheetSource(path=path, format=kind, limits=limits)
    if head.startswith(_OLE):
        return SheetSource(path=path, format="xls", limits=limits)
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
    # A stray NUL makes one bad row; a binary file is full of them.
    if not utf16 and head.count(b"\x00") * 100 > len(head):
        raise UnreadableFile(refusal_message("not_a_sheet", {}), "not_a_sheet")
    encoding = _detect_encoding(head)
    text = head.decode(encoding, errors="ignore")
    if not text.strip():
        raise UnreadableFile(_("the file is empty"), "empty")
    text_lines = text.splitlines()
    first_line = text_lines[0] if text_lines else ""
    delimiter = max([",", "\t", ";"], key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    if text.lstrip().startswith(("<", "%PDF", "{")):
        raise UnreadableFile(refusal_message("not_a_sheet", {}), "not_a_sheet")
    cr_lines = b"\r" in head and b"\n" not in head
    lines = _count_lines(path, b"\r" if cr_lines else b"\n")
    # Refused before a row is read (a record spanning lines makes the count only an upper bound).
    if lines > limits.max_rows:
        params = {"limit": limits.max_rows}
        raise UnreadableFile(refusal_message("too_many_rows", params), "too_many_rows")
    return SheetSource(
        path=path,
        format="csv",
        limits=limits,
        encoding=encoding,
        delimiter=delimiter,
        cr_lines=cr_lines,
        line_count=lines,
    )


def read_head(source: SheetSource, limit: int = 12) -> list[SheetRow]:
    """The first `limit` rows with content; the reading process ends as soon as they are in."""
    rows: list[SheetRow] = []
    iterator = source.rows(ahead_bytes=HEAD_AHEAD_BYTES)
    try:
        for row in iterator:
            rows.append(row)
            if len(rows) >= limit:
                break
    finally:
        iterator.close()
    if not any(any(str(c).strip() for c in row.cells) for row in rows):
        raise UnreadableFile(_("the file is empty"), "empty")
    return rows
