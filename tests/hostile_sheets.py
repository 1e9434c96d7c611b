"""Hostile spreadsheets, built on the spot (never committed): small crafted zips for the suite,
the same shapes at full size for bench/hostile_files.py.

Each builder writes a file and returns its path. An XLSX here is the least a reader needs:
content types, the workbook, its relationships and one sheet (plus shared strings when given).
"""

import io
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_OFFICE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_OFFICE}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_OFFICE}.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
    '<sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>'
)


def _workbook_rels(shared: bool) -> str:
    strings = (
        f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        if shared
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f"{strings}</Relationships>"
    )


def write_xlsx_parts(
    path: Path, sheet: Iterable[bytes], shared_strings: Iterable[bytes] | None = None
) -> Path:
    """An XLSX whose sheet XML (and shared strings XML) are streamed from the iterables, so
    that a sheet of gigabytes is written without holding it."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", _WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(shared_strings is not None))
        parts = [("xl/worksheets/sheet1.xml", sheet)]
        if shared_strings is not None:
            parts.append(("xl/sharedStrings.xml", shared_strings))
        for name, chunks in parts:
            with book.open(name, "w", force_zip64=True) as out:
                for chunk in chunks:
                    out.write(chunk)
    return path


def _sheet(rows_xml: Iterable[bytes], dimension: str = "") -> Iterable[bytes]:
    head = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}">'
    if dimension:
        head += f'<dimension ref="{dimension}"/>'
    yield (head + "<sheetData>").encode()
    yield from rows_xml
    yield b"</sheetData></worksheet>"


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


_HEADER_ROW = (
    '<row r="1">'
    + "".join(_inline(f"{c}1", t) for c, t in zip("ABC", ("户号", "姓名", "身份证号"), strict=True))
    + "</row>"
).encode()


# -- the shapes ------------------------------------------------------------------------------
def used_range_xfd(path: Path) -> Path:
    """1.7 KB that claims cell XFD1048576 (16,384 columns, 1,048,576 rows) as its used range."""
    cell = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return write_xlsx_parts(path, _sheet([_HEADER_ROW, cell], dimension="A1:XFD1048576"))


def wide_row(path: Path, columns: int = 16_384) -> Path:
    """A row of `columns` filled cells and no declared range (one page of 16 MB once shown)."""
    cells = "".join(f"<c><v>{i}</v></c>" for i in range(columns))
    return write_xlsx_parts(path, _sheet([_HEADER_ROW, f'<row r="2">{cells}</row>'.encode()]))


def many_cells(path: Path, rows: int, columns: int) -> Path:
    """rows × columns filled cells without a declared range: 20M of them zip to about 1.3 MB."""
    row_cells = ("<c><v>1</v></c>" * columns).encode()

    def body() -> Iterable[bytes]:
        yield _HEADER_ROW
        chunk: list[bytes] = []
        for _ in range(rows):
            chunk.append(b"<row>" + row_cells + b"</row>")
            if len(chunk) == 4096:
                yield b"".join(chunk)
                chunk.clear()
        yield b"".join(chunk)

    return write_xlsx_parts(path, _sheet(body()))


def zip_bomb(path: Path, unpacked_bytes: int) -> Path:
    """A sheet of `unpacked_bytes` bytes of white space: a thousand to one once zipped."""
    block = b" " * (1 << 20)

    def body() -> Iterable[bytes]:
        yield _HEADER_ROW
        for _ in range(unpacked_bytes // len(block)):
            yield block

    return write_xlsx_parts(path, _sheet(body()))


def deep_shared_strings(path: Path, depth: int = 100_000) -> Path:
    """A shared string nested `depth` elements deep."""
    strings = [
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}"><si>'.encode(),
        b"<r>" * depth,
        b"<t>x</t>",
        b"</r>" * depth,
        b"</si></sst>",
    ]
    cell = b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    return write_xlsx_parts(path, _sheet([cell]), shared_strings=strings)


def huge_shared_strings(path: Path, count: int, declared: int | None = None) -> Path:
    """`count` shared strings (declaring `declared` of them), the last one used by a cell."""
    head = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_MAIN}" '
    head += f'uniqueCount="{declared if declared is not None else count}">'

    def strings() -> Iterable[bytes]:
        yield head.encode()
        for start in range(0, count, 10_000):
            stop = min(count, start + 10_000)
            yield b"".join(b"<si><t>%d</t></si>" % i for i in range(start, stop))
        yield b"</sst>"

    cell = f'<row r="1"><c r="A1" t="s"><v>{count - 1}</v></c></row>'.encode()
    return write_xlsx_parts(path, _sheet([cell]), shared_strings=strings())


def rows_past_the_last(path: Path, row: int) -> Path:
    """A header and one cell on row `row`, no declared range."""
    cell = f'<row r="{row}"><c r="A{row}"><v>1</v></c></row>'.encode()
    return write_xlsx_parts(path, _sheet([_HEADER_ROW, cell]))


def nul_cell_xlsx(path: Path, rows: list[list[str]]) -> Path:
    """A sheet whose text may carry Excel's escape for NUL (_x0000_)."""
    body = []
    for number, values in enumerate(rows, start=1):
        cells = "".join(_inline(f"{chr(65 + i)}{number}", v) for i, v in enumerate(values))
        body.append(f'<row r="{number}">{cells}</row>'.encode())
    return write_xlsx_parts(path, _sheet(body))


