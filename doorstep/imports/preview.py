"""The column check's preview: the first rows of an upload, bounded and masked, taken once.

Stored on the job at upload time, so the page never parses the file again (a hostile sheet used
to be parsed on every view of it). Bounded: PREVIEW_ROWS rows, PREVIEW_COLUMNS columns, each cell
cut to PREVIEW_CELL_CHARS. Masked as the importer reads: the columns mapped to ID number or phone
in full, and in any other column a cell that is a resident ID number or a mobile number once the
importer's own normalisation has folded its spaces, dashes and full-width digits
(registry.validation.personal_number_in). A household number is not masked: it is neither.
"""

from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.sheets.problems import SheetRow
from doorstep.registry.validation import (
    find_personal_numbers,
    normalize_id_number,
    normalize_phone,
)

from .words import cells_as_text

PREVIEW_ROWS = 8
PREVIEW_COLUMNS = 30
PREVIEW_CELL_CHARS = 40
HEADER_CELL_CHARS = 200


def masked_cell(text: str, field: str | None) -> str:
    if not text:
        return text
    if field == "id_number":
        return mask_id_number(normalize_id_number(text))
    if field == "phone":
        return mask_phone(normalize_phone(text))
    for start, end, kind, number in reversed(find_personal_numbers(text)):
        shown = mask_id_number(number) if kind == "id_number" else mask_phone(number)
        text = text[:start] + shown + text[end:]
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def preview_rows(rows: list[SheetRow], mapping: dict[int, str]) -> list[list[str]]:
    """The rows after the header, as the page shows them (masked, cut)."""
    preview = []
    for row in rows[:PREVIEW_ROWS]:
        cells = cells_as_text(row.cells[:PREVIEW_COLUMNS])
        preview.append(
            [
                _cut(masked_cell(text.replace("\x00", ""), mapping.get(index)), PREVIEW_CELL_CHARS)
                for index, text in enumerate(cells)
            ]
        )
    return preview


def header_cells(cells: list) -> list[str]:
    return [_cut(text, HEADER_CELL_CHARS) for text in cells_as_text(cells)]


def remasked(preview: list[list[str]], mapping: dict[int, str]) -> list[list[str]]:
    """The stored preview under the page's current mapping: a column mapped to ID number or
    phone since the upload is masked in full too."""
    return [[masked_cell(text, mapping.get(i)) for i, text in enumerate(row)] for row in preview]
