"""Writes to the roster. Every edit leaves a RecordChange (who, when, old → new, masked) and an
audit event; every reveal of a full ID number or phone is audited."""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.areas.models import Area
from doorstep.core.masking import is_masked, mask_id_number, mask_phone
from doorstep.core.services import audit_write

from .counts import grid_of_household, roster_counts_add
from .models import (
    Household,
    IdReconciliation,
    IdType,
    Person,
    PersonStatus,
    ReconciliationStatus,
    RecordChange,
)
from .selectors import (
    access_household,
    access_person,
    access_reconciliation,
    covers_every_record,
    persons_visible_to,
)
from .validation import FieldError, sex_from_resident_id, validate_birth_date, validate_id

HOUSEHOLD_FIELDS = (
    "road",
    "house_number",
    "building",
    "unit",
    "room",
    "address",
    "kind",
    "status",
)
PERSON_FIELDS = (
    "name",
    "id_type",
    "id_number",
    "sex",
    "birth_date",
    "phone",
    "relation",
    "residency",
    "status",
)
_MASKERS = {"id_number": mask_id_number, "phone": mask_phone}


def masked_value(field: str, value: Any) -> Any:
    """A value as it may appear in history and audit: personal identifiers masked."""
    if value is None:
        return None
    masker = _MASKERS.get(field)
    return masker(value) if masker else str(value)


def diff_fields(obj: Any, data: dict[str, Any], fields: tuple[str, ...]) -> dict[str, list]:
    """Apply `data` to `obj` for `fields`; return {field: [old, new]} of what really changed."""
    changes: dict[str, list] = {}
    for field in fields:
        if field not in data:
            continue
        old, new = getattr(obj, field), data[field]
        if old != new:
            changes[field] = [masked_value(field, old), masked_value(field, new)]
            setattr(obj, field, new)
    return changes


def floor_from_room(room: str) -> int | None:
    """'501' → 5, '1203' → 12, 'B2' → None: rooms are numbered floor then door."""
    digits = "".join(ch for ch in room if ch.isdigit())
    if len(digits) >= 3 and digits == room.strip():
        return int(digits[:-2])
    return None


@transaction.atomic
def household_update(
    *, user, household_id: int, data: dict[str, Any], request: HttpRequest | None = None
) -> Household:
    if not user.manages_roster:
        raise PermissionDenied
    household = access_household(user, household_id)
    changes = diff_fields(household, data, HOUSEHOLD_FIELDS)
    if changes:
        household.floor = floor_from_room(household.room)
        household.save()
        RecordChange.objects.create(user=user, household=household, source="edit", changes=changes)
        audit_write(
            user=user,
            action="household.update",
            obj=household,
            request=request,
            detail={"fields": sorted(changes)},
        )
    return household


def person_data_clean(person: Person | None, data: dict[str, Any], *, user=None) -> dict[str, Any]:
    """Validate a person's fields; a masked identifier sent back keeps the stored value.

    An ID number that another person carries is refused with a clear message when that person
    is inside `user`'s jurisdiction (a duplicate in your own area is your business). When the
    other record lies outside it, the answer must not differ from any other accepted number: the
    number goes to `id_number_held` (and a reconciliation case, opened by the caller's write) and
    `id_number` stays empty. Without a user (internal callers) every clash is refused.
    """
    data = dict(data)
    for field in ("id_number", "phone"):
        if person is not None and is_masked(data.get(field)):
            data[field] = person.shown_id_number if field == "id_number" else person.phone
    id_type = data.get("id_type") or (person.id_type if person else IdType.RESIDENT_ID)
    number = (data.get("id_number") or "").strip().upper()
    try:
        id_type, number, birth = validate_id(id_type, number)
        data["birth_date"] = validate_birth_date(data.get("birth_date"))
    except FieldError as error:
        raise ValidationError({error.field: error.message}) from None
    data["id_type"], data["id_number"], data["id_number_held"] = id_type, number, None
    if birth is not None:
        data["birth_date"] = birth
        data["sex"] = sex_from_resident_id(number)
    if number:
        others = Person.objects.exclude(pk=person.pk) if person is not None else Person.objects
        holder = others.filter(id_number=number).first()
        waiting = others.filter(id_number_held=number)
        if user is not None:
            visible = persons_visible_to(user)
            waiting = waiting.filter(pk__in=visible.values("pk"))
            outside = holder is not None and not visible.filter(pk=holder.pk).exists()
        else:
            outside = False
        if (holder is not None and not outside) or waiting.exists():
            raise ValidationError(
                {"id_number": _("this ID number already belongs to a person of another household")}
            )
        if outside:
            data["id_number"], data["id_number_held"] = None, number
    return data


