"""An import that fails for a reason of the file itself (found past the reader's limits part-way,
damaged after the header) fails for good: the rows committed before it stay, its page says why
and that resuming cannot help, and no resume is offered or accepted. An import that failed for
the server's reasons stays resumable."""

from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.imports.models import ImportStatus
from doorstep.imports.services import roster_import_requeue
from doorstep.registry.models import Person

from .factories import unique_id_number
from .hostile_sheets import write_xlsx_parts
from .import_flow import upload_and_start

MAX_ROWS = 30


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def roster_past_the_cap(path, rows: int):
    """An XLSX roster of `rows` data rows that declares no range: the cap is found while
    reading, after the header has passed the column check."""
    names = ["户号", "姓名", "身份证号"]
    header = "".join(_inline(f"{c}1", t) for c, t in zip("ABC", names, strict=True))
    body = [f'<row r="1">{header}</row>'.encode()]
    for r in range(2, rows + 2):
        cells = _inline(f"A{r}", f"H{r}") + _inline(f"B{r}", f"人{r}")
        cells += _inline(f"C{r}", unique_id_number())
        body.append(f'<row r="{r}">{cells}</row>'.encode())
        if r == 25:  # white space between rows: what follows comes in a later read
            body.append(b" " * (2 << 20))
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet = [f'<worksheet xmlns="{main}"><sheetData>'.encode(), *body, b"</sheetData></worksheet>"]
    return write_xlsx_parts(path, sheet)


def test_a_file_refused_part_way_fails_for_good_and_keeps_what_it_committed(
    client_for, areas, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.SHEET_LIMITS = {**settings.SHEET_LIMITS, "max_rows": MAX_ROWS}
    settings.ROSTER_IMPORT_CHUNK_ROWS = 10
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    path = roster_past_the_cap(tmp_path / "r.xlsx", 45)
    job = upload_and_start(client, path, "G1", django_capture_on_commit_callbacks)
    assert job.status == ImportStatus.FAILED and job.failure_is_final
    assert job.error_message == f"表格超过 {MAX_ROWS} 行"
    # the batches before the cap are kept: rows 2..21 (two batches of ten)
    assert job.last_row_committed == 21 and Person.objects.count() == 20
    page = client.get(reverse("imports:job_progress", args=[job.pk])).content.decode()
    assert 'id="job-final"' in page and "resume-import" not in page
    assert f"表格超过 {MAX_ROWS} 行" in page
    # a resume asked for anyway changes nothing
    assert roster_import_requeue(job=job) is False
    response = client.post(reverse("imports:job_resume", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and Person.objects.count() == 20
