"""Why a sheet is refused, or why one of its rows cannot be used, as codes with parameters.

The reading process has no translations: it sends a code and numbers, and `reading` turns them
into the Chinese (or English) sentence the user sees.
"""

from typing import Any, NamedTuple


class SheetRefused(Exception):
    """The whole file is refused; `code` is one of REFUSALS, `params` fill its sentence."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


class RowProblem(NamedTuple):
    """A row that is read but cannot be used as it is (the row is reported, not imported)."""

    code: str  # one of ROW_PROBLEMS
    column: int  # 0-based column of the first bad cell, -1 for the whole line
    limit: int = 0


class SheetRow(NamedTuple):
    """One row with at least one non-empty cell. `number` is the row number people see (Excel's
    row number, or the CSV record's number); cells after the last non-empty one are left out."""

    number: int
    cells: list
    problem: Any = None  # a RowProblem in the reading process, its sentence after `reading`


REFUSALS = (
    "too_large",  # file bytes over max_file_bytes (limit)
    "too_many_rows",  # limit, [declared]
    "too_many_columns",  # limit, [declared]
    "unpacked_too_large",  # limit: the zip's parts would unpack to more than this
    "unpack_ratio",  # ratio, limit
    "too_many_strings",  # limit
    "xls_too_large",  # cells, limit
    "damaged",  # the container or the XML is broken
    "encrypted",
    "old_excel",  # BIFF2-4
    "no_rows",
    "not_a_sheet",
    "structure",  # nesting deeper than any spreadsheet needs, a DTD, entity declarations
    "memory",  # the reading process ran out of its memory
    "timeout",  # the reading process ran out of CPU time or stopped answering
)
ROW_PROBLEMS = (
    "cell_too_long",  # column, limit
    "nul_character",  # column
    "bad_encoding",  # the line is not text in the file's encoding
    "line_too_long",  # limit: a physical CSV line longer than any row can be
)
