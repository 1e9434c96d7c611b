"""A batch's vehicles checked before anything is written: each vehicle's kind and time (a
retry keeps the time its first record fixed), each occupant checked on its own (refused
alone, naming the field) and flagged for risk, and its destination matched."""

import dataclasses
import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.core.ratelimit import write_refused
from doorstep.registry.models import IdType
from doorstep.registry.validation import (
    FieldError,
    normalize_id_number,
    validate_id,
    validate_phone,
)
from doorstep.screening.models import RiskArea
from doorstep.screening.rules import SYMPTOMS, AnswerError, matches_risk_area, parse_temperature

from ..matching import Match, index_for_district
from ..models import Checkpoint, Purpose, VehicleKind, VehiclePassage
from .errors import PassageConflict, PassageRejected
from .inputs import OccupantInput, OccupantResult, PassageInput


def _risk_area_names() -> list[str]:
    return list(RiskArea.objects.filter(active=True).values_list("name", flat=True))


@dataclass
class _CleanOccupant:
    data: OccupantInput
    id_type: str
    id_number: str | None
    phone: str
    temperature: Decimal | None
    flags: list[str]
    risk_area: str
    needs_completion: bool


def _occupant_clean(
    occupant: OccupantInput,
    *,
    checkpoint: Checkpoint,
    passage: PassageInput,
    risk_areas: list[str],
) -> _CleanOccupant:
    """Checks one occupant; raises PassageRejected naming the field."""
    if not occupant.name.strip():
        raise PassageRejected(_("name is missing"), "name")
    number = normalize_id_number(occupant.id_number)
    try:
        id_type, id_number = occupant.id_type or IdType.RESIDENT_ID, None
        if number:  # a missing number is kept and flagged for completion, not refused
            id_type, id_number, _birth = validate_id(id_type, number)
        phone = validate_phone(occupant.phone)
        temperature = parse_temperature(occupant.temperature)
    except (FieldError, AnswerError) as error:
        raise PassageRejected(error.message, error.field) from None
    unknown = [s for s in occupant.symptoms if s not in SYMPTOMS]
    if unknown:
        raise PassageRejected(_("unknown symptom “%(v)s”") % {"v": ", ".join(unknown)}, "symptoms")
    if occupant.purpose not in Purpose.values:
        raise PassageRejected(_("unknown purpose “%(v)s”") % {"v": occupant.purpose}, "purpose")
    arrived_on = timezone.localdate(passage.arrived_at)
    if occupant.left_origin_on and occupant.left_origin_on > arrived_on:
        raise PassageRejected(_("left the origin after arriving"), "left_origin_on")
    flags = []
    if temperature is not None and temperature >= checkpoint.fever_threshold:
        flags.append("fever")
    if occupant.symptoms:
        flags.append("symptoms")
    origin = occupant.origin or passage.origin
    risk_area = matches_risk_area(origin, risk_areas) or ""
    # Day 0 is the day the person left the risk area; "14 days" ends at the end of day 14.
    if risk_area and (
        occupant.left_origin_on is None
        or (arrived_on - occupant.left_origin_on).days <= checkpoint.lookback_days
    ):
        flags.append("risk_area")
    else:
        risk_area = ""
    return _CleanOccupant(
        data=occupant,
        id_type=id_type,
        id_number=id_number,
        phone=phone,
        temperature=temperature,
        flags=flags,
        risk_area=risk_area,
        needs_completion=id_number is None or not phone,
    )


@dataclass
class _Vehicle:
    """One vehicle of a batch on its way through: what was sent, its occupants checked and
    matched, and what became of it (its record, or why it was refused)."""

    data: PassageInput
    digest: str = ""
    occupants: list[OccupantResult] = dataclasses.field(default_factory=list)
    cleaned: list[tuple[int, _CleanOccupant, Match]] = dataclasses.field(default_factory=list)
    record: VehiclePassage | None = None
    created: bool = False
    refusal: PassageConflict | PassageRejected | None = None


def _vehicles_checked(
    checkpoint: Checkpoint, passages: Sequence[PassageInput], request: HttpRequest | None
) -> list[_Vehicle]:
    """Everything that needs no write: the vehicles' own checks, a retry's time, and each
    occupant checked (refused alone) and its destination matched."""
    # a retry: the time is the one the first record of the UUID fixed
    first_times = {
        (client_uuid, digest): arrived_at
        for client_uuid, digest, arrived_at in VehiclePassage.objects.filter(
            client_uuid__in={p.client_uuid for p in passages}, checkpoint=checkpoint
        ).values_list("client_uuid", "body_hash", "arrived_at")
    }
    now = timezone.now()
    risk_areas: list[str] | None = None
    index = None
    vehicles = []
    for passage in passages:
        vehicle = _Vehicle(data=passage)
        vehicles.append(vehicle)
        if passage.kind not in VehicleKind.values:
            vehicle.refusal = PassageRejected(
                _("unknown vehicle kind “%(v)s”") % {"v": passage.kind}, "kind"
            )
            continue
        vehicle.digest = passage.digest()
        first_time = first_times.get((passage.client_uuid, vehicle.digest))
        if first_time is not None:
            passage = vehicle.data = dataclasses.replace(passage, arrived_at=first_time)
        elif passage.arrived_at > now + datetime.timedelta(minutes=10):
            vehicle.refusal = PassageRejected(_("arrival time is in the future"), "arrived_at")
            continue
        if risk_areas is None or index is None:
            risk_areas = _risk_area_names()
            index = index_for_district(checkpoint.district)
        seen: set[uuid.UUID] = set()
        for i, occupant in enumerate(passage.occupants):
            result = OccupantResult(index=i, client_uuid=str(occupant.client_uuid), status="")
            vehicle.occupants.append(result)
            if occupant.client_uuid in seen:
                result.status, result.error = "rejected", _("this occupant appears twice")
                continue
            seen.add(occupant.client_uuid)
            try:
                clean = _occupant_clean(
                    occupant, checkpoint=checkpoint, passage=passage, risk_areas=risk_areas
                )
            except PassageRejected as rejected:
                result.status, result.error = "rejected", rejected.message
                result.field = rejected.field
                write_refused(request, reason=f"occupant {rejected.field}")
                continue
            destination = occupant.destination or passage.destination
            match = index.match(destination, outside=occupant.destination_outside)
            vehicle.cleaned.append((i, clean, match))
    return vehicles
