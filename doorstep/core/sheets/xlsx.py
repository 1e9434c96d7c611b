"""XLSX, streamed: the first worksheet with data, row by row, with expat. Django-free.

Nothing here holds a sheet's used range: a row is built, handed on, and dropped. What a workbook
declares is checked before its rows are read: each part's unpacked size and ratio (`zipparts`),
the sheet's `<dimension ref>` against the row and column caps, the shared strings' declared
count. The shared strings are read lazily, as far as the cells read so far refer to them, so the
first rows of a large workbook come back at once.

Values follow python-calamine (see `cells`), which read these files before.
"""

import contextlib
import posixpath
import re
from collections.abc import Callable, Iterator
from xml.parsers import expat

from .cells import (
    DATETIME,
    DURATION,
    NUMBER,
    column_index,
    excel_datetime,
    excel_unescape,
    guard_text,
    iso_datetime,
)
from .limits import SheetLimits
from .problems import RowProblem, SheetRefused, SheetRow
from .xmlparse import XML_SPACE, StopParsing, local, parse_small, secure_parser
from .zipparts import ZippedWorkbook, read_chunks

_ROW, _C, _V, _IS, _T, _RPH, _DIMENSION, _SHEETDATA = range(1, 9)
_LOCAL_KINDS = {
    "row": _ROW,
    "c": _C,
    "v": _V,
    "is": _IS,
    "t": _T,
    "rPh": _RPH,
    "dimension": _DIMENSION,
    "sheetData": _SHEETDATA,
}
# The fast path (see XlsxReader._sheet_batches): a row written the way Excel, WPS and
# xlsxwriter write one, cell by cell. Anything else in a row (entities, a CR, control
# characters, formulas, rich text, other attributes, whitespace between tags) is not matched and
# the row goes to expat, which reads it as it reads every row without the fast path.
_FAST_ROW = re.compile(
    r'<row(?: r="([0-9]+)")?((?: [A-Za-z_][A-Za-z0-9_.:-]*="[^"<&\x00-\x1f\ufffe\uffff]*")*)>'
    r"(.*)</row>",
    re.S,
)
_FAST_TEXT = "[^<&\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*"
# Each cell, or one character of something else (the last group: the row is not for the fast
# path).
_FAST_CELL = re.compile(
    r'<c r="([A-Z]{1,3})[0-9]+"(?: s="([0-9]+)")?(?: t="([a-zA-Z]+)")?(?:/>|>(?:(<v>)('
    + _FAST_TEXT
    + r')</v>|(<is>)<t(?: xml:space="([a-z]*)")?>('
    + _FAST_TEXT
    + r")</t></is>)?</c>)|(.)",
    re.S,
)
_ATTRIBUTE_NAME = re.compile(r" ([^=]+)=")
# What expat has been fed since the last fast row: whole tags and text, so that it stands in
# element content when the next row is taken from it (no comment, CDATA, PI or half a tag open).
_GAP_TOKENS = re.compile(rb"""(?:[^<]++|<(?![!?])(?:[^<>"']++|"[^"<]*+"|'[^'<]*+')*+>)*+""")
_XML_DECL = re.compile(
    rb"""(?:\xef\xbb\xbf)?<\?xml\s+version\s*=\s*(?:"1\.0"|'1\.0')"""
    rb"""(?:\s+encoding\s*=\s*(?:"([A-Za-z0-9._-]*)"|'([A-Za-z0-9._-]*)'))?"""
    rb"""(?:\s+standalone\s*=\s*(?:"(?:yes|no)"|'(?:yes|no)'))?\s*\?>"""
)
_MAX_GAP = 1 << 20
SHEET_CHUNK = 1 << 20  # unpacked bytes of the sheet fed at a time (the tests vary it)
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})")
_ASCII_SPACE = " \t\r\n"
_COUNT_STRINGS_ABOVE = 64 * 1024 * 1024
# Built-in number formats that show a date or time. 14–22, 45–47 as python-calamine; 27–36 and
# 50–58 are the East Asian date formats (年月日) of Chinese Excel, which it reads as numbers.
_BUILTIN_KINDS = {n: DATETIME for n in (*range(14, 23), 45, 47, *range(27, 37), *range(50, 59))}
_BUILTIN_KINDS[46] = DURATION


