"""The roster import pipeline: rows in, households and persons out, every row accounted for.

Rows are read as a stream and handled in batches. Each batch is prepared (normalised, validated,
checked against the other rows of the batch), then applied in one transaction together with the
job's counters and the batch's rejections, so a crash never leaves half a batch or a counter that
disagrees with the data.

Memory stays flat whatever the file's size: nothing about earlier batches is kept in memory.
Every row this job writes carries the job's own timestamp (created_at / updated_at), so a later
row that repeats an ID number, or gives a household number another address, is recognised in the
database as "written by an earlier row of this file".
"""

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area, AreaLevel
from doorstep.areas.selectors import grid_lookup_under
from doorstep.core.bulk import insert_rows
from doorstep.core.sheets.problems import SheetRow
from doorstep.core.text import clean_text
from doorstep.registry.counts import Deltas, persons_per_household
from doorstep.registry.models import (
    Household,
    HouseholdKind,
    IdType,
    Person,
    RecordChange,
    Residency,
)
from doorstep.registry.services import PERSON_FIELDS, floor_from_room, masked_value
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

from .batchq import batch_in_q
from .conflicts import RowConflicts
from .models import ImportJob, ImportRejection, ImportStatus
from .words import (
    KIND_LABEL,
    KIND_WORDS,
    RESIDENCY_LABEL,
    RESIDENCY_WORDS,
    SEX_WORDS,
    RowRejected,
    WordTable,
    cells_as_text,
    split_address,
)

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
HOUSEHOLD_COLUMNS = [
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
]
# The roster columns of a person as the importer writes them (registry.services.PERSON_FIELDS
# plus the household and the bookkeeping).
PERSON_COLUMNS = ["household", *PERSON_FIELDS, "is_new", "created_at", "updated_at"]