def _person_changes(person: Person, data: dict[str, Any]) -> dict[str, list]:
    """Apply `data` to `person`; {field: [old, new]} of what changed, masked. The ID number is
    compared as the record shows it: whether it is held for reconciliation is nobody's business
    in the history (which the recorder reads)."""
    shown_before = person.shown_id_number
    person.id_number_held = data.get("id_number_held") if "id_number" in data else None
    changes = diff_fields(person, data, tuple(f for f in PERSON_FIELDS if f != "id_number"))
    if "id_number" in data:
        person.id_number = data["id_number"]
        if shown_before != person.shown_id_number:
            changes["id_number"] = [
                masked_value("id_number", shown_before),
                masked_value("id_number", person.shown_id_number),
            ]
    return changes


def _reconciliation_track(
    *, user, person: Person, source: str, request=None, area: Area | None = None
) -> None:
    """Keep the person's reconciliation case in step with the number the record holds: open one
    for a held number, close a pending one whose number is no longer held (the number was
    corrected by an edit)."""
    pending = IdReconciliation.objects.filter(
        person=person, status=ReconciliationStatus.PENDING
    ).first()
    if pending is not None and pending.id_number != person.id_number_held:
        _reconciliation_close(pending, user=user, status=ReconciliationStatus.CORRECTED)
        pending = None
    if person.id_number_held and pending is None:
        case = IdReconciliation.objects.create(
            person=person,
            id_type=person.id_type,
            id_number=person.id_number_held,
            holder=Person.objects.filter(id_number=person.id_number_held).first(),
            source=source[:32],
            reported_by=user if user is not None and user.is_authenticated else None,
            area=area if person.household_id is None else None,
        )
        # Written as the recorder's action on the case: an audit row is not an answer to them.
        audit_write(
            user=user,
            action="reconciliation.open",
            obj=case,
            request=request,
            detail={"person": person.pk, "id_number": mask_id_number(case.id_number)},
        )


def _reconciliation_close(case: IdReconciliation, *, user, status: str) -> None:
    case.status, case.resolved_at = status, timezone.now()
    case.resolved_by = user if user is not None and user.is_authenticated else None
    case.save(update_fields=["status", "resolved_at", "resolved_by"])


@transaction.atomic
def person_update(
    *, user, person_id: int, data: dict[str, Any], request: HttpRequest | None = None
) -> Person:
    if not user.manages_roster:
        raise PermissionDenied
    person = access_person(user, person_id)
    data = person_data_clean(person, data, user=user)
    changes = _person_changes(person, data)
    if changes:
        person.save()
        RecordChange.objects.create(
            user=user, household=person.household, person=person, source="edit", changes=changes
        )
        audit_write(
            user=user,
            action="person.update",
            obj=person,
            request=request,
            detail={"fields": sorted(changes)},
        )
        _reconciliation_track(user=user, person=person, source="form", request=request)
    return person


@transaction.atomic
def person_create(
    *, user, household_id: int, data: dict[str, Any], request: HttpRequest | None = None
) -> Person:
    if not user.manages_roster:
        raise PermissionDenied
    household = access_household(user, household_id)
    data = person_data_clean(None, data, user=user)
    person = Person(household=household)
    changes = _person_changes(person, data)
    person.save()
    roster_counts_add({household.grid_id: (0, 1)})
    RecordChange.objects.create(
        user=user,
        household=household,
        person=person,
        source="edit",
        changes={field: [None, new] for field, (_old, new) in changes.items()},
    )
    audit_write(user=user, action="person.create", obj=person, request=request)
    _reconciliation_track(user=user, person=person, source="form", request=request)
    return person