def xls_claiming_a_full_sheet(path: Path, source: Path) -> Path:
    """An XLS (written by xlwt at `source`) whose DIMENSIONS record is changed to claim all of
    65,536 × 256 cells: calamine would reserve room for every one of them."""
    data = bytearray(source.read_bytes())
    at = data.find(struct.pack("<HH", 0x0200, 14))
    assert at >= 0, "no DIMENSIONS record"
    data[at + 4 : at + 18] = struct.pack("<IIHHH", 0, 65_536, 0, 256, 0)
    path.write_bytes(bytes(data))
    return path


def ods(path: Path, content_rows: str) -> Path:
    """An ODS whose first table holds `content_rows` (table:table-row elements)."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
        '<office:body><office:spreadsheet><table:table table:name="名单">'
        f"{content_rows}</table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        book.writestr("content.xml", content)
    path.write_bytes(buffer.getvalue())
    return path


def ods_row(*cells: str, repeat: int = 1) -> str:
    """A table row of string cells (a cell given as (text, times) is repeated)."""
    body = "".join(
        f'<table:table-cell office:value-type="string"><text:p>{c}</text:p></table:table-cell>'
        for c in cells
    )
    return f'<table:table-row table:number-rows-repeated="{repeat}">{body}</table:table-row>'


def csv_with_late_trouble(path: Path, good_rows: list[list[str]], header: list[str]) -> Path:
    """UTF-8 CSV: the header and good rows, then a row with a cell over 128 KB, a row that is
    not UTF-8, a row with a NUL, and one more good row (the last of good_rows)."""

    def line(cells: list[str]) -> bytes:
        return (",".join(cells) + "\n").encode()

    out = [line(header), *(line(r) for r in good_rows[:-1])]
    width = len(header)
    out.append(line(["X1", "长", "1" * 140_000, *[""] * (width - 3)]))
    out.append(b"X2,\xff\xfe\xfa\xe5,500109199001011234" + b"," * (width - 3) + b"\n")
    out.append(line(["X3", "空\x00字符", "500109199001011234", *[""] * (width - 3)]))
    out.append(line(good_rows[-1]))
    path.write_bytes(b"".join(out))
    return path


def garbage(path: Path) -> Path:
    path.write_bytes(b"\x00\x01\x02garbage" * 100)
    return path


def ods_wide(path: Path) -> Path:
    """16,384 filled columns said in one repeated cell."""
    return ods(
        path,
        ods_row("户号")
        + '<table:table-row><table:table-cell table:number-columns-repeated="16384" '
        'office:value-type="float" office:value="1"/></table:table-row>',
    )


def xls_full_sheet(path: Path) -> Path:
    from .sheets import write_xls

    source = write_xls(path.with_suffix(".ok.xls"), [["H1", "张三"]], header=["户号", "姓名"])
    return xls_claiming_a_full_sheet(path, source)


# name → (builder, the refusal's words as a pattern), small enough for the suite.
HOSTILE = {
    "used range XFD1048576": (used_range_xfd, r"表格超过 100 列"),
    "16,384 columns": (wide_row, r"表格超过 100 列"),
    "rows past the last": (lambda p: rows_past_the_last(p, 1_048_577), r"表格超过 [\d,]+ 行"),
    "zip bomb": (lambda p: zip_bomb(p, 40 << 20), r"文件解压后过大"),
    "deep shared strings": (lambda p: deep_shared_strings(p, 5_000), r"文件结构异常"),
    "a billion shared strings": (
        lambda p: huge_shared_strings(p, 10, 10**9),
        r"不同的文字内容超过",
    ),
    "XLS claiming 65,536 x 256": (xls_full_sheet, r"表格超过 100 列"),
    "ODS with 16,384 columns": (ods_wide, r"表格超过 100 列"),
    "not a sheet": (garbage, r"文件不是表格"),
}
