"""The sheet reader (doorstep/core/sheets): the same rows as the readers it replaced on ordinary
sheets, the caps held exactly, and the reading process held to its limits.

"Before" is what the app read until now: the csv module over the whole file, python-calamine's
whole-sheet read of XLSX and XLS. Rows are compared without their trailing empty cells (the new
reader leaves them out) and without rows that hold nothing.
"""

import csv
import datetime
import io
import pickle
from pathlib import Path

import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from doorstep.core.sheets.cells import DATETIME, DURATION, NUMBER
from doorstep.core.sheets.reading import UnreadableFile, open_sheet, read_head, sheet_limits
from doorstep.core.sheets.sandbox import _RowsUnpickler
from doorstep.core.sheets.xlsx import number_format_kind

from . import hostile_sheets as hostile
from .sheets import write_csv, write_xls, write_xlsx

EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def trimmed(rows) -> list[tuple[int, list]]:
    out = []
    for number, cells in rows:
        cells = list(cells)
        while cells and cells[-1] in ("", None):
            cells.pop()
        if cells:
            out.append((number, cells))
    return out


def new_rows(path: Path, **limits) -> list[tuple[int, list]]:
    source = open_sheet(path, limits=sheet_limits(**limits) if limits else None)
    return [(row.number, row.cells) for row in source.rows()]


def calamine_rows(path: Path) -> list[tuple[int, list]]:
    book = CalamineWorkbook.from_path(str(path))
    sheet = next(s for s in map(book.get_sheet_by_name, book.sheet_names) if s.height > 0)
    return trimmed(enumerate(sheet.iter_rows(), start=1))


def csv_module_rows(path: Path, encoding: str = "utf-8") -> list[tuple[int, list]]:
    with open(path, encoding=encoding, newline="") as handle:
        return trimmed(enumerate(csv.reader(handle), start=1))


# No surrogates (not text), no NUL (its own test below).
_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=24
) | st.sampled_from(
    ["张三", "500109199001011234", " 前后有空格 ", "=1+1", "a,b", 'say "hi"', "_x0041_", "a\tb\nc"]
)
_NUMBER = st.integers(-(10**12), 10**12) | st.floats(-1e9, 1e9, allow_nan=False)
_CELL = _TEXT | _NUMBER | st.booleans()
_ROWS = st.lists(st.lists(_TEXT, min_size=1, max_size=7), min_size=1, max_size=12)