def person_found_at_door(
    *,
    user,
    household_id: int | None,
    data: dict[str, Any],
    source: str,
    request=None,
    area: Area | None = None,
) -> int:
    """A person found at the door who is not on the roster, added flagged "new" (inside the
    visit's transaction). `data` is what person_data_clean made of the worker's answers. If the
    number was taken meanwhile (by another visit, an import), it is held for reconciliation
    like any number of a record outside: the visit is not refused for it. A person without a
    household (followed up before they are on the roster) names the `area` whose admins get
    the case."""
    fields = {k: v for k, v in data.items() if v not in (None, "") and k in PERSON_FIELDS}
    held = data.get("id_number_held")
    try:
        with transaction.atomic():
            person = Person.objects.create(
                household_id=household_id, is_new=True, id_number_held=held, **fields
            )
    except IntegrityError:
        if not fields.get("id_number"):
            raise
        held = fields.pop("id_number")
        person = Person.objects.create(
            household_id=household_id, is_new=True, id_number_held=held, **fields
        )
    if household_id is not None:
        roster_counts_add({grid_of_household(household_id): (0, 1)})
    if held:
        _reconciliation_track(user=user, person=person, source=source, request=request, area=area)
    return person.pk


# -- reconciliation of ID numbers ---------------------------------------------------------------
class ReconciliationRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _case_for_update(user, case_id) -> IdReconciliation:
    if not user.manages_roster:
        raise PermissionDenied
    case = access_reconciliation(user, case_id)
    case = IdReconciliation.objects.select_for_update().select_related("person").get(pk=case.pk)
    if case.status != ReconciliationStatus.PENDING:
        raise ReconciliationRefused(_("this case was already decided"))
    return case


@transaction.atomic
def reconciliation_moved_here(*, user, case_id: int, request=None) -> Person:
    """Same person, moved here: the record that carries the number moves into the newcomer's
    household (its history, checks and follow-up go with it) and the newcomer's record, a
    duplicate, is folded into it. Only someone whose jurisdiction covers both records decides
    this: a record leaves another jurisdiction."""
    case = _case_for_update(user, case_id)
    newcomer = case.person
    holder = Person.objects.select_for_update().filter(id_number=case.id_number).first()
    if holder is None:
        raise ReconciliationRefused(
            _("no other record carries this number any more: confirm the number instead")
        )
    if not persons_visible_to(user).filter(pk=holder.pk).exists():
        raise ReconciliationRefused(
            _(
                "the other record is outside your jurisdiction: the move is decided by someone "
                "whose jurisdiction covers both (the street or the command)"
            )
        )
    _reconciliation_close(case, user=user, status=ReconciliationStatus.MOVED)
    if newcomer.household_id is None:
        return _fold_into_holder(
            user=user, case=case, newcomer=newcomer, holder=holder, request=request
        )
    moved_from = holder.household
    _repoint_person(old=newcomer, new=holder)
    holder.household_id = newcomer.household_id
    holder.status = PersonStatus.ACTIVE
    for field in ("phone", "relation"):
        if not getattr(holder, field) and getattr(newcomer, field):
            setattr(holder, field, getattr(newcomer, field))
    holder.save()
    newcomer_id = newcomer.pk
    newcomer.delete()
    # the holder left its grid; in the newcomer's grid the holder took the deleted record's place
    roster_counts_add({moved_from.grid_id: (0, -1)})
    change = {"household": [moved_from.household_number, holder.household.household_number]}
    for household in {moved_from.pk, holder.household_id}:
        RecordChange.objects.create(
            user=user, household_id=household, person=holder, source="reconcile", changes=change
        )
    audit_write(
        user=user,
        action="reconciliation.moved",
        obj=case,
        request=request,
        detail={"person": holder.pk, "merged": newcomer_id, "from": moved_from.pk},
    )
    return holder


