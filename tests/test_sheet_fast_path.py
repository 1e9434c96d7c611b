"""The XLSX reader's fast path gives exactly what expat alone gives: the same rows, the same
problems, the same refusal, and the same rows handed on before a refusal cuts them off.

The reference is the same reader with `fast=False` (every row through expat's handlers, the
reader as it was before the fast path). Sheets are written here as raw XML, so that they hold
what xlsxwriter never writes: shared and inline strings (whitespace-only ones too, with and
without xml:space="preserve"), numbers, dates, booleans, errors, empty cells and empty rows,
rows past the row cap, cells past the length cap or the column cap, rows out of order, and rows
only expat reads (entities, formulas, rich text, phonetic runs, a CR, whitespace between tags,
a comment, a CDATA section) between the rows the fast path takes. The sheet is fed in chunks
of a few bytes to a few kilobytes, so rows straddle chunk boundaries everywhere.
"""

import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from doorstep.core.sheets import xlsx
from doorstep.core.sheets.limits import SheetLimits
from doorstep.core.sheets.problems import SheetRefused
from doorstep.core.sheets.xlsx import XlsxReader

from .sheets import write_xlsx

PROPERTY = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _zip(path: Path, sheet: str, strings: list[str] | None) -> Path:
    rels = [
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>',
        f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>',
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        book.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            '<sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        # Style 1 shows a date (built-in format 14), style 2 a duration (46).
        book.writestr(
            "xl/styles.xml",
            f'<styleSheet xmlns="{_MAIN}"><cellXfs count="3"><xf numFmtId="0"/>'
            '<xf numFmtId="14"/><xf numFmtId="46"/></cellXfs></styleSheet>',
        )
        if strings is not None:
            rels.append(
                f'<Relationship Id="rId3" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
            )
            items = "".join(f"<si><t>{s}</t></si>" for s in strings)
            book.writestr(
                "xl/sharedStrings.xml",
                f'<sst xmlns="{_MAIN}" count="{len(strings)}">{items}</sst>',
            )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{_PKG}">{"".join(rels)}</Relationships>',
        )
        book.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def _outcome(path: Path, limits: SheetLimits, *, fast: bool, chunk: int, monkeypatch):
    monkeypatch.setattr(xlsx, "SHEET_CHUNK", chunk)
    rows, refusal = [], None
    reader = XlsxReader(str(path), limits, fast=fast)
    try:
        for row in reader.rows():
            rows.append((row.number, list(row.cells), row.problem))
    except SheetRefused as refused:
        refusal = (refused.code, refused.params)
    except Exception as error:  # what the reading process reports as damaged, by class
        refusal = ("error", type(error).__name__)
    finally:
        reader.close()
    return rows, refusal, reader.fast_rows


def _letters(column: int) -> str:
    return "ABCDEFGHIJ"[column]


# -- what a sheet is made of -------------------------------------------------------------------
_CHARS = st.sampled_from(list("ab张三 \t\n0123456789.-_x]E+"))
_TEXT = st.text(_CHARS, max_size=14) | st.sampled_from(
    ["", " ", "   ", "\t\n ", " 前后 ", "_x0041_", "_x0000_", "12", "1e3", "TRUE", "0", "]]"]
)
_NUMBER = st.sampled_from(["0", "1", "-2.5", "44197", "44197.5", "0.25", "1e308", "x", " 7 ", ""])