@EXAMPLES
@given(rows=_ROWS, encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_csv_rows_are_the_csv_modules_rows(tmp_path_factory, rows, encoding):
    if encoding == "gb18030":  # what GBK cannot hold is not in a GBK file
        rows = [[c.encode("gb18030", "ignore").decode("gb18030") for c in r] for r in rows]
    folder = tmp_path_factory.mktemp("csv")
    path = write_csv(folder / "r.csv", rows, header=["户号", "姓名"], encoding=encoding)
    old_encoding = "utf-8-sig" if encoding != "gb18030" else encoding
    assert new_rows(path) == csv_module_rows(path, old_encoding)


@EXAMPLES
@given(rows=st.lists(st.lists(_CELL, min_size=1, max_size=7), min_size=1, max_size=12))
def test_xlsx_rows_are_calamines_rows(tmp_path_factory, rows):
    path = write_xlsx(tmp_path_factory.mktemp("xlsx") / "r.xlsx", rows)
    assert new_rows(path) == calamine_rows(path)


@EXAMPLES
@given(rows=st.lists(st.lists(_CELL, min_size=1, max_size=7), min_size=1, max_size=12))
def test_xls_rows_are_calamines_rows(tmp_path_factory, rows):
    rows = [[c[:200] if isinstance(c, str) else c for c in r] for r in rows]
    path = write_xls(tmp_path_factory.mktemp("xls") / "r.xls", rows)
    assert new_rows(path) == calamine_rows(path)


@EXAMPLES
@given(
    serial=st.floats(0, 2_958_000, allow_nan=False),
    fmt=st.sampled_from(["yyyy-mm-dd", "hh:mm:ss", "[h]:mm", "yyyy-mm-dd hh:mm", "0.00", "m/d/yy"]),
    date1904=st.booleans(),
)
def test_dates_and_durations_come_out_as_calamine_makes_them(
    tmp_path_factory, serial, fmt, date1904
):
    path = tmp_path_factory.mktemp("dates") / "d.xlsx"
    book = xlsxwriter.Workbook(str(path), {"date_1904": date1904})
    sheet = book.add_worksheet()
    sheet.write_string(0, 0, "日期")
    sheet.write_number(1, 0, serial, book.add_format({"num_format": fmt}))
    book.close()
    assert new_rows(path) == calamine_rows(path)


def test_number_formats_are_told_apart_as_calamine_does():
    # calamine's own table (ported from openpyxl), plus the Chinese date format of Excel
    cases = {
        "DD/MM/YY": DATETIME,
        "H:MM:SS;@": DATETIME,
        "#,##0\\ [$\\u20bd-46D]": NUMBER,
        'm"M"d"D";@': DATETIME,
        "[h]:mm:ss": DURATION,
        '"Y: "0.00"m";"Y: "-0.00"m";"Y: <num>m";@': NUMBER,
        '"$"#,##0_);[Red]("$"#,##0)': NUMBER,
        '[$-404]e"\\xfc"m"\\xfc"d"\\xfc"': DATETIME,
        "0_ ;[Red]\\-0\\ ": NUMBER,
        "\\Y000000": NUMBER,
        '#,##0.0####" YMD"': NUMBER,
        "[h]": DURATION,
        "[ss]": DURATION,
        "[s].000": DURATION,
        "[Blue]\\+[h]:mm;[Red]\\-[h]:mm;[Green][h]:mm": DURATION,
        "[>=100][Magenta].00": NUMBER,
        "[>=100][Magenta]General": NUMBER,
        "ha/p\\\\m": DATETIME,
        "#,##0*y": NUMBER,
        "*-yyyy-mm-dd": DATETIME,
        'yyyy"年"m"月"d"日"': DATETIME,
        "General": NUMBER,
    }
    assert {code: number_format_kind(code) for code in cases} == cases


# -- the caps -------------------------------------------------------------------------------
@EXAMPLES
@given(
    height=st.integers(1, 25),
    width=st.integers(1, 9),
    max_rows=st.integers(1, 25),
    max_columns=st.integers(1, 9),
    kind=st.sampled_from(["csv", "xlsx"]),
)
def test_a_sheet_is_refused_exactly_when_it_is_past_a_cap(
    tmp_path_factory, height, width, max_rows, max_columns, kind
):
    rows = [[f"r{r}c{c}" for c in range(width)] for r in range(height - 1)]
    header = [f"h{c}" for c in range(width)]
    folder = tmp_path_factory.mktemp("caps")
    if kind == "csv":
        path = write_csv(folder / "c.csv", rows, header=header)
    else:
        path = write_xlsx(folder / "c.xlsx", rows, header=header)
    limits = {"max_rows": max_rows, "max_columns": max_columns}
    if height > max_rows or width > max_columns:
        with pytest.raises(UnreadableFile) as refused:
            new_rows(path, **limits)
        # A CSV is counted by lines before it is read; a sheet is refused at its first row.
        rows_first = width <= max_columns or (kind == "csv" and height > max_rows)
        expected = f"表格超过 {max_rows} 行" if rows_first else f"表格超过 {max_columns} 列"
        assert str(refused.value) == expected
    else:
        assert len(new_rows(path, **limits)) == height


@EXAMPLES
@given(
    lengths=st.lists(st.integers(0, 80), min_size=1, max_size=5),
    kind=st.sampled_from(["csv", "xlsx"]),
)
def test_a_cell_past_the_length_cap_makes_its_row_a_problem_and_is_cut(
    tmp_path_factory, lengths, kind
):
    cap = 40
    row = ["长" * n for n in lengths]
    folder = tmp_path_factory.mktemp("cells")
    header = [f"h{i}" for i in range(len(lengths))]
    writer = write_csv if kind == "csv" else write_xlsx
    path = writer(folder / f"c.{kind}", [row], header=header)
    source = open_sheet(path, limits=sheet_limits(max_cell_chars=cap))
    read = list(source.rows())
    data = [r for r in read if r.number == 2]
    if not any(lengths):
        assert data == []
        return
    (second,) = data
    too_long = [i for i, n in enumerate(lengths) if n > cap]
    if too_long:
        column = "ABCDE"[too_long[0]]
        assert second.problem == f"{column} 列：单元格过长（超过 {cap} 个字符）"
    else:
        assert second.problem is None
    assert [len(c) for c in second.cells] == [min(n, cap) for n in lengths][: len(second.cells)]


def test_rows_that_are_not_text_hold_a_nul_or_are_too_long_are_reported_and_the_rest_read(tmp_path):
    good = [["H1", "张三", "1"], ["H9", "李四", "2"]]
    path = hostile.csv_with_late_trouble(tmp_path / "t.csv", good, ["户号", "姓名", "备注"])
    rows = list(open_sheet(path).rows())
    problems = {row.cells[0]: row.problem for row in rows if row.problem}
    assert problems == {
        "X1": "C 列：单元格过长（超过 32,767 个字符）",
        "X2": "此行含有无法识别的字符（不是有效的 UTF-8 编码文本）",
        "X3": "B 列含有空字符（NUL）",
    }
    assert [row.cells for row in rows if not row.problem] == [["户号", "姓名", "备注"], *good]
    nul_row = next(row for row in rows if row.cells[0] == "X3")
    assert "\x00" not in "".join(nul_row.cells)  # replaced, so no database refuses it
    # an XLSX carrying Excel's escape for NUL reads the same way
    xlsx = hostile.nul_cell_xlsx(tmp_path / "n.xlsx", [["户号", "姓名"], ["H1", "空_x0000_字"]])
    second = next(row for row in open_sheet(xlsx).rows() if row.number == 2)
    assert second.problem == "B 列含有空字符（NUL）" and second.cells[1] == "空\ufffd字"


def test_a_csv_with_lines_ending_in_cr_alone_is_read_by_line(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes("户号,姓名\rH1,张三\rH2,李四\r".encode())
    assert new_rows(path) == [(1, ["户号", "姓名"]), (2, ["H1", "张三"]), (3, ["H2", "李四"])]


def test_ods_repeats_are_counted_not_built_and_text_is_read_as_calamine_does(tmp_path):
    rows = (
        hostile.ods_row("户号", "姓名")
        + '<table:table-row><table:table-cell office:value-type="string"><text:p>H1</text:p>'
        '</table:table-cell><table:table-cell office:value-type="string"><text:p>张<text:s '
        'text:c="2"/>三</text:p><office:annotation><text:p>批注</text:p></office:annotation>'
        '</table:table-cell><table:table-cell office:value-type="float" office:value="3.5"/>'
        '<table:table-cell table:number-columns-repeated="16000"/></table:table-row>'
        + hostile.ods_row("H2", "李四", repeat=3)
        + '<table:table-row table:number-rows-repeated="1048000"><table:table-cell '
        'table:number-columns-repeated="1024"/></table:table-row>'
    )
    path = hostile.ods(tmp_path / "o.ods", rows)
    assert new_rows(path) == [
        (1, ["户号", "姓名"]),
        (2, ["H1", "张  三", 3.5]),
        (3, ["H2", "李四"]),
        (4, ["H2", "李四"]),
        (5, ["H2", "李四"]),
    ]
    wide = hostile.ods(
        tmp_path / "w.ods",
        hostile.ods_row("户号")
        + '<table:table-row><table:table-cell table:number-columns-repeated="16384" '
        'office:value-type="float" office:value="1"/></table:table-row>',
    )
    with pytest.raises(UnreadableFile, match="表格超过 100 列"):
        new_rows(wide)
    tall = hostile.ods(tmp_path / "t.ods", hostile.ods_row("H", repeat=2_000_000))
    with pytest.raises(UnreadableFile, match="表格超过 1,048,576 行"):
        new_rows(tall)


def test_an_xls_claiming_a_full_sheet_is_refused_before_calamine_sees_it(tmp_path):
    source = write_xls(tmp_path / "ok.xls", [["H1", "张三"]], header=["户号", "姓名"])
    path = hostile.xls_claiming_a_full_sheet(tmp_path / "big.xls", source)
    with pytest.raises(UnreadableFile, match="表格超过 100 列"):
        new_rows(path)
    # with the column cap out of the way, the area it claims is still too large for calamine
    with pytest.raises(UnreadableFile, match="XLS 文件的单元格区域过大"):
        new_rows(path, max_columns=256)


# -- the reading process ----------------------------------------------------------------------
def test_the_reading_process_dies_at_its_memory_limit_and_the_file_is_refused(tmp_path):
    source = write_xls(tmp_path / "ok.xls", [["H1", "张三"]], header=["户号", "姓名"])
    path = hostile.xls_claiming_a_full_sheet(tmp_path / "big.xls", source)
    # Let calamine have it, inside 200 MB: reserving 65,536 × 256 cells does not fit.
    limits = sheet_limits(max_columns=256, max_xls_cells=100_000_000, memory_bytes=200 << 20)
    source = open_sheet(path, limits=limits)
    with pytest.raises(UnreadableFile, match="所需的内存超过限制") as refused:
        list(source.rows())
    assert refused.value.code == "memory"
    assert source.stats.exit_status is not None  # the process is gone, reaped


def test_the_reading_process_is_stopped_at_its_cpu_limit(tmp_path):
    # a million rows of 99 cells: 4.6 s of the reader's CPU when let run, so the 1 s limit
    # falls well inside it (two cells a row were read in 1.1 s, the end racing the signal)
    row = hostile.ods_row("H", *["x" * 100] * 98, repeat=1_000_000)
    path = hostile.ods(tmp_path / "t.ods", row)
    source = open_sheet(path, limits=sheet_limits(cpu_seconds=1, timeout_seconds=30))
    with pytest.raises(UnreadableFile, match="超时") as refused:
        for _row in source.rows():
            pass
    assert refused.value.code == "timeout"


def test_the_head_of_a_sheet_comes_without_reading_the_rest(tmp_path):
    path = hostile.ods(tmp_path / "t.ods", hostile.ods_row("户号", "姓名", repeat=1_000_000))
    source = open_sheet(path)
    head = read_head(source, limit=3)
    assert [r.number for r in head] == [1, 2, 3]
    assert source.stats.rows < 1_000_000 and source.stats.exit_status is not None


def test_rows_from_the_reading_process_may_hold_plain_values_only():
    day = datetime.date(2020, 1, 2)
    plain = pickle.dumps([(1, ["a", 1.5, day], None)])
    assert _RowsUnpickler(io.BytesIO(plain)).load() == [(1, ["a", 1.5, day], None)]
    hostile_pickle = pickle.dumps([(1, [Path("/etc/passwd")], None)])
    with pytest.raises(pickle.UnpicklingError):
        _RowsUnpickler(io.BytesIO(hostile_pickle)).load()


def test_refusals_name_the_declared_range_and_the_zip_ratio(tmp_path):
    for path, expected in [
        (hostile.used_range_xfd(tmp_path / "xfd.xlsx"), "表格超过 100 列"),
        (hostile.wide_row(tmp_path / "wide.xlsx"), "表格超过 100 列"),
        (hostile.zip_bomb(tmp_path / "bomb.xlsx", 40 << 20), "文件解压后过大"),
        (hostile.deep_shared_strings(tmp_path / "deep.xlsx", 5_000), "文件结构异常"),
        (hostile.huge_shared_strings(tmp_path / "many.xlsx", 10, 10**9), "不同的文字内容超过"),
        (hostile.rows_past_the_last(tmp_path / "tall.xlsx", 1_048_577), "表格超过 1,048,576 行"),
    ]:
        with pytest.raises(UnreadableFile, match=expected):
            new_rows(path)


def test_a_large_shared_strings_table_is_counted_before_it_is_parsed(tmp_path, monkeypatch):
    from doorstep.core.sheets import xlsx
    from doorstep.core.sheets.limits import SheetLimits
    from doorstep.core.sheets.problems import SheetRefused

    path = hostile.huge_shared_strings(tmp_path / "many.xlsx", 50, declared=0)
    parsed = []
    monkeypatch.setattr(xlsx, "_COUNT_STRINGS_ABOVE", 0)  # count even this small one
    monkeypatch.setattr(xlsx.SharedStrings, "_make_parser", lambda self: parsed.append(1))
    with pytest.raises(SheetRefused) as refused:
        list(xlsx.XlsxReader(str(path), SheetLimits(max_shared_strings=20)).rows())
    assert refused.value.code == "too_many_strings" and parsed == []
