"""The roster import pipeline: rows in, households and persons out, every row accounted for.

Rows are read as a stream and handled in batches. Each batch is prepared (normalised, validated,
checked against earlier rows of the same file), then applied in one transaction together with the
job's counters and the batch's rejections, so a crash never leaves half a batch or a counter that
disagrees with the data.
"""

import datetime
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area, AreaLevel
from doorstep.areas.selectors import grid_lookup_under
from doorstep.core.bulk import insert_rows
from doorstep.core.text import clean_text, compact_text
from doorstep.registry.models import (
    Household,
    HouseholdKind,
    IdType,
    Person,
    RecordChange,
    Residency,
    Sex,
)
from doorstep.registry.services import floor_from_room, masked_value
from doorstep.registry.validation import (
    FieldError,
    normalize_id_number,
    parse_date,
    parse_id_type,
    sex_from_resident_id,
    validate_birth_date,
    validate_id,
    validate_phone,
)

from .models import ImportJob, ImportRejection

HOUSEHOLD_KEYS = ("road", "house_number", "building", "unit", "room", "address", "kind")
PERSON_KEYS = (
    "name",
    "id_type",
    "id_number",
    "sex",
    "birth_date",
    "phone",
    "relation",
    "residency",
)

_KIND_WORDS = (
    (("集体",), HouseholdKind.COLLECTIVE),
    (("租", "rent"), HouseholdKind.RENTED),
    (("户籍", "家庭", "常住", "registered", "自有", "自住"), HouseholdKind.REGISTERED),
)
_RESIDENCY_WORDS = (
    (("暂住", "temporary"), Residency.TEMPORARY),
    (("流动", "floating"), Residency.FLOATING),
    (("常住", "户籍", "permanent"), Residency.PERMANENT),
)
_SEX_WORDS = {
    "男": Sex.MALE,
    "女": Sex.FEMALE,
    "m": Sex.MALE,
    "f": Sex.FEMALE,
    "male": Sex.MALE,
    "female": Sex.FEMALE,
}

_BUILDING = re.compile(r"(\d+)(?:栋|幢|号楼|座)")
_UNIT = re.compile(r"(\d+)单元")
_ROOM = re.compile(r"(\d{3,4})(?:室|号)?$")
_ROAD = re.compile(r"^(.*?[路街巷道])(\d+(?:-\d+)?号)")