@st.composite
def _cell(draw, column: int, strings: int, odd: bool) -> str:
    ref = f' r="{_letters(column)}{draw(st.integers(1, 9))}"'
    style = draw(st.sampled_from(["", "", ' s="1"', ' s="2"', ' s="0"']))
    kinds = ["s"] * 3 + ["inline"] * 4 + ["n"] * 3 + ["b", "str", "e", "d", "empty", "empty"]
    kind = draw(st.sampled_from([*kinds, "odd", "bad_s", "weird_t"] if odd else kinds))
    if kind == "s" and (strings or odd):
        # (past the end of the table, or no table: a damaged file)
        index = draw(st.integers(0, strings if odd else strings - 1))
        return f'<c{ref}{style} t="s"><v>{index}</v></c>'
    if kind == "bad_s":
        return f'<c{ref} t="s"><v>{draw(st.sampled_from(["", "x", "-1", " 1"]))}</v></c>'
    if kind in ("inline", "s"):
        space = draw(st.sampled_from(["", ' xml:space="preserve"', ' xml:space="default"']))
        return f'<c{ref}{style} t="inlineStr"><is><t{space}>{draw(_TEXT)}</t></is></c>'
    if kind == "n":
        return f"<c{ref}{style}><v>{draw(_NUMBER)}</v></c>"
    if kind == "b":
        return f'<c{ref} t="b"><v>{draw(st.sampled_from(["0", "1", ""]))}</v></c>'
    if kind == "str":
        return f'<c{ref} t="str"><v>{draw(_TEXT)}</v></c>'
    if kind == "e":
        return f'<c{ref} t="e"><v>#N/A</v></c>'
    if kind == "d":
        return f'<c{ref} t="d"><v>{draw(st.sampled_from(["2021-01-02", "12:30:00", "x"]))}</v></c>'
    if kind == "empty":
        return draw(st.sampled_from([f"<c{ref}{style}/>", f"<c{ref}{style}></c>"]))
    if kind == "weird_t":
        return draw(
            st.sampled_from(
                [
                    f'<c{ref} t="inlineStr"><v>1</v></c>',
                    f'<c{ref} t="inlineStr"/>',
                    f'<c{ref} t="s"><is><t>x</t></is></c>',
                    f'<c{ref} t="zz"><v>1</v></c>',
                    f'<c{ref} t="zz"/>',
                ]
            )
        )
    # Cells only expat reads.
    return draw(
        st.sampled_from(
            [
                f"<c{ref}><f>1+1</f><v>2</v></c>",
                f'<c{ref} t="inlineStr"><is><t>a &amp; b</t></is></c>',
                f'<c{ref} t="inlineStr"><is><r><t>a</t></r><r><t xml:space="preserve"> b</t></r>'
                "</is></c>",
                f'<c{ref} t="inlineStr"><is><t>x</t><rPh><t>y</t></rPh></is></c>',
                f"<c{ref}><v>1&#13;</v></c>",
                f'<c{ref} t="inlineStr"><is><t>a\rb</t></is></c>',
                "<c><v>5</v></c>",
                f'<c {ref.strip()}  t="str"><v>q</v></c>',
                f'<c{ref} t="str"><v><![CDATA[<z>]]></v></c>',
                f'<c{ref} t="str"><v>a<!-- c --></v></c>',
                f'<c{ref} t="str"><v>bad & bad</v></c>',
                f'<c{ref} t="str"><v>ctl\x01</v></c>',
                f'<c{ref} t="inlineStr"><is><t>\ufffe</t></is></c>',
                f'<c{ref} r="A1"><v>1</v></c>',
            ]
        )
    )


@st.composite
def _row(draw, number: int | None, strings: int, odd: bool) -> str:
    columns = draw(st.lists(st.integers(0, 9), max_size=6))
    if draw(st.booleans()):
        columns.sort()
    cells = [draw(_cell(c, strings, odd)) for c in columns]
    joiner = draw(st.sampled_from(["", "", "", " ", "\n"])) if odd else ""
    body = joiner.join(cells)
    r = "" if number is None else f' r="{number}"'
    attributes = ["", ' spans="1:10"', ' spans="1:10" x14ac:dyDescent="0.25"', ' ht="20"']
    if odd:
        attributes += [' spans="1:3" spans="1:3"', ' r="9"', ' a="&amp;"', ' a="\t"']
    attributes = draw(st.sampled_from(attributes))
    forms = ["row"] * 8 + ["empty"]
    form = draw(st.sampled_from([*forms, "selfclosed", "reordered", "prefixed"] if odd else forms))
    if form == "empty":
        return f"<row{r}{attributes}></row>"
    if form == "selfclosed":
        return f"<row{r}{attributes}/>"
    if form == "reordered":
        return f"<row{attributes}{r}>{body}</row>"
    if form == "prefixed":
        return f"<x:row{r}>{body.replace('<c', '<x:c').replace('</c>', '</x:c>')}</x:row>"
    return f"<row{r}{attributes}>{body}</row>"


@st.composite
def _sheet(draw) -> tuple[str, list[str] | None]:
    odd = draw(st.booleans())  # rows only expat reads, among the others
    strings = draw(st.none() | st.lists(_TEXT, max_size=6))
    count = len(strings) if strings else 0
    rows, number = [], 0
    steps = [1] * 6 + [2, 5, None] + ([0, -1] if odd else [])
    for _ in range(draw(st.integers(0, 14))):
        step = draw(st.sampled_from(steps))
        if step is None:
            rows.append(draw(_row(None, count, odd)))
            number += 1
            continue
        number = max(0, number + step)
        rows.append(draw(_row(number, count, odd)))
    between = ["", "", "", "\n", "<x/>"] + (["<!-- c -->", "<?pi x?>"] if odd else [])
    between = draw(st.sampled_from(between))
    data = between.join(rows)
    prolog = draw(
        st.sampled_from(
            [
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
                "",
                "<?xml version='1.0'?>",
                '<?xml version="1.0" encoding="ISO-8859-1"?>',
            ]
        )
    )
    dimension = draw(st.sampled_from(["", '<dimension ref="A1:C3"/>', '<dimension ref="A1"/>']))
    endings = ["</sheetData></worksheet>", "</sheetData><rowBreaks/></worksheet>"]
    ending = draw(
        st.sampled_from([*endings, "", "]]></sheetData></worksheet>"] if odd else endings)
    )
    sheet = f'{prolog}<worksheet xmlns="{_MAIN}">{dimension}<sheetData>{data}{ending}'
    return sheet, strings


