"""XLS (Excel 97–2003), read with python-calamine after a walk over its records. Django-free.

Why calamine here and not a streaming reader of our own: the format caps a sheet at 65,536 rows,
and calamine reads it faster than any Python walk (the XLSX reader streams instead because an
XLSX sheet can claim 1,048,576 × 16,384 cells). But calamine builds every sheet of the workbook
whole, reserving memory for the area each sheet's DIMENSIONS record declares and then for the
rectangle its cells span, so a few kilobytes that claim a full sheet would take gigabytes. The
walk below reads only the record headers and cell positions (olefile opens the container) and
refuses, before calamine is called, any workbook whose declared or actual areas exceed the caps:
what calamine may then allocate is bounded by `max_xls_cells`, behind the process's memory limit.
"""

import struct
from collections.abc import Iterator

from .cells import guard_row, trim_row
from .limits import SheetLimits
from .problems import SheetRefused, SheetRow

_BOF, _EOF, _BOUNDSHEET, _FILEPASS, _SST = 0x0809, 0x000A, 0x0085, 0x002F, 0x00FC
_DIMENSIONS = 0x0200
# Records that calamine turns into a cell (row at offset 0, column at 2).
_CELL_RECORDS = frozenset({0x0203, 0x0204, 0x00D6, 0x0205, 0x027E, 0x00FD, 0x0006})
_MULRK = 0x00BD
_HEADER = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


class _Area:
    """The rectangle a set of cells spans (calamine's Range::from_sparse)."""

    def __init__(self) -> None:
        self.rows = (1 << 32, -1)
        self.columns = (1 << 32, -1)

    def add(self, row: int, first: int, last: int) -> None:
        self.rows = (min(self.rows[0], row), max(self.rows[1], row))
        self.columns = (min(self.columns[0], first), max(self.columns[1], last))

    @property
    def cells(self) -> int:
        if self.rows[1] < 0:
            return 0
        return (self.rows[1] - self.rows[0] + 1) * (self.columns[1] - self.columns[0] + 1)


def _records(stream: bytes, offset: int) -> Iterator[tuple[int, int, int]]:
    """(type, data offset, data length) of each record from `offset` on."""
    end = len(stream)
    unpack = _HEADER.unpack_from
    while offset + 4 <= end:
        kind, length = unpack(stream, offset)
        offset += 4
        if offset + length > end:
            raise SheetRefused("damaged")
        yield kind, offset, length
        offset += length


def check_workbook(stream: bytes, limits: SheetLimits) -> None:
    """Refuse what calamine must not be given; return when it may read the workbook."""
    if len(stream) < 8 or _HEADER.unpack_from(stream, 0)[0] != _BOF:
        raise SheetRefused("damaged")
    version = _U16.unpack_from(stream, 4)[0]
    if version not in (0x0500, 0x0600):
        raise SheetRefused("old_excel")
    sheet_offsets = []
    for kind, at, length in _records(stream, 0):
        if kind == _BOUNDSHEET and length >= 6:
            sheet_offsets.append(_U32.unpack_from(stream, at)[0])
        elif kind == _FILEPASS and length >= 2 and _U16.unpack_from(stream, at)[0] != 0:
            raise SheetRefused("encrypted")
        elif kind == _SST and length >= 8:
            if _U32.unpack_from(stream, at + 4)[0] > limits.max_shared_strings:
                raise SheetRefused("too_many_strings", limit=limits.max_shared_strings)
        elif kind == _EOF:
            break
    budget = 0
    for offset in sheet_offsets:
        budget += _check_sheet(stream, offset, limits)
        if budget > limits.max_xls_cells:
            raise SheetRefused("xls_too_large", cells=budget, limit=limits.max_xls_cells)