class RowRejected(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _choice(text: str, table, label: str):
    if not text:
        return None
    lowered = text.lower()
    for words, value in table:
        if any(w in lowered for w in words):
            return value
    raise RowRejected(_("unknown %(label)s “%(value)s”") % {"label": label, "value": text})


def split_address(address: str) -> dict[str, str]:
    """'双元大道88号3栋2单元501' → road, house number, building, unit, room."""
    parts = {"road": "", "house_number": "", "building": "", "unit": "", "room": ""}
    if m := _ROAD.search(address):
        parts["road"], parts["house_number"] = m[1], m[2]
    if m := _BUILDING.search(address):
        parts["building"] = m[1]
    if m := _UNIT.search(address):
        parts["unit"] = m[1]
    if m := _ROOM.search(address):
        parts["room"] = m[1]
    return parts


@dataclass(slots=True)
class RowPlan:
    row_number: int
    household_number: str
    grid: Area
    household: dict
    person: dict


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejections: list[ImportRejection] = field(default_factory=list)


class RosterImporter:
    def __init__(self, job: ImportJob):
        self.job = job
        self.area: Area = job.area
        self.columns: dict[str, int] = {f: int(i) for i, f in job.mapping.items()}
        self.needs_grid = self.area.level != AreaLevel.GRID
        self.grids = grid_lookup_under(self.area) if self.needs_grid else {}
        self.today = timezone.localdate()
        self.now = timezone.now()
        # Earlier rows of this file: household number → (row, address) and ID number → row.
        self.seen_households: dict[str, tuple[int, str]] = {}
        self.seen_ids: dict[str, int] = {}
        self.source = f"import:{job.pk}"

    # -- preparing one row ------------------------------------------------------------------
    def _cell(self, cells: list, name: str):
        index = self.columns.get(name)
        if index is None or index >= len(cells):
            return None
        return cells[index]

    def _text(self, cells: list, name: str) -> str:
        return clean_text(self._cell(cells, name))

    def prepare(self, row_number: int, cells: list) -> RowPlan:
        name = self._text(cells, "name")
        if not name:
            raise RowRejected(_("name is empty"))
        if len(name) > 50:
            raise RowRejected(_("name is longer than 50 characters"))
        person = self._person_fields(cells, name)
        grid = self._grid(cells)
        household = self._household_fields(cells, grid)
        number = compact_text(self._cell(cells, "household_number"))
        if not number:
            if not household["address"] and not household["room"]:
                raise RowRejected(_("household number and address are both empty"))
            # No 户号 (common for rented flats): a stable number from grid and address, so the
            # same flat in a re-import or a corrected file is still the same household.
            key = f"{grid.code}|{household['address']}|{household['room']}"
            number = "A" + hashlib.sha1(key.encode()).hexdigest()[:15].upper()  # noqa: S324
        elif len(number) > 40:
            raise RowRejected(_("household number is longer than 40 characters"))
        self._check_against_earlier_rows(row_number, number, grid, household, person)
        return RowPlan(row_number, number, grid, household, person)

    def _person_fields(self, cells: list, name: str) -> dict:
        raw_id = self._cell(cells, "id_number")
        if isinstance(raw_id, float) and raw_id > 1e10:
            raise RowRejected(
                _(
                    "ID number was stored by Excel as a number and has lost its last digits; "
                    "format the column as text"
                )
            )
        try:
            id_type = parse_id_type(self._cell(cells, "id_type"))
            id_type, id_number, birth = validate_id(
                id_type, normalize_id_number(raw_id), on=self.today
            )
            phone = validate_phone(self._cell(cells, "phone"))
            if birth is None:
                birth = validate_birth_date(
                    parse_date(self._cell(cells, "birth_date")), on=self.today
                )
        except FieldError as error:
            raise RowRejected(error.message) from None
        person = {"name": name, "id_type": id_type, "id_number": id_number}
        if id_type == IdType.RESIDENT_ID:
            person["sex"] = sex_from_resident_id(id_number)
        else:
            sex_text = self._text(cells, "sex").lower()
            if sex_text:
                if sex_text not in _SEX_WORDS:
                    raise RowRejected(_("unknown sex “%(value)s”") % {"value": sex_text})
                person["sex"] = _SEX_WORDS[sex_text]
        if birth is not None:
            person["birth_date"] = birth
        if phone:
            person["phone"] = phone
        if relation := self._text(cells, "relation"):
            person["relation"] = relation[:20]
        residency = _choice(self._text(cells, "residency"), _RESIDENCY_WORDS, _("residency"))
        if residency:
            person["residency"] = residency
        return person

    def _grid(self, cells: list) -> Area:
        if not self.needs_grid:
            return self.area
        grid_text = self._text(cells, "grid")
        if not grid_text:
            raise RowRejected(_("grid is empty"))
        community = self._text(cells, "community")
        grid = self.grids.get(f"{community}/{grid_text}") if community else None
        if grid is not None:
            return grid
        if grid_text in self.grids and self.grids[grid_text] is None:
            raise RowRejected(
                _(
                    "grid name “%(grid)s” is ambiguous in %(area)s: give the grid code or the "
                    "community"
                )
                % {"grid": grid_text, "area": self.area}
            )
        grid = self.grids.get(grid_text)
        if grid is None:
            raise RowRejected(
                _("grid “%(grid)s” is not in %(area)s") % {"grid": grid_text, "area": self.area}
            )
        return grid

    def _household_fields(self, cells: list, grid: Area) -> dict:
        address = self._text(cells, "address")[:200]
        parts = split_address(address) if address else {}
        household = {"grid_id": grid.pk, "address": address}
        for key in ("road", "house_number", "building", "unit", "room"):
            value = self._text(cells, key) or parts.get(key, "")
            household[key] = value[: 100 if key == "road" else 30]
        kind = _choice(self._text(cells, "household_kind"), _KIND_WORDS, _("household kind"))
        household["kind"] = kind or HouseholdKind.REGISTERED
        return household

    def _check_against_earlier_rows(self, row_number, number, grid, household, person) -> None:
        where = f"{grid.pk}|{household['address']}|{household['building']}|{household['unit']}|{household['room']}"  # noqa: E501
        earlier = self.seen_households.get(number)
        if earlier is not None and earlier[1] != where:
            raise RowRejected(
                _("household number %(number)s has another address in row %(row)s")
                % {"number": number, "row": f"{earlier[0]:,}"}
            )
        id_number = person["id_number"]
        if id_number:
            first = self.seen_ids.get(id_number)
            if first is not None:
                raise RowRejected(
                    _("duplicate: this ID number already appears in row %(row)s")
                    % {"row": f"{first:,}"}
                )
            self.seen_ids[id_number] = row_number
        if earlier is None:
            self.seen_households[number] = (row_number, where)

    # -- applying a batch ----------------------------------------------------------------------
    def apply(self, plans: list[RowPlan], result: BatchResult) -> None:
        if not plans:
            return
        households = self._apply_households(plans, result)
        self._apply_persons(plans, households, result)

    def _reject(self, result: BatchResult, plan: RowPlan, cells_by_row: dict, reason: str):
        result.rejections.append(
            ImportRejection(
                job=self.job,
                row_number=plan.row_number,
                values=cells_by_row.get(plan.row_number, []),
                reason=reason,
            )
        )

    def _apply_households(self, plans: list[RowPlan], result: BatchResult) -> dict[str, tuple]:
        """Create and update this batch's households; returns number → (id, grid path, changed)."""
        first_plan: dict[str, RowPlan] = {}
        for plan in plans:
            first_plan.setdefault(plan.household_number, plan)
        existing = {
            h.household_number: h
            for h in Household.objects.filter(household_number__in=list(first_plan)).select_related(
                "grid"
            )
        }
        fresh = [n for n in first_plan if n not in existing]
        insert_rows(
            Household,
            [
                "household_number",
                "grid",
                "road",
                "house_number",
                "building",
                "unit",
                "room",
                "address",
                "floor",
                "kind",
                "status",
                "created_at",
                "updated_at",
            ],
            [
                (
                    n,
                    p.household["grid_id"],
                    p.household["road"],
                    p.household["house_number"],
                    p.household["building"],
                    p.household["unit"],
                    p.household["room"],
                    p.household["address"],
                    floor_from_room(p.household["room"]),
                    p.household["kind"],
                    "occupied",
                    self.now,
                    self.now,
                )
                for n in fresh
                for p in (first_plan[n],)
            ],
        )
        resolved: dict[str, tuple] = {}
        if fresh:
            for number, pk in Household.objects.filter(household_number__in=fresh).values_list(
                "household_number", "pk"
            ):
                resolved[number] = (pk, None, False)
        changed_households, history = [], []
        for number, household in existing.items():
            if not household.grid.path.startswith(self.area.path):
                resolved[number] = (household.pk, household.grid.path, False)
                continue
            wanted = first_plan[number].household
            changes = {}
            if household.grid_id != wanted["grid_id"]:
                changes["grid"] = [household.grid.code, first_plan[number].grid.code]
                household.grid_id = wanted["grid_id"]
            for key in HOUSEHOLD_KEYS:
                if getattr(household, key) != wanted[key]:
                    changes[key] = [getattr(household, key), wanted[key]]
                    setattr(household, key, wanted[key])
            if changes:
                household.floor = floor_from_room(household.room)
                household.updated_at = self.now
                changed_households.append(household)
                history.append(
                    RecordChange(
                        household_id=household.pk,
                        user=self.job.created_by,
                        source=self.source,
                        changes=changes,
                    )
                )
            resolved[number] = (household.pk, None, bool(changes))
        if changed_households:
            Household.objects.bulk_update(
                changed_households, ["grid", *HOUSEHOLD_KEYS, "floor", "updated_at"]
            )
            RecordChange.objects.bulk_create(history)
        return resolved

    def _apply_persons(self, plans, households, result: BatchResult) -> None:
        ids = [p.person["id_number"] for p in plans if p.person["id_number"]]
        by_id = (
            {
                person.id_number: person
                for person in Person.objects.filter(id_number__in=ids).select_related("household")
            }
            if ids
            else {}
        )
        no_id_households = [
            households[p.household_number][0] for p in plans if not p.person["id_number"]
        ]
        by_name = (
            {
                (person.household_id, person.name): person
                for person in Person.objects.filter(
                    household_id__in=no_id_households, id_number__isnull=True
                )
            }
            if no_id_households
            else {}
        )
        new_rows, changed, history = [], {}, []
        for plan in plans:
            household_id, foreign_path, household_changed = households[plan.household_number]
            if foreign_path is not None:
                self._reject(
                    result,
                    plan,
                    self.cells_by_row,
                    _("household number %(number)s belongs to a household outside %(area)s")
                    % {"number": plan.household_number, "area": self.area},
                )
                continue
            data = plan.person
            person = (
                by_id.get(data["id_number"])
                if data["id_number"]
                else by_name.get((household_id, data["name"]))
            )
            if person is None:
                new_rows.append(
                    (
                        household_id,
                        data["name"],
                        data["id_type"],
                        data["id_number"],
                        data.get("sex", ""),
                        data.get("birth_date"),
                        data.get("phone", ""),
                        data.get("relation", ""),
                        data.get("residency", Residency.PERMANENT),
                        "active",
                        False,
                        self.now,
                        self.now,
                    )
                )
                result.created += 1
                continue
            if person.household_id != household_id:
                self._reject(
                    result,
                    plan,
                    self.cells_by_row,
                    _("conflict: this ID number is already registered in household %(number)s")
                    % {"number": person.household.household_number},
                )
                continue
            changes = {}
            for key, value in data.items():
                if getattr(person, key) != value:
                    changes[key] = [
                        masked_value(key, getattr(person, key)),
                        masked_value(key, value),
                    ]
                    setattr(person, key, value)
            if changes:
                person.updated_at = self.now
                changed[person.pk] = person
                history.append(
                    RecordChange(
                        household_id=household_id,
                        person_id=person.pk,
                        user=self.job.created_by,
                        source=self.source,
                        changes=changes,
                    )
                )
                result.updated += 1
            elif household_changed and plan is self._first_of_household(plans, plan):
                result.updated += 1
            else:
                result.unchanged += 1
        insert_rows(
            Person,
            [
                "household",
                "name",
                "id_type",
                "id_number",
                "sex",
                "birth_date",
                "phone",
                "relation",
                "residency",
                "status",
                "is_new",
                "created_at",
                "updated_at",
            ],
            new_rows,
        )
        if changed:
            Person.objects.bulk_update(list(changed.values()), [*PERSON_KEYS, "updated_at"])
            RecordChange.objects.bulk_create(history)

    @staticmethod
    def _first_of_household(plans: list[RowPlan], plan: RowPlan) -> RowPlan:
        return next(p for p in plans if p.household_number == plan.household_number)

    # -- the run -----------------------------------------------------------------------------
    def run(self, rows: Iterable[tuple[int, list]], on_progress: Callable[[ImportJob], None]):
        batch_size = settings.ROSTER_IMPORT_CHUNK_ROWS
        iterator: Iterator[tuple[int, list]] = iter(rows)
        while batch := list(islice(iterator, batch_size)):
            self._run_batch(batch)
            on_progress(self.job)

    def _run_batch(self, batch: list[tuple[int, list]]) -> None:
        result = BatchResult()
        plans: list[RowPlan] = []
        self.cells_by_row = {}
        for row_number, cells in batch:
            try:
                plans.append(self.prepare(row_number, cells))
            except RowRejected as rejected:
                result.rejections.append(
                    ImportRejection(
                        job=self.job,
                        row_number=row_number,
                        values=_cells_as_text(cells),
                        reason=rejected.reason,
                    )
                )
        self.cells_by_row = {row_number: _cells_as_text(cells) for row_number, cells in batch}
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    self.apply(plans, result)
                    ImportRejection.objects.bulk_create(result.rejections)
                    self._count(batch[-1][0], len(batch), result)
                break
            except IntegrityError:
                # Another import wrote one of these households or persons between our read and
                # our insert: read again and apply once more; a second clash is a real error.
                if attempt == 2:
                    raise
                rejections = [
                    r
                    for r in result.rejections
                    if r.row_number not in {p.row_number for p in plans}
                ]
                result = BatchResult(rejections=rejections)
        self.cells_by_row = {}

    def _count(self, last_row: int, rows: int, result: BatchResult) -> None:
        ImportJob.objects.filter(pk=self.job.pk).update(
            rows_done=F("rows_done") + rows,
            last_row_committed=last_row,
            created_count=F("created_count") + result.created,
            updated_count=F("updated_count") + result.updated,
            unchanged_count=F("unchanged_count") + result.unchanged,
            rejected_count=F("rejected_count") + len(result.rejections),
        )
        self.job.refresh_from_db(
            fields=[
                "rows_done",
                "last_row_committed",
                "created_count",
                "updated_count",
                "unchanged_count",
                "rejected_count",
            ]
        )


def _cells_as_text(cells: list) -> list[str]:
    out = []
    for value in cells:
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            value = int(value)
        elif isinstance(value, datetime.datetime | datetime.date):
            value = value.isoformat()
        out.append("" if value is None else str(value))
    return out