def number_format_kind(code: str) -> int:
    """Whether a custom number format shows a date, a duration or a plain number (calamine's
    detect_custom_number_format: the first section, outside quotes, escapes and brackets)."""
    escaped = in_quote = am_pm = hms = False
    brackets = 0
    previous = " "
    for char in code:
        if escaped:
            escaped = False
        elif char in "_\\*":
            escaped = True
        elif in_quote:
            in_quote = char != '"'
        elif char == '"':
            in_quote = True
        elif char == ";":
            return NUMBER
        elif char == "[":
            brackets += 1
        elif char == "]" and brackets == 1 and hms:
            return DURATION
        elif char == "]":
            brackets = max(0, brackets - 1)
        elif char in "aA" and not am_pm and brackets == 0:
            am_pm = True
        elif brackets == 0 and (char in "pm/PM" if am_pm else char in "dmhysDMHYS"):
            return DATETIME
        elif not (hms and char.lower() == previous.lower()):
            hms = previous == "[" and char in "mhsMHS"
        previous = char
    return NUMBER


class SharedStrings:
    """The shared strings table, parsed as far as the cells read so far need it."""

    def __init__(self, book: ZippedWorkbook, name: str | None, limits: SheetLimits):
        self.strings: list[str] = []
        self.limits = limits
        self._chunks: Iterator[bytes] = iter(())
        self._done = name is None
        if name is not None:
            if book.parts[name].file_size > _COUNT_STRINGS_ABOVE:
                self._count(book, name)
            self._chunks = read_chunks(book.open(name), 1 << 16)
            self._parser = self._make_parser()

    def _count(self, book: ZippedWorkbook, name: str) -> None:
        """A large table is counted before it is parsed (bytes.count runs at the speed of the
        unzipping; parsing eight million strings would take half a minute to refuse them)."""
        count = 0
        with book.open(name) as stream:
            for chunk in read_chunks(stream):
                count += chunk.count(b"si>") // 2 + chunk.count(b"si/>")
                if count > self.limits.max_shared_strings:
                    raise SheetRefused("too_many_strings", limit=self.limits.max_shared_strings)
        book.unpacked -= book.parts[name].file_size  # counted once, when it is read for real

    def _make_parser(self):
        parser = secure_parser()
        strings, limits = self.strings, self.limits
        cap = limits.max_cell_chars + 1  # one more, so that the cell is still seen as too long
        parts: list[str] = []
        depth = in_si = in_t = in_rph = preserve = 0
        size = 0

        def start(name: str, attrs: dict) -> None:
            nonlocal depth, in_si, in_t, in_rph, preserve, size
            depth += 1
            if depth > 32:
                raise SheetRefused("structure")
            tag = local(name)
            if tag == "si":
                in_si, size = 1, 0
                parts.clear()
            elif tag == "t" and in_si and not in_rph:
                in_t, preserve = 1, attrs.get(XML_SPACE) == "preserve"
                parts.append("")  # this run's text is collected from here
            elif tag == "rPh":
                in_rph = 1
            elif tag == "sst":
                declared = attrs.get("uniqueCount") or attrs.get("count") or "0"
                if declared.isdigit() and int(declared) > limits.max_shared_strings:
                    raise SheetRefused("too_many_strings", limit=limits.max_shared_strings)

        def text(data: str) -> None:
            nonlocal size
            if in_t and size < cap:
                parts[-1] += data
                size += len(data)

        def end(name: str) -> None:
            nonlocal depth, in_si, in_t, in_rph
            depth -= 1
            tag = local(name)
            if tag == "t" and in_t:
                in_t = 0
                if not preserve:
                    parts[-1] = parts[-1].strip(_ASCII_SPACE)
                parts[-1] = excel_unescape(parts[-1])
            elif tag == "rPh":
                in_rph = 0
            elif tag == "si":
                in_si = 0
                strings.append("".join(parts)[:cap])
                if len(strings) > limits.max_shared_strings:
                    raise SheetRefused("too_many_strings", limit=limits.max_shared_strings)

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text
        return parser

    def get(self, index: int) -> str:
        strings = self.strings
        while index >= len(strings) and not self._done:
            chunk = next(self._chunks, None)
            try:
                if chunk is None:
                    self._done = True
                    self._parser.Parse(b"", True)
                else:
                    self._parser.Parse(chunk, False)
            except Exception as error:  # expat's own error: the table is broken
                if isinstance(error, SheetRefused):
                    raise
                raise SheetRefused("damaged") from None
        if index >= len(strings) or index < 0:
            raise SheetRefused("damaged")
        return strings[index]