def _check_sheet(stream: bytes, offset: int, limits: SheetLimits) -> int:
    """The cells calamine would allocate for this sheet; refuses a sheet past the caps."""
    if offset + 4 > len(stream):
        raise SheetRefused("damaged")
    max_rows, max_columns = limits.max_rows, limits.max_columns
    cells, formulas = _Area(), _Area()
    declared = 0
    depth = 0
    for kind, at, length in _records(stream, offset):
        if kind == _BOF:
            depth += 1
            continue
        if kind == _EOF:
            depth -= 1
            if depth <= 0:
                break
            continue
        if depth > 1:
            continue  # an embedded chart's records
        if kind in _CELL_RECORDS and length >= 4:
            row, column = _HEADER.unpack_from(stream, at)
            if row >= max_rows:
                raise SheetRefused("too_many_rows", limit=max_rows)
            if column >= max_columns:
                raise SheetRefused("too_many_columns", limit=max_columns)
            cells.add(row, column, column)
            if kind == 0x0006:
                formulas.add(row, column, column)
        elif kind == _MULRK and length >= 6:
            row, first = _HEADER.unpack_from(stream, at)
            last = _U16.unpack_from(stream, at + length - 2)[0]
            if row >= max_rows:
                raise SheetRefused("too_many_rows", limit=max_rows)
            if max(first, last) >= max_columns:
                raise SheetRefused("too_many_columns", limit=max_columns)
            cells.add(row, min(first, last), max(first, last))
        elif kind == _DIMENSIONS:
            declared = _declared_cells(stream, at, length, limits)
    return declared + cells.cells + formulas.cells


def _declared_cells(stream: bytes, at: int, length: int, limits: SheetLimits) -> int:
    """The area a DIMENSIONS record declares (calamine reserves room for that many cells)."""
    if length == 14:
        first_row, last_row = struct.unpack_from("<II", stream, at)
        first_column, last_column = struct.unpack_from("<HH", stream, at + 8)
    elif length == 10:
        first_row, last_row, first_column, last_column = struct.unpack_from("<HHHH", stream, at)
    else:
        raise SheetRefused("damaged")
    if last_column > limits.max_columns:
        raise SheetRefused("too_many_columns", limit=limits.max_columns)
    if last_row > limits.max_rows:
        raise SheetRefused("too_many_rows", limit=limits.max_rows)
    if first_column > 0xFF or last_column < first_column:
        first_column = 0
    return max(0, last_row - first_row) * max(0, last_column - first_column)


class XlsReader:
    def __init__(self, path: str, limits: SheetLimits):
        import olefile

        self.path, self.limits = path, limits
        self.declared_rows: int | None = None
        try:
            if not olefile.isOleFile(path):
                raise SheetRefused("damaged")
            with olefile.OleFileIO(path) as ole:
                if ole.exists("EncryptedPackage") or ole.exists("EncryptionInfo"):
                    raise SheetRefused("encrypted")  # an XLSX with a password
                name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
                if name is None:
                    raise SheetRefused("not_a_sheet")  # a Word file, say
                if ole.get_size(name) > limits.max_file_bytes:
                    raise SheetRefused("too_large", limit=limits.max_file_bytes)
                stream = ole.openstream(name).read()
        except SheetRefused:
            raise
        except Exception:  # olefile's many ways of saying the container is broken
            raise SheetRefused("damaged") from None
        check_workbook(stream, limits)

    def rows(self) -> Iterator[SheetRow]:
        from python_calamine import CalamineError, CalamineWorkbook

        try:
            book = CalamineWorkbook.from_path(self.path)
            sheet = next(
                (s for s in map(book.get_sheet_by_name, book.sheet_names) if s.height > 0), None
            )
        except CalamineError as error:
            reason = "encrypted" if "password" in str(error).lower() else "damaged"
            raise SheetRefused(reason) from None
        if sheet is None:
            raise SheetRefused("no_rows")
        self.declared_rows = (sheet.end or (0, 0))[0] + 1
        start_column = (sheet.start or (0, 0))[1]
        pad = [""] * start_column
        max_chars = self.limits.max_cell_chars
        for index, cells in enumerate(sheet.iter_rows()):
            trim_row(cells)
            if not cells:
                continue
            if pad:
                cells[:0] = pad  # calamine starts rows at the first used column
            yield SheetRow(index + 1, cells, guard_row(cells, max_chars))

    def close(self) -> None:
        pass
