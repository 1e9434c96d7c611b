"""XLSX exports of the coverage pages: the rollup table, the list behind a number, the flagged
persons. Written with xlsxwriter in constant-memory mode, rows streamed from the database in
chunks; ID numbers and phones are masked, always (a full value is a per-person audited reveal).
"""

import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice

from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.core.masking import mask_id_number, mask_phone
from doorstep.core.sheets.writing import new_workbook, write_cell, write_cells
from doorstep.registry.models import Person, PersonStatus

from .models import ProgressState, VisitOutcome, VisitSource
from .rules import FLAG_LABELS, deciding_reading

CHUNK = 1000


def write_workbook(
    sheet_name: str,
    header: list[str],
    rows: Iterable[list],
    *,
    title_lines: list[str] | None = None,
    percent_columns: frozenset[int] = frozenset(),
) -> tuple[str, int]:
    """Write `rows` under `header` to a temporary XLSX file: (path, number of data rows).

    `title_lines` go above the header (what the file is, of which area, made when), so a file
    forwarded on its own still says so; `percent_columns` hold fractions shown as percentages."""
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    workbook = new_workbook(handle.name, constant_memory=True)
    sheet = workbook.add_worksheet(sheet_name[:31])
    bold = workbook.add_format({"bold": True, "bg_color": "#EEF2F6"})
    percent = workbook.add_format({"num_format": "0.0%"})
    top = 0
    if title_lines:
        strong = workbook.add_format({"bold": True})
        for top, line in enumerate(title_lines):
            write_cell(sheet, top, 0, line, strong if top == 0 else None)
        top += 2  # a blank row between the title and the header
    write_cells(sheet, top, header, bold)
    sheet.set_column(0, len(header) - 1, 14)
    count = 0
    for count, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            if value != "":
                cell_format = percent if column in percent_columns else None
                write_cell(sheet, top + count, column, value, cell_format)
    sheet.freeze_panes(top + 1, 0)
    workbook.close()
    return handle.name, count


def _chunks(iterable: Iterable, size: int = CHUNK) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _heads(household_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(name, masked phone) of each household's head (or first active member)."""
    heads: dict[int, tuple[str, str]] = {}
    rows = (
        Person.objects.filter(household_id__in=household_ids, status=PersonStatus.ACTIVE)
        .order_by("household_id", "id")
        .values_list("household_id", "name", "relation", "phone")
    )
    for household_id, name, relation, phone in rows:
        if relation == "户主" or household_id not in heads:
            heads[household_id] = (name, mask_phone(phone))
    return heads


# -- the rollup table --------------------------------------------------------------------------
def coverage_header(columns: list[tuple[str, str]]) -> list[str]:
    return [_("Area / worker"), *[str(label) for _key, label in columns], _("Households closed")]


def coverage_title(campaign, area) -> list[str]:
    """What a coverage file is, when it stands alone: the campaign, the area, when it was made."""
    made = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    coverage_word, area_word, made_word = _("Coverage"), _("Area"), _("Made at")
    return [
        f"{campaign.name} · {coverage_word}",
        f"{area_word}: {area.display_name}",
        f"{made_word}: {made} (Asia/Shanghai)",
    ]


def coverage_rows(rows: Iterable, columns: list[tuple[str, str]], value_of) -> Iterator[list]:
    """One line per CoverageRow; `value_of(row, key)` gives each column's figure."""
    for row in rows:
        yield [
            row.label,
            *[value_of(row, key) for key, _label in columns],
            round(row.household_coverage, 4),  # a fraction, shown as a percentage
        ]


# -- the list behind a number ------------------------------------------------------------------
def gap_header() -> list[str]:
    return [
        _("Grid"),
        _("Household number"),
        _("Address"),
        _("Head"),
        _("Head's phone (masked)"),
        _("Worker"),
        _("State"),
        _("Attempts"),
        _("Last outcome"),
        _("Last visit"),
        _("Revisit due"),
    ]


def gap_rows(progress_rows) -> Iterator[list]:
    states = dict(ProgressState.choices)
    outcomes = dict(VisitOutcome.choices)
    for chunk in _chunks(progress_rows.iterator(chunk_size=CHUNK)):
        heads = _heads([p.household_id for p in chunk])
        for p in chunk:
            head, phone = heads.get(p.household_id, ("", ""))
            yield [
                p.grid.display_name,
                p.household.household_number,
                p.household.address_display,
                head,
                phone,
                p.assigned_to.display_name if p.assigned_to else "",
                str(states.get(p.state, p.state)),
                p.attempts,
                str(outcomes.get(p.last_outcome, p.last_outcome)),
                _local(p.last_visit_at),
                _local(p.revisit_due_at),
            ]


# -- flagged persons ---------------------------------------------------------------------------
def flagged_header() -> list[str]:
    return [
        _("Grid"),
        _("Address"),
        _("Name"),
        _("Relation"),
        _("ID number (masked)"),
        _("Phone (masked)"),
        _("Flags"),
        _("Temperature"),
        _("Came from"),
        _("Returned on"),
        _("Visited at"),
        _("Worker"),
    ]


def flag_text(flags: list[str]) -> str:
    return "、".join(str(FLAG_LABELS.get(f, f)) for f in flags)


def _reading(check) -> str:
    reading = deciding_reading(check.temperature, check.temperature_recheck)
    return "" if reading is None else str(reading)


def _recorded_by(visit) -> str:
    """The worker who screened, or for a paper form typed in (evening entry, sheet) the one who
    entered it: the visit does not record who knocked then, and the file must not pretend."""
    if visit.worker is None:
        return _("self-report")
    if visit.source in (VisitSource.EVENING, VisitSource.SHEET):
        return _("entered by %(who)s") % {"who": visit.worker.display_name}
    return visit.worker.display_name


def flagged_rows(checks) -> Iterator[list]:
    for check in checks.iterator(chunk_size=CHUNK):
        person, visit = check.person, check.visit
        household = visit.household
        if person is None:  # the campaign was anonymised: the answer no longer names anyone
            who = [_("anonymised"), "", "", ""]
        else:
            who = [
                person.name,
                person.relation,
                mask_id_number(person.shown_id_number),
                mask_phone(person.phone),
            ]
        yield [
            household.grid.display_name,
            household.address_display,
            *who,
            flag_text(check.flags),
            _reading(check),
            check.travel_from,
            check.returned_on.isoformat() if check.returned_on else "",
            _local(visit.visited_at),
            _recorded_by(visit),
        ]