class XlsxReader:
    def __init__(self, path: str, limits: SheetLimits, *, fast: bool = True):
        self.limits = limits
        self.fast = fast  # False: every row through expat (the reference for the fast path)
        self.fast_rows = 0  # rows read by the fast path
        self.book = ZippedWorkbook(path, limits)
        self.declared_rows: int | None = None
        workbook = self._office_document()
        self.folder = posixpath.dirname(workbook)
        self.sheets, self.is_1904 = self._workbook(workbook)
        targets = self._relationships(workbook)
        # Worksheets only, in the workbook's order (a chart sheet has no cells).
        self.sheet_parts = [
            targets[rid][0]
            for rid in self.sheets
            if rid in targets and targets[rid][1] == "worksheet"
        ]
        by_type = {kind: target for target, kind in targets.values()}
        self.formats = self._styles(by_type.get("styles"))
        strings = by_type.get("sharedStrings")
        if strings is not None and not self.book.has(strings):
            strings = None
        self.shared = SharedStrings(self.book, strings, limits)

    # -- the workbook's own parts ---------------------------------------------------------------
    def _office_document(self) -> str:
        if self.book.has("_rels/.rels"):
            found: list[str] = []

            def start(name: str, attrs: dict) -> None:
                if local(name) == "Relationship" and attrs.get("Type", "").endswith(
                    "/officeDocument"
                ):
                    found.append(attrs.get("Target", ""))

            parse_small(self.book.read_small("_rels/.rels", 1 << 20), start)
            if found:
                return _resolve("", found[0])
        if self.book.has("xl/workbook.xml"):
            return "xl/workbook.xml"
        raise SheetRefused("not_a_sheet")

    def _workbook(self, name: str) -> tuple[list[str], bool]:
        sheets: list[str] = []
        is_1904 = [False]

        def start(tag: str, attrs: dict) -> None:
            kind = local(tag)
            if kind == "sheet":
                rid = next((v for k, v in attrs.items() if k.endswith(" id")), None)
                if rid:
                    sheets.append(rid)
            elif kind == "workbookPr":
                is_1904[0] = attrs.get("date1904", "") in ("1", "true")

        parse_small(self.book.read_small(name, 16 << 20), start)
        return sheets, is_1904[0]

    def _relationships(self, workbook: str) -> dict[str, tuple[str, str]]:
        """rId → (part name, kind) for the workbook's relationships."""
        rels = posixpath.join(self.folder, "_rels", posixpath.basename(workbook) + ".rels")
        targets: dict[str, tuple[str, str]] = {}
        if not self.book.has(rels):
            return targets

        def start(name: str, attrs: dict) -> None:
            if local(name) == "Relationship" and attrs.get("TargetMode") != "External":
                kind = attrs.get("Type", "").rpartition("/")[2]
                target = _resolve(self.folder, attrs.get("Target", ""))
                targets[attrs.get("Id", "")] = (target, kind)

        parse_small(self.book.read_small(rels, 16 << 20), start)
        return targets

    def _styles(self, name: str | None) -> list[int]:
        """For each cell style (the `s` of a cell), what its number format makes of a number."""
        if name is None or not self.book.has(name):
            return []
        custom: dict[int, int] = {}
        style_ids: list[int] = []
        where = {"cellXfs": False}

        def start(tag: str, attrs: dict) -> None:
            kind = local(tag)
            if kind == "numFmt":
                number = attrs.get("numFmtId", "")
                if number.isdigit():
                    custom[int(number)] = number_format_kind(attrs.get("formatCode", ""))
            elif kind == "cellXfs":
                where["cellXfs"] = True
            elif kind == "xf" and where["cellXfs"]:
                number = attrs.get("numFmtId", "0")
                style_ids.append(int(number) if number.isdigit() else 0)

        def end(tag: str) -> None:
            if local(tag) == "cellXfs":
                where["cellXfs"] = False

        parse_small(self.book.read_small(name, 64 << 20), start, end)
        return [custom.get(n, _BUILTIN_KINDS.get(n, NUMBER)) for n in style_ids]

    # -- rows ------------------------------------------------------------------------------------
    def rows(self) -> Iterator[SheetRow]:
        """Rows of the first worksheet that has any."""
        for part in self.sheet_parts:
            if not self.book.has(part):
                continue
            found = False
            for batch in self._sheet_batches(part):
                found = found or bool(batch)
                yield from batch
            if found:
                return
        raise SheetRefused("no_rows")

    def _sheet_batches(self, part: str) -> Iterator[list[SheetRow]]:
        """The sheet's rows, a batch per chunk of XML read (1 MB unpacked).

        Rows written the usual way are taken from the chunk by `fast_row` (regular expressions
        over a whole row, a few times faster than expat's six calls per cell); everything else is
        fed to expat, in order, and read by its handlers. A chunk is always consumed whole before
        its rows are handed on, as expat alone would: the rows, the refusals and the point at
        which a refusal cuts the rows off are the same with and without the fast path
        (tests/test_sheet_fast_path.py)."""
        out: list[SheetRow] = []
        # The sheet is the one part read with prefixes as written (x:c, c): it is the hot
        # loop, and expat's namespace processing costs a tenth of it. Elements are known by
        # their local name whatever their prefix.
        parser = secure_parser(namespaces=False)
        fast_row, in_sheet_data = self._install_sheet_handlers(parser, out.append)
        parse = parser.Parse
        fast = self.fast
        gap = b""  # fed to expat since the last fast row, not yet seen to end between tags

        def feed(piece: bytes) -> None:
            nonlocal gap, fast
            parse(piece, False)
            if fast:
                gap += piece
                tokens = _GAP_TOKENS.match(gap)  # always matches (it may match nothing)
                gap = gap[tokens.end() :] if tokens is not None else gap
                if gap.startswith((b"<!", b"<?")) or len(gap) > _MAX_GAP:
                    fast = False  # expat may be in a comment, a CDATA or a tag: it reads the rest

        first = True
        try:
            for chunk in read_chunks(self.book.open(part), SHEET_CHUNK):
                if first and fast:
                    first = False
                    declared = _XML_DECL.match(chunk)
                    if declared is not None:
                        encoding = declared[1] or declared[2]
                        if encoding is not None and encoding.lower() != b"utf-8":
                            fast = False
                        parse(chunk[: declared.end()], False)
                        chunk = chunk[declared.end() :]
                find, position = chunk.find, 0
                while fast:
                    start = find(b"<row", position)
                    if start < 0:
                        break
                    end = find(b"</row>", start)
                    if end < 0:
                        break
                    end += 6
                    if start > position:
                        feed(chunk[position:start])
                    row = chunk[start:end]
                    taken = False
                    if not gap and fast and in_sheet_data():
                        with contextlib.suppress(UnicodeDecodeError):  # expat says why
                            taken = fast_row(row.decode())
                    if not taken:
                        feed(row)
                    position = end
                if position < len(chunk):
                    feed(chunk[position:] if position else chunk)
                if out:
                    yield list(out)
                    out.clear()
            parse(b"", True)
        except StopParsing:
            pass
        except expat.ExpatError:
            raise SheetRefused("damaged") from None
        if out:
            yield list(out)
            out.clear()

    def _install_sheet_handlers(self, parser, emit: Callable[[SheetRow], None]):
        """expat handlers that build each row and hand it to `emit`, and `fast_row`, which reads
        a whole row as these handlers would and leaves their state as they would (a row may sit
        in an element a later end tag closes). This is the loop a large upload spends its time
        in (about 2 million cells per 200,000-row roster), so the state lives in closure
        variables and each handler's branches come in order of frequency."""
        limits = self.limits
        max_rows, max_columns = limits.max_rows, limits.max_columns
        max_chars = limits.max_cell_chars
        kinds = dict(_LOCAL_KINDS)  # element name as written → kind; other names cached as 0
        # The `s` of a cell as written → what its number format makes of a number, for the
        # styles that show a date or a duration (any other style: a plain number).
        date_styles = {str(i): kind for i, kind in enumerate(self.formats) if kind}
        is_1904 = self.is_1904
        shared_get = self.shared.get
        columns: dict[str, int] = {}
        parts: list[str] = []
        row_number = 0
        cells: list = []
        problem: RowProblem | None = None
        next_column = column = 0
        cell_type: str | None = None
        date_kind = 0
        collecting = 0  # 1 inside <v>, 2 inside an inline string's <t>
        size = 0
        in_is = in_rph = 0
        preserve = False
        value_text: str | None = None
        inline: list[str] = []
        had_inline = False
        in_data = False  # <sheetData> has begun: a fast row is never the document's root
        odd_attributes: dict[str, bool] = {}  # a row's other attributes → expat must read it

        def kind_of(name: str) -> int:
            kind = kinds.get(name)
            if kind is None:  # a prefixed name (x:c) or one we skip
                kind = kinds[name] = _LOCAL_KINDS.get(name.rpartition(":")[2], 0)
            return kind

        def start(name: str, attrs: dict) -> None:
            nonlocal cells, problem, next_column, column, cell_type, date_kind, collecting
            nonlocal size, in_is, in_rph, preserve, value_text, row_number, had_inline
            kind = kinds.get(name)
            if kind is None:
                kind = kind_of(name)
            if kind == _C:
                ref = attrs.get("r")
                if ref:
                    letters = ref.rstrip("0123456789")
                    column = columns.get(letters, -1)
                    if column < 0:
                        if not (letters.isascii() and letters.isalpha()) or len(letters) > 3:
                            raise SheetRefused("damaged")
                        column = columns[letters] = column_index(letters)
                else:
                    column = next_column
                next_column = column + 1
                cell_type = attrs.get("t")
                style = attrs.get("s")
                date_kind = date_styles.get(style, 0) if style is not None else 0
                value_text = None
            elif kind == _V:
                collecting, size = 1, 0
                parts.clear()
            elif kind == _T:
                if in_is and not in_rph:
                    collecting, size = 2, 0
                    preserve = attrs.get("xml:space") == "preserve"
                    parts.clear()
            elif kind == _IS:
                in_is, had_inline = 1, True
                inline.clear()
            elif kind == _ROW:
                r = attrs.get("r")
                number = int(r) if r is not None and r.isdigit() else row_number + 1
                if number <= row_number:
                    raise SheetRefused("damaged")  # rows out of order: resuming relies on order
                row_number = number
                cells, problem, next_column = [], None, 0
            elif kind == _RPH:
                in_rph = 1
            elif kind == _DIMENSION:
                self._check_dimension(attrs.get("ref", ""))
            elif kind == _SHEETDATA:
                nonlocal in_data
                in_data = True

        def text(data: str) -> None:
            nonlocal size
            if collecting and size <= max_chars:
                parts.append(data)
                size += len(data)

        def end(name: str) -> None:
            nonlocal collecting, in_is, in_rph, value_text, problem, had_inline
            kind = kinds.get(name)
            if kind is None:
                kind = kind_of(name)
            if kind == _V:
                if collecting == 1:
                    value_text = parts[0] if len(parts) == 1 else "".join(parts)
                collecting = 0
            elif kind == _C:
                raw = value_text
                if cell_type == "s":
                    if not raw:
                        return
                    try:
                        value = shared_get(int(raw))
                    except ValueError:
                        raise SheetRefused("damaged") from None
                elif cell_type == "inlineStr":
                    if not had_inline:
                        return
                    had_inline = False
                    value = inline[0] if len(inline) == 1 else "".join(inline)
                elif not raw:
                    return
                elif cell_type is None or cell_type == "n":
                    try:
                        value = float(raw)
                    except ValueError:
                        value = excel_unescape(raw) if cell_type is None else raw
                    else:
                        if date_kind:
                            value = excel_datetime(value, date_kind, is_1904)
                elif cell_type == "str":
                    value = excel_unescape(raw)
                elif cell_type == "b":
                    value = raw != "0"
                elif cell_type == "e":
                    return
                elif cell_type == "d":
                    value = iso_datetime(raw)
                else:
                    raise SheetRefused("damaged")
                if value == "":
                    return
                if column >= max_columns:
                    raise SheetRefused("too_many_columns", limit=max_columns)
                if type(value) is str and (len(value) > max_chars or "\x00" in value):
                    value, bad = guard_text(value, column, max_chars)
                    problem = problem or bad
                width = len(cells)
                if column == width:
                    cells.append(value)
                elif column > width:
                    cells.extend([""] * (column - width))
                    cells.append(value)
                else:
                    cells[column] = value
            elif kind == _T:
                if collecting == 2:
                    piece = parts[0] if len(parts) == 1 else "".join(parts)
                    if not preserve:
                        piece = piece.strip(_ASCII_SPACE)
                    inline.append(excel_unescape(piece) if "_x00" in piece else piece)
                collecting = 0
            elif kind == _IS:
                in_is = 0
            elif kind == _ROW:
                if cells:
                    if row_number > max_rows:
                        raise SheetRefused("too_many_rows", limit=max_rows)
                    emit(SheetRow(row_number, cells, problem))
            elif kind == _RPH:
                in_rph = 0
            elif kind == _SHEETDATA:
                raise StopParsing

        def fast_row(row: str) -> bool:
            """Read one whole `<row>…</row>` if it is written the usual way; False (nothing
            read, no state changed) when expat must read it."""
            nonlocal cells, problem, next_column, column, cell_type, date_kind, collecting
            nonlocal in_is, value_text, row_number, had_inline
            if in_rph:
                return False
            matched = _FAST_ROW.fullmatch(row)
            if matched is None:
                return False
            r, others, body = matched.groups()
            if others:
                odd = odd_attributes.get(others)
                if odd is None:
                    names = _ATTRIBUTE_NAME.findall(others)
                    odd = len(set(names)) != len(names) or "r" in names
                    if len(odd_attributes) < 1000:
                        odd_attributes[others] = odd
                if odd:
                    return False
            if "]]>" in body:
                return False
            number = int(r) if r else row_number + 1
            if number <= row_number:
                raise SheetRefused("damaged")
            # From here on a cell may refuse the sheet as expat's handlers would at that cell;
            # a cell expat must read sends the whole row back to it, before any state changes.
            values: list = []
            bad: RowProblem | None = None
            last = None
            any_value = any_inline = False
            piece = ""
            for (
                letters,
                style,
                type_attr,
                v_tag,
                raw,
                is_tag,
                space,
                piece_text,
                other,
            ) in _FAST_CELL.findall(body):
                if other:
                    return False
                at = columns.get(letters)
                if at is None:
                    at = columns[letters] = column_index(letters)
                dkind = date_styles.get(style, 0) if style else 0
                if is_tag:
                    if type_attr != "inlineStr" or len(piece_text) > max_chars:
                        return False  # (too long: expat would have stopped collecting it)
                    any_value = any_inline = True
                    piece = piece_text if space == "preserve" else piece_text.strip(_ASCII_SPACE)
                    if "_x00" in piece:
                        piece = excel_unescape(piece)
                    last = (at, type_attr, dkind, None)
                    value = piece
                else:
                    ctype = type_attr or None
                    if not v_tag:
                        raw = None
                    elif len(raw) > max_chars:
                        return False
                    else:
                        any_value = True
                    last = (at, ctype, dkind, raw)
                    if ctype == "s":
                        if not raw:
                            continue
                        try:
                            value = shared_get(int(raw))
                        except ValueError:
                            raise SheetRefused("damaged") from None
                    elif ctype == "inlineStr":
                        return False  # without <is>: expat's handlers use the one before
                    elif not raw:
                        continue
                    elif ctype is None or ctype == "n":
                        try:
                            value = float(raw)
                        except ValueError:
                            value = excel_unescape(raw) if ctype is None else raw
                        else:
                            if dkind:
                                value = excel_datetime(value, dkind, is_1904)
                    elif ctype == "str":
                        value = excel_unescape(raw)
                    elif ctype == "b":
                        value = raw != "0"
                    elif ctype == "e":
                        continue
                    elif ctype == "d":
                        value = iso_datetime(raw)
                    else:
                        raise SheetRefused("damaged")
                if value == "":
                    continue
                if at >= max_columns:
                    raise SheetRefused("too_many_columns", limit=max_columns)
                if type(value) is str and (len(value) > max_chars or "\x00" in value):
                    value, flagged = guard_text(value, at, max_chars)
                    bad = bad or flagged
                width = len(values)
                if at == width:
                    values.append(value)
                elif at > width:
                    values.extend([""] * (at - width))
                    values.append(value)
                else:
                    values[at] = value
            # The handlers' state as expat would have left it.
            row_number = number
            cells, problem = values, bad
            if last is not None:
                column, cell_type, date_kind, value_text = last
                next_column = column + 1
            else:
                next_column = 0
            if any_value:
                collecting = 0
            if any_inline:
                in_is, had_inline = 0, False
                inline[:] = [piece]
            self.fast_rows += 1
            if values:
                if row_number > max_rows:
                    raise SheetRefused("too_many_rows", limit=max_rows)
                emit(SheetRow(row_number, values, bad))
            return True

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text
        return fast_row, lambda: in_data

    def _check_dimension(self, ref: str) -> None:
        """The sheet's declared used range, before a row of it is read."""
        corners = _REF.findall(ref)
        if not corners:
            return
        letters, row = corners[-1]
        last_row, last_column = int(row), column_index(letters.upper()) + 1
        if last_column > self.limits.max_columns:
            raise SheetRefused("too_many_columns", limit=self.limits.max_columns, declared=ref)
        if last_row > self.limits.max_rows:
            raise SheetRefused("too_many_rows", limit=self.limits.max_rows, declared=ref)
        self.declared_rows = last_row

    def close(self) -> None:
        self.book.close()


def _resolve(folder: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, target))
