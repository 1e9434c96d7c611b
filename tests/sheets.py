"""Write small rosters in the formats they arrive in: CSV (UTF-8, GBK), XLSX, XLS."""

import csv
from pathlib import Path

import xlsxwriter
import xlwt

HEADER = ["户号", "姓名", "身份证号", "联系电话", "与户主关系", "地址"]


def write_csv(path: Path, rows: list[list], *, header=HEADER, encoding="utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list], *, header=HEADER, title: str | None = None) -> Path:
    """An XLSX; with `title`, a merged banner row and a blank row sit above the header (row 3)."""
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("住户名单")
    start = 0
    if title:
        sheet.merge_range(0, 0, 0, len(header) - 1, title, workbook.add_format({"bold": True}))
        start = 2
    sheet.write_row(start, 0, header)
    for offset, row in enumerate(rows, start=start + 1):
        for column, value in enumerate(row):
            sheet.write_string(offset, column, str(value)) if isinstance(
                value, str
            ) else sheet.write(offset, column, value)
    workbook.close()
    return path


def write_xls(path: Path, rows: list[list], *, header=HEADER) -> Path:
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("名单")
    for column, value in enumerate(header):
        sheet.write(0, column, value)
    for r, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            sheet.write(r, column, value)
    book.save(str(path))
    return path
