"""The column check's preview: taken once at upload, bounded, masked the way the importer reads
numbers (spaces, dashes, full-width digits folded first), and never a reason to parse the file
again. Household numbers are not ID numbers and stay readable."""

import pytest
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.sheets import reading
from doorstep.imports.models import ImportJob
from doorstep.imports.preview import PREVIEW_CELL_CHARS, PREVIEW_COLUMNS, PREVIEW_ROWS
from tests.plugins.leak_check import find_numbers

from .factories import unique_id_number
from .sheets import write_csv

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def grouped(number: str) -> str:
    return f"{number[:6]} {number[6:14]} {number[14:]}"


def upload(client, path):
    with open(path, "rb") as handle:
        response = client.post(reverse("imports:roster_upload"), {"area": "G1", "file": handle})
    assert response.status_code == 302, response.content.decode()[:500]
    return ImportJob.objects.get()


def test_numbers_written_in_groups_dashes_or_full_width_are_masked_for_every_viewer(
    client_for, areas, tmp_path
):
    spaced, wide, noted = unique_id_number(), unique_id_number(), unique_id_number()
    household = "500109001001010001"  # 18 digits, yet no ID number: it stays as it is
    rows = [
        [
            household,
            "张三",
            grouped(spaced),
            "180-3070-3945",
            f"备注 {noted.translate(FULL_WIDTH)}",
        ],
        ["500109001001010002", "李四", wide.translate(FULL_WIDTH), "138 0013 8000", ""],
    ]
    path = write_csv(
        tmp_path / "r.csv", rows, header=["户号", "姓名", "身份证号", "手机号", "备注"]
    )
    owner = client_for(Role.COMMUNITY_ADMIN, "C1")
    job = upload(owner, path)
    street = client_for(Role.STREET_ADMIN, "S1")
    for client in (owner, street):
        page = client.get(reverse("imports:job", args=[job.pk])).content.decode()
        assert "张三" in page and household in page
        assert find_numbers(page) == []
        assert mask_id_number(spaced) in page and mask_id_number(noted) in page
        assert mask_phone("18030703945") in page and mask_phone("13800138000") in page
    # what is stored is already masked: the job row holds no full number either
    assert find_numbers(str(job.preview)) == []


def test_a_column_mapped_to_id_number_after_upload_is_masked_whatever_it_holds(
    client_for, areas, tmp_path
):
    path = write_csv(
        tmp_path / "r.csv",
        [["H1", "张三", "E12345678", unique_id_number()]],
        header=["户号", "姓名", "证件", "身份证号"],
    )
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    job = upload(client, path)
    page = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert "E12345678" in page  # a passport number, not mapped: shown as typed
    job.mapping = {**job.mapping, "2": "id_number", "3": ""}
    job.save(update_fields=["mapping"])
    page = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert "E12345678" not in page and mask_id_number("E12345678") in page


def test_the_preview_is_bounded_and_taken_once(client_for, areas, tmp_path, monkeypatch):
    width = 60
    header = ["户号", "姓名", "身份证号", *[f"列{i}" for i in range(3, width)]]
    rows = [[f"H{r}", f"张{r}", unique_id_number(), *["长" * 200] * (width - 3)] for r in range(20)]
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    job = upload(client, write_csv(tmp_path / "wide.csv", rows, header=header))
    assert len(job.preview) == PREVIEW_ROWS
    assert all(len(row) == PREVIEW_COLUMNS for row in job.preview)
    assert max(len(cell) for row in job.preview for cell in row) == PREVIEW_CELL_CHARS

    # the page does not read the file again: a reader that fails would show
    def no_reading(*args, **kwargs):
        raise AssertionError("the job page parsed the file")

    monkeypatch.setattr(reading, "read_rows", no_reading)
    page = client.get(reverse("imports:job", args=[job.pk])).content.decode()
    assert page.count('<select name="column_') == width
    assert "仅显示前 30 列" in page
    assert page.count("长" * PREVIEW_CELL_CHARS) == 0


@pytest.mark.parametrize(
    "text, expected",
    [
        ("500103 19630111 2736", "id_number"),
        ("１８０３０７０３９４５", "phone"),
        ("+86 180-3070-3945", "phone"),
        ("500109001001010001", None),
        ("2020-02-03 13:45:00", None),
    ],
)
def test_the_importers_normalisation_decides_what_is_a_personal_number(text, expected):
    from doorstep.registry.validation import find_personal_numbers

    kinds = [kind for _s, _e, kind, _n in find_personal_numbers(text)]
    assert kinds == ([expected] if expected else [])