@PROPERTY
@given(
    drawn=_sheet(),
    chunk=st.sampled_from([7, 64, 300, 1024, 4096, 1 << 20, 1 << 20]),
    max_rows=st.sampled_from([1, 3, 8, 12, 60, 1_048_576, 1_048_576]),
    max_columns=st.sampled_from([5, 10, 10, 100, 100]),
    max_cell_chars=st.sampled_from([1, 3, 8, 12, 32_767]),
)
@example(  # a whitespace-only inline string is stripped to nothing, as expat's handlers do
    drawn=(
        f'<worksheet xmlns="{_MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is>'
        '<t>   </t></is></c><c r="B1" t="inlineStr"><is><t xml:space="preserve">  </t></is></c>'
        "</row></sheetData></worksheet>",
        None,
    ),
    chunk=1 << 20,
    max_rows=10,
    max_columns=10,
    max_cell_chars=10,
)
@example(  # empty rows past the row cap: no rows at all, not too many
    drawn=(
        f'<worksheet xmlns="{_MAIN}"><sheetData><row r="5"></row><row r="6"><c r="A6" s="1"/>'
        '</row><row r="7"><c r="A7" t="inlineStr"><is><t> </t></is></c></row></sheetData>'
        "</worksheet>",
        None,
    ),
    chunk=1 << 20,
    max_rows=2,
    max_columns=10,
    max_cell_chars=10,
)
def test_the_fast_path_gives_what_expat_alone_gives(
    tmp_path_factory, monkeypatch, drawn, chunk, max_rows, max_columns, max_cell_chars
):
    sheet, strings = drawn
    path = _zip(tmp_path_factory.mktemp("fast") / "s.xlsx", sheet, strings)
    limits = SheetLimits(max_rows=max_rows, max_columns=max_columns, max_cell_chars=max_cell_chars)
    with monkeypatch.context() as patch:
        reference = _outcome(path, limits, fast=False, chunk=chunk, monkeypatch=patch)
    with monkeypatch.context() as patch:
        fast = _outcome(path, limits, fast=True, chunk=chunk, monkeypatch=patch)
    assert reference[2] == 0
    assert fast[:2] == reference[:2]
    event(f"rows taken by the fast path: {min(fast[2], 3)}{'+' if fast[2] > 3 else ''}")
    event(f"refusal: {fast[1][0] if fast[1] else None}")


def _plain_sheet(rows: list[str]) -> str:
    return f'<worksheet xmlns="{_MAIN}"><sheetData>{"".join(rows)}</sheetData></worksheet>'


def test_the_two_known_differences_of_the_lost_fast_path_are_not_there(tmp_path, monkeypatch):
    spaces = _plain_sheet(
        [
            '<row r="1"><c r="A1" t="inlineStr"><is><t>   </t></is></c>'
            '<c r="B1" t="inlineStr"><is><t xml:space="preserve">  </t></is></c>'
            '<c r="C1" t="inlineStr"><is><t> x </t></is></c></row>'
        ]
    )
    path = _zip(tmp_path / "spaces.xlsx", spaces, None)
    rows, refusal, taken = _outcome(
        path, SheetLimits(), fast=True, chunk=1 << 20, monkeypatch=monkeypatch
    )
    assert (rows, refusal, taken) == ([(1, ["", "  ", "x"], None)], None, 1)

    past_cap = _plain_sheet(
        [
            '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>',
            '<row r="3"></row><row r="4"><c r="A4" s="1"/></row>',
            '<row r="5"><c r="A5" t="inlineStr"><is><t>  </t></is></c></row>',
        ]
    )
    path = _zip(tmp_path / "cap.xlsx", past_cap, None)
    limits = SheetLimits(max_rows=2)
    rows, refusal, taken = _outcome(path, limits, fast=True, chunk=1 << 20, monkeypatch=monkeypatch)
    assert (rows, refusal, taken) == ([(1, ["a"], None)], None, 4)

    only_empty = _plain_sheet(['<row r="5"></row><row r="6"><c r="A6"/></row>'])
    path = _zip(tmp_path / "empty.xlsx", only_empty, None)
    rows, refusal, _taken = _outcome(
        path, limits, fast=True, chunk=1 << 20, monkeypatch=monkeypatch
    )
    assert (rows, refusal) == ([], ("no_rows", {}))


@pytest.mark.parametrize("chunk", [1 << 20, 1000])
def test_an_xlsxwriter_roster_is_read_by_the_fast_path(tmp_path, monkeypatch, chunk):
    rows = [[f"H{i}", "张三", f"50010919900101{i:04d}", " 前后 "] for i in range(300)]
    path = write_xlsx(tmp_path / "r.xlsx", rows, header=["户号", "姓名", "身份证号", "备注"])
    fast = _outcome(path, SheetLimits(), fast=True, chunk=chunk, monkeypatch=monkeypatch)
    reference = _outcome(path, SheetLimits(), fast=False, chunk=chunk, monkeypatch=monkeypatch)
    assert fast[:2] == reference[:2]
    assert len(fast[0]) == 301
    # Every row, but at a small chunk size the ones that straddle two chunks.
    assert fast[2] == 301 if chunk > 1000 else 0 < fast[2] < 301
