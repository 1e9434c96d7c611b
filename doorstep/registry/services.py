"""Writes to the roster. Every edit leaves a RecordChange (who, when, old → new, masked) and an
audit event; every reveal of a full ID number or phone is audited."""

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from doorstep.core.masking import is_masked, mask_id_number, mask_phone
from doorstep.core.services import audit_write

from .models import Household, IdType, Person, RecordChange
from .selectors import access_household, access_person
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


def person_data_clean(person: Person | None, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a person's fields; a masked identifier sent back keeps the stored value."""
    data = dict(data)
    for field in ("id_number", "phone"):
        if person is not None and is_masked(data.get(field)):
            data[field] = getattr(person, field)
    id_type = data.get("id_type") or (person.id_type if person else IdType.RESIDENT_ID)
    number = (data.get("id_number") or "").strip().upper()
    try:
        id_type, number, birth = validate_id(id_type, number)
        data["birth_date"] = validate_birth_date(data.get("birth_date"))
    except FieldError as error:
        raise ValidationError({error.field: error.message}) from None
    data["id_type"], data["id_number"] = id_type, number
    if birth is not None:
        data["birth_date"] = birth
        data["sex"] = sex_from_resident_id(number)
    if number:
        clash = Person.objects.filter(id_number=number)
        if person is not None:
            clash = clash.exclude(pk=person.pk)
        if clash.exists():
            raise ValidationError(
                {"id_number": _("this ID number already belongs to a person of another household")}
            )
    return data


@transaction.atomic
def person_update(
    *, user, person_id: int, data: dict[str, Any], request: HttpRequest | None = None
) -> Person:
    if not user.manages_roster:
        raise PermissionDenied
    person = access_person(user, person_id)
    data = person_data_clean(person, data)
    changes = diff_fields(person, data, PERSON_FIELDS)
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
    return person


@transaction.atomic
def person_create(
    *, user, household_id: int, data: dict[str, Any], request: HttpRequest | None = None
) -> Person:
    if not user.manages_roster:
        raise PermissionDenied
    household = access_household(user, household_id)
    data = person_data_clean(None, data)
    person = Person(household=household)
    changes = diff_fields(person, data, PERSON_FIELDS)
    person.save()
    RecordChange.objects.create(
        user=user,
        household=household,
        person=person,
        source="edit",
        changes={field: [None, new] for field, (_old, new) in changes.items()},
    )
    audit_write(user=user, action="person.create", obj=person, request=request)
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
    return getattr(person, field) or ""
