"""The rejected-rows workbook: original row number, original values, the reason in Chinese."""

import tempfile

from django.utils.translation import gettext as _

from doorstep.core.sheets.writing import new_workbook, write_cells

from .models import ImportJob


def rejections_workbook(job: ImportJob) -> str:
    """Write the job's rejected rows to a temporary XLSX file and return its path. The header
    row and the values are the uploaded file's own: written as text, never as formulas."""
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    workbook = new_workbook(handle.name, constant_memory=True)
    sheet = workbook.add_worksheet(_("rejected rows")[:31])
    bold = workbook.add_format({"bold": True, "bg_color": "#FDE2E1"})
    text = workbook.add_format({"num_format": "@"})
    header = [_("row in file"), *job.header, _("reason")]
    write_cells(sheet, 0, header, bold)
    sheet.set_column(1, len(job.header), 16, text)
    sheet.set_column(len(header) - 1, len(header) - 1, 48)
    for index, rejection in enumerate(job.rejections.order_by("row_number").iterator(), start=1):
        write_cells(sheet, index, [rejection.row_number, *map(str, rejection.values)])
        write_cells(sheet, index, [rejection.reason], first_column=len(header) - 1)
    sheet.freeze_panes(1, 1)
    workbook.close()
    return handle.name