# Cells read with their own parsers (numbers from Excel, dates), not as plain text.
_TYPED_FIELDS = frozenset({"id_number", "birth_date", "phone"})
_HOUSEHOLD_TEXT = ("address", "road", "house_number", "building", "unit", "room", "household_kind")
_FEW_VALUES = frozenset(
    {"grid", "community", "relation", "household_kind", "residency", "id_type", "sex", "road"}
)


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
        self.columns: list[tuple[str, int]] = [(f, int(i)) for i, f in job.mapping.items()]
        self.needs_grid = self.area.level != AreaLevel.GRID
        self.grids = grid_lookup_under(self.area) if self.needs_grid else {}
        self.grid_cache: dict[tuple[str, str], Area | str] = {}
        self._fresh_household_ids: list[int] = []  # households created by the current batch
        # the current batch's households: id → grid (after any move), and the moves
        # (id, old grid, new grid), for the roster counts (registry/counts.py)
        self._household_grid: dict[int, int] = {}
        self._household_moves: list[tuple[int, int, int]] = []
        self.kinds = WordTable(KIND_WORDS, KIND_LABEL)
        self.residencies = WordTable(RESIDENCY_WORDS, RESIDENCY_LABEL)
        self.today = timezone.localdate()
        # The job's timestamp on every row it writes: how later batches recognise earlier rows.
        self.now = timezone.now()
        self.now_db = connection.ops.adapt_datetimefield_value(self.now)
        self.source = f"import:{job.pk}"
        self.conflicts = RowConflicts(job)
        self.batch_cells: dict[int, list] = {}
        self.text_cache: dict[str, dict] = {f: {} for f in _FEW_VALUES}
        self._last_household: tuple = (None, None)

    # -- preparing one row ------------------------------------------------------------------
    def prepare(self, row_number: int, cells: list, seen: dict) -> RowPlan:
        width = len(cells)
        raw = {f: cells[i] for f, i in self.columns if i < width}
        text = {}
        for f, v in raw.items():
            if f in _TYPED_FIELDS:
                continue
            if f in _FEW_VALUES:
                # Grid, community, relation, kinds: a handful of spellings in a million rows.
                cache = self.text_cache[f]
                cleaned = cache.get(v)
                if cleaned is None:
                    cleaned = clean_text(v)
                    if len(cache) < 10_000:
                        cache[v] = cleaned
                text[f] = cleaned
            else:
                text[f] = clean_text(v)
        name = text.get("name", "")
        if not name:
            raise RowRejected(_("name is empty"))
        if len(name) > 50:
            raise RowRejected(_("name is longer than 50 characters"))
        person = self._person_fields(raw, text, name)
        grid = self._grid(text)
        household = self._household_fields(text, grid)
        number = text.get("household_number", "").replace(" ", "")
        if not number:
            if not household["address"] and not household["room"]:
                raise RowRejected(_("household number and address are both empty"))
            # No 户号 (common for rented flats): a stable number from grid and address, so the
            # same flat in a re-import or a corrected file is still the same household.
            key = f"{grid.code}|{household['address']}|{household['room']}"
            number = "A" + hashlib.sha1(key.encode()).hexdigest()[:15].upper()  # noqa: S324
        elif len(number) > 40:
            raise RowRejected(_("household number is longer than 40 characters"))
        self._check_against_batch(row_number, number, household, person, seen)
        return RowPlan(row_number, number, grid, household, person)

    def _person_fields(self, raw: dict, text: dict, name: str) -> dict:
        raw_id = raw.get("id_number")
        if isinstance(raw_id, float) and raw_id > 1e10:
            raise RowRejected(
                _(
                    "ID number was stored by Excel as a number and has lost its last digits; "
                    "format the column as text"
                )
            )
        try:
            id_type = parse_id_type(text["id_type"]) if text.get("id_type") else None
            id_type, id_number, birth = validate_id(
                id_type, normalize_id_number(raw_id), on=self.today
            )
            phone = validate_phone(raw.get("phone"))
            if birth is None and raw.get("birth_date") not in (None, ""):
                birth = validate_birth_date(parse_date(raw["birth_date"]), on=self.today)
        except FieldError as error:
            raise RowRejected(error.message) from None
        person = {"name": name, "id_type": id_type, "id_number": id_number}
        if id_type == IdType.RESIDENT_ID:
            person["sex"] = sex_from_resident_id(id_number)
        elif sex_text := text.get("sex", "").lower():
            if sex_text not in SEX_WORDS:
                raise RowRejected(_("unknown sex “%(value)s”") % {"value": sex_text})
            person["sex"] = SEX_WORDS[sex_text]
        if birth is not None:
            person["birth_date"] = birth
        if phone:
            person["phone"] = phone
        if relation := text.get("relation"):
            person["relation"] = relation[:20]
        if residency := self.residencies(text.get("residency", "")):
            person["residency"] = residency
        return person

    def _grid(self, text: dict) -> Area:
        if not self.needs_grid:
            return self.area
        key = (text.get("community", ""), text.get("grid", ""))
        found = self.grid_cache.get(key)
        if found is None:
            found = self.grid_cache[key] = self._resolve_grid(*key)
        if isinstance(found, str):
            raise RowRejected(found)
        return found

    def _resolve_grid(self, community: str, grid_text: str) -> Area | str:
        """The grid a row names, or the reason it names none."""
        if not grid_text:
            return _("grid is empty")
        grid = self.grids.get(f"{community}/{grid_text}") if community else None
        if grid is not None:
            return grid
        if grid_text in self.grids and self.grids[grid_text] is None:
            return _(
                "grid name “%(grid)s” is ambiguous in %(area)s: give the grid code or the community"
            ) % {"grid": grid_text, "area": self.area}
        return self.grids.get(grid_text) or _("grid “%(grid)s” is not in %(area)s") % {
            "grid": grid_text,
            "area": self.area,
        }

    def _household_fields(self, text: dict, grid: Area) -> dict:
        # Members of one household sit on consecutive rows with the same household cells.
        key = (grid.pk, *(text.get(k) for k in _HOUSEHOLD_TEXT))
        if key == self._last_household[0]:
            return self._last_household[1]
        household = self._household_fields_uncached(text, grid)
        self._last_household = (key, household)
        return household

    def _household_fields_uncached(self, text: dict, grid: Area) -> dict:
        address = text.get("address", "")[:200]
        parts = split_address(address) if address else {}
        household = {"grid_id": grid.pk, "address": address}
        for key in ("road", "house_number", "building", "unit", "room"):
            value = text.get(key) or parts.get(key, "")
            household[key] = value[: 100 if key == "road" else 30]
        household["kind"] = self.kinds(text.get("household_kind", "")) or (HouseholdKind.REGISTERED)
        household["where"] = self._where(household)
        return household

    @staticmethod
    def _where(household: dict) -> tuple:
        """What makes two rows the same dwelling: grid and address."""
        return tuple(household[k] for k in ("grid_id", "address", "building", "unit", "room"))

    def _check_against_batch(self, row_number, number, household, person, seen: dict) -> None:
        """Earlier rows of the same batch; earlier batches are checked in the database."""
        where = household["where"]
        earlier = seen.get(("hh", number))
        if earlier is not None and earlier[1] != where:
            raise RowRejected(
                _("household number %(number)s has another address in row %(row)s")
                % {"number": number, "row": f"{earlier[0]:,}"}
            )
        id_number = person["id_number"]
        if id_number:
            first = seen.get(("id", id_number))
            if first is not None:
                raise RowRejected(
                    _("duplicate: this ID number already appears in row %(row)s")
                    % {"row": f"{first:,}"}
                )
            seen[("id", id_number)] = row_number
        if earlier is None:
            seen[("hh", number)] = (row_number, where)

    # -- applying a batch ----------------------------------------------------------------------
    def _written_by_this_job(self, obj) -> bool:
        """Written, or matched unchanged (conflicts.RowConflicts.mark_seen), by this run."""
        return self.now in (obj.created_at, obj.updated_at, obj.import_seen_at)

    def _reject(self, result: BatchResult, plan: RowPlan, reason: str) -> None:
        result.rejections.append(
            ImportRejection(
                job=self.job,
                row_number=plan.row_number,
                values=cells_as_text(self.batch_cells.get(plan.row_number, [])),
                reason=reason,
            )
        )

    def apply(self, plans: list[RowPlan], result: BatchResult) -> None:
        if not plans:
            return
        self.conflicts.begin_batch()
        counts = Deltas()
        households = self._apply_households(plans)
        # a household moved to another grid takes its persons (those before this batch's) along
        moved = persons_per_household(pk for pk, _old, _new in self._household_moves)
        for pk, old, new in self._household_moves:
            counts.households(old, -1)
            counts.households(new, 1)
            counts.persons(old, -moved.get(pk, 0))
            counts.persons(new, moved.get(pk, 0))
        self._apply_persons(plans, households, result, counts)
        self.conflicts.mark_seen(self.now)
        self.conflicts.audit_outside(result.rejections)
        if self._fresh_household_ids:
            # A new household whose every row was refused (an ID number already on the roster,
            # say) must not stay behind empty: the same rows in one batch would create nothing.
            Household.objects.filter(
                pk__in=self._fresh_household_ids, persons__isnull=True
            ).delete()
            kept = Household.objects.filter(pk__in=self._fresh_household_ids).values_list("grid_id")
            for grid_id, n in kept.annotate(n=Count("pk")).order_by():
                counts.households(grid_id, n)
        counts.save()  # in the batch's transaction, with the rows it counts

    def _apply_households(self, plans: list[RowPlan]) -> dict[str, tuple]:
        """Create and update this batch's households.

        Returns number → (id, refusal reason or "", changed by this row).
        """
        first_plan: dict[str, RowPlan] = {}
        for plan in plans:
            first_plan.setdefault(plan.household_number, plan)
        existing = {
            h.household_number: h
            for h in Household.objects.filter(
                batch_in_q("household_number", first_plan)
            ).select_related("grid")
        }
        fresh = [n for n in first_plan if n not in existing]
        insert_rows(
            Household,
            HOUSEHOLD_COLUMNS,
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
                    self.now_db,
                    self.now_db,
                )
                for n in fresh
                for p in (first_plan[n],)
            ],
            adapted=("created_at", "updated_at"),
        )
        resolved: dict[str, tuple] = {}
        self._fresh_household_ids = []
        self._household_grid, self._household_moves = {}, []
        if fresh:
            for number, pk, grid_id in Household.objects.filter(
                batch_in_q("household_number", fresh)
            ).values_list("household_number", "pk", "grid_id"):
                resolved[number] = (pk, "", False)
                self._fresh_household_ids.append(pk)
                self._household_grid[pk] = grid_id
        changed_households, history = [], []
        for number, household in existing.items():
            resolved[number] = self._update_household(
                household, first_plan[number], changed_households, history
            )
            self._household_grid[household.pk] = household.grid_id
        if changed_households:
            Household.objects.bulk_update(
                changed_households, ["grid", *HOUSEHOLD_KEYS, "floor", "updated_at"]
            )
            RecordChange.objects.bulk_create(history)
        return resolved

    def _update_household(self, household, plan: RowPlan, changed: list, history: list):
        if not household.grid.path.startswith(self.area.path):
            named = _("household number %(number)s belongs to a household outside %(area)s")
            named %= {"number": plan.household_number, "area": self.area}
            return household.pk, self.conflicts.refusal(household.grid.path, named), False
        wanted = plan.household
        if self._written_by_this_job(household):
            stored = (
                household.grid_id,
                household.address,
                household.building,
                household.unit,
                household.room,
            )
            if stored != self._where(wanted):
                return (
                    household.pk,
                    _("household number %(number)s has another address in an earlier row")
                    % {"number": plan.household_number},
                    False,
                )
            return household.pk, "", False
        changes = {}
        if household.grid_id != wanted["grid_id"]:
            changes["grid"] = [household.grid.code, plan.grid.code]
            self._household_moves.append((household.pk, household.grid_id, wanted["grid_id"]))
            household.grid_id = wanted["grid_id"]
        for key in HOUSEHOLD_KEYS:
            if getattr(household, key) != wanted[key]:
                changes[key] = [getattr(household, key), wanted[key]]
                setattr(household, key, wanted[key])
        if changes:
            household.floor = floor_from_room(household.room)
            household.updated_at = self.now
            changed.append(household)
            history.append(
                RecordChange(
                    household_id=household.pk,
                    user=self.job.created_by,
                    source=self.source,
                    changes=changes,
                )
            )
        else:
            self.conflicts.seen_households.append(household.pk)
        return household.pk, "", bool(changes)

    def _apply_persons(
        self, plans: list[RowPlan], households: dict, result: BatchResult, counts: Deltas
    ):
        ids = [p.person["id_number"] for p in plans if p.person["id_number"]]
        by_id = (
            {
                person.id_number: person
                for person in Person.objects.filter(batch_in_q("id_number", ids)).select_related(
                    "household", "household__grid"
                )
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
        held = self.conflicts.held(ids)
        new_rows, changed, history = [], {}, []
        first_rows = {}
        for plan in plans:
            first_rows.setdefault(plan.household_number, plan.row_number)
        for plan in plans:
            household_id, refusal, household_changed = households[plan.household_number]
            if refusal:
                self._reject(result, plan, refusal)
                continue
            data = plan.person
            person = (
                by_id.get(data["id_number"])
                if data["id_number"]
                else by_name.get((household_id, data["name"]))
            )
            if person is None and data["id_number"] in held:
                waiting = held[data["id_number"]]
                if waiting.household is None:
                    self._reject(result, plan, self.conflicts.refusal("", _bare_conflict()))
                    continue
                named = _("conflict: this ID number waits for reconciliation in household %(n)s")
                self._reject(result, plan, named % {"n": waiting.household.household_number})
                continue
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
                        self.now_db,
                        self.now_db,
                    )
                )
                result.created += 1
                counts.persons(self._household_grid[household_id])
                continue
            if data["id_number"] and self._written_by_this_job(person):
                self._reject(
                    result, plan, _("duplicate: this ID number already appears in an earlier row")
                )
                continue
            if person.household is None:
                # a person followed up without a household (a visitor, see followup): not on
                # anyone's roster, so outside every importer's jurisdiction but the shell's
                self._reject(result, plan, self.conflicts.refusal("", _bare_conflict()))
                continue
            if person.household_id != household_id:
                named = _("conflict: this ID number is already registered in household %(number)s")
                named %= {"number": person.household.household_number}
                self._reject(
                    result, plan, self.conflicts.refusal(person.household.grid.path, named)
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
            elif household_changed and first_rows[plan.household_number] == plan.row_number:
                result.updated += 1
            else:
                result.unchanged += 1
                self.conflicts.seen_persons.append(person.pk)
        insert_rows(Person, PERSON_COLUMNS, new_rows, adapted=("created_at", "updated_at"))
        if changed:
            Person.objects.bulk_update(list(changed.values()), [*PERSON_KEYS, "updated_at"])
            RecordChange.objects.bulk_create(history)

    # -- the run -----------------------------------------------------------------------------
    def run(self, rows: Iterable[SheetRow], on_progress: Callable[[ImportJob], None]):
        batch_size = settings.ROSTER_IMPORT_CHUNK_ROWS
        iterator: Iterator[SheetRow] = iter(rows)
        while batch := list(islice(iterator, batch_size)):
            self._run_batch(batch)
            on_progress(self.job)

    def _run_batch(self, batch: list[SheetRow]) -> None:
        result = BatchResult()
        plans: list[RowPlan] = []
        seen: dict = {}
        self.batch_cells = {row.number: row.cells for row in batch}
        for row_number, cells, problem in batch:
            try:
                if problem:  # the reader's reason: a cell too long, not text, a NUL
                    raise RowRejected(problem)
                plans.append(self.prepare(row_number, cells, seen))
            except RowRejected as rejected:
                result.rejections.append(
                    ImportRejection(
                        job=self.job,
                        row_number=row_number,
                        values=cells_as_text(cells),
                        reason=rejected.reason,
                    )
                )
        prepared_rejections = list(result.rejections)
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
                result = BatchResult(rejections=list(prepared_rejections))
        self.batch_cells = {}

    def _count(self, last_row: int, rows: int, result: BatchResult) -> None:
        # Only while the job is still ours: a run taken for dead and resumed elsewhere must not
        # add a batch after the new runner's (the batch's transaction rolls back).
        counted = ImportJob.objects.filter(
            pk=self.job.pk, status=ImportStatus.RUNNING, runner=self.job.runner
        ).update(
            rows_done=F("rows_done") + rows,
            last_row_committed=last_row,
            created_count=F("created_count") + result.created,
            updated_count=F("updated_count") + result.updated,
            unchanged_count=F("unchanged_count") + result.unchanged,
            rejected_count=F("rejected_count") + len(result.rejections),
            heartbeat_at=timezone.now(),
        )
        if not counted:
            raise ImportTakenOver(self.job.pk)
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


class ImportTakenOver(Exception):
    """The job has another runner now (this one was taken for dead and the job resumed): stop
    without writing anything more."""


def _bare_conflict() -> str:
    return _("conflict: this ID number belongs to a person followed up without a household")
