"""The rejected-rows workbook: original row number, original values, the reason in Chinese."""

import tempfile

import xlsxwriter
from django.utils.translation import gettext as _

from .models import ImportJob


def rejections_workbook(job: ImportJob) -> str:
    """Write the job's rejected rows to a temporary XLSX file and return its path."""
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    workbook = xlsxwriter.Workbook(
        handle.name, {"constant_memory": True, "strings_to_numbers": False}
    )
    sheet = workbook.add_worksheet(_("rejected rows")[:31])
    bold = workbook.add_format({"bold": True, "bg_color": "#FDE2E1"})
    text = workbook.add_format({"num_format": "@"})
    header = [_("row in file"), *job.header, _("reason")]
    sheet.write_row(0, 0, header, bold)
    sheet.set_column(1, len(job.header), 16, text)
    sheet.set_column(len(header) - 1, len(header) - 1, 48)
    for index, rejection in enumerate(job.rejections.order_by("row_number").iterator(), start=1):
        sheet.write_number(index, 0, rejection.row_number)
        for column, value in enumerate(rejection.values, start=1):
            sheet.write_string(index, column, value)
        sheet.write_string(index, len(header) - 1, rejection.reason)
    sheet.freeze_panes(1, 1)
    workbook.close()
    return handle.name