def _fold_into_holder(*, user, case, newcomer: Person, holder: Person, request=None) -> Person:
    """A person followed up before they were on any roster (no household) is the holder of the
    number: the bare record folds into the holder, who stays where the roster has them. The
    holder is one the user sees (persons_visible_to), so always on a household roster."""
    _repoint_person(old=newcomer, new=holder)
    for field in ("phone",):
        if not getattr(holder, field) and getattr(newcomer, field):
            setattr(holder, field, getattr(newcomer, field))
    holder.save()
    newcomer_id = newcomer.pk
    newcomer.delete()
    RecordChange.objects.create(
        user=user,
        household_id=holder.household_id,
        person=holder,
        source="reconcile",
        changes={"merged": ["", str(newcomer_id)]},
    )
    audit_write(
        user=user,
        action="reconciliation.folded",
        obj=case,
        request=request,
        detail={"person": holder.pk, "merged": newcomer_id, "from": None},
    )
    return holder


def _repoint_person(*, old: Person, new: Person) -> None:
    """Every row that points at `old` points at `new` (checks, history, reconciliation cases,
    and whatever later apps link to a person): one person, one record."""
    for relation in Person._meta.related_objects:
        if relation.many_to_many:
            continue
        name = relation.field.name
        relation.related_model._base_manager.filter(**{name: old}).update(**{name: new})


@transaction.atomic
def reconciliation_correct(*, user, case_id: int, id_number: str, request=None) -> Person:
    """The number given was wrong: the person gets the corrected one (or none). A corrected
    number is checked like any other; if it too belongs to a record outside the jurisdiction,
    a new case takes this one's place."""
    case = _case_for_update(user, case_id)
    person = case.person
    data = person_data_clean(person, {"id_type": person.id_type, "id_number": id_number}, user=user)
    if data["id_number_held"] == case.id_number:
        raise ReconciliationRefused(_("this is the number that is being reconciled"))
    _reconciliation_close(case, user=user, status=ReconciliationStatus.CORRECTED)
    changes = _person_changes(
        person,
        {k: data[k] for k in ("id_type", "id_number", "id_number_held", "sex", "birth_date")},
    )
    person.save()
    if changes and person.household_id is not None:  # a bare person's change is in the audit
        RecordChange.objects.create(
            user=user,
            household=person.household,
            person=person,
            source="reconcile",
            changes=changes,
        )
    audit_write(user=user, action="reconciliation.corrected", obj=case, request=request)
    _reconciliation_track(
        user=user, person=person, source=case.source, request=request, area=case.area
    )
    return person


@transaction.atomic
def reconciliation_confirm(*, user, case_id: int, request=None) -> Person:
    """The number was right and the other record's was wrong (it has been corrected since): the
    person now carries the number."""
    case = _case_for_update(user, case_id)
    if not covers_every_record(user):
        # Whether a record elsewhere still carries the number must not be answered to them.
        raise ReconciliationRefused(
            _(
                "the command decides whether the number is free "
                "(its jurisdiction holds both records)"
            )
        )
    if Person.objects.filter(id_number=case.id_number).exists():
        raise ReconciliationRefused(_("another record still carries this number"))
    person = case.person
    person.id_number, person.id_number_held = case.id_number, None
    person.save(update_fields=["id_number", "id_number_held", "updated_at"])
    _reconciliation_close(case, user=user, status=ReconciliationStatus.CONFIRMED)
    audit_write(user=user, action="reconciliation.confirmed", obj=case, request=request)
    return person


def record_read(*, user, obj: Household | Person, via: str, request: HttpRequest | None = None):
    """A page or API answer showed a household's members or a person's full record: audited
    like a reveal (who, when, from where, which record, through which page), without values."""
    audit_write(
        user=user,
        action=f"{obj._meta.model_name}.read",
        obj=obj,
        request=request,
        detail={"via": via},
    )


def person_reveal(
    *, user, person_id: int, field: str, request: HttpRequest | None = None, purpose: str = ""
) -> str:
    """The full value of a masked identifier, for a role allowed to see it; always audited."""
    if field not in _MASKERS or not user.may_reveal(field):
        raise PermissionDenied
    person = access_person(user, person_id)
    audit_write(
        user=user, action=f"person.reveal.{field}", obj=person, request=request, purpose=purpose
    )
    value = person.shown_id_number if field == "id_number" else person.phone
    return value or ""
