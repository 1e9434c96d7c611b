"""Writes of the checkpoints: a vehicle and its occupants recorded (idempotent by client UUID,
each occupant on its own), and the handoff loop (send, join, accept, not found, re-route,
route by hand from the unmatched queue).

Every refusal writes nothing of what it refuses; a vehicle whose occupant is refused keeps its
other occupants. Followup is called through followup_link.py, and only from here.
"""

import dataclasses
import datetime
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import prefix_q, sqlite_writer_turn
from doorstep.core.ratelimit import write_refused
from doorstep.core.services import audit_write
from doorstep.followup.services import FollowupRefused
from doorstep.registry.models import IdType, Person, PersonStatus
from doorstep.registry.validation import (
    FieldError,
    normalize_id_number,
    validate_id,
    validate_phone,
)
from doorstep.screening.models import RiskArea
from doorstep.screening.rules import SYMPTOMS, AnswerError, matches_risk_area, parse_temperature

from . import followup_link, selectors
from .matching import Match, index_for_district
from .models import (
    Arrival,
    Checkpoint,
    Handoff,
    HandoffAction,
    HandoffEvent,
    HandoffStatus,
    MatchStatus,
    NotFoundReason,
    Purpose,
    Route,
    VehicleKind,
    VehiclePassage,
)


class PassageConflict(Exception):
    """The client UUID was used before with another body (HTTP 409)."""

    def __init__(self, what: str = "vehicle"):
        super().__init__(
            _("this client UUID was already used for a different %(what)s")
            % {"what": _("vehicle") if what == "vehicle" else _("occupant")}
        )


class PassageRejected(Exception):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


class HandoffClosed(Exception):
    """The handoff is no longer pending (someone else answered first) (HTTP 409)."""

    def __init__(self, handoff: Handoff):
        super().__init__(
            _("this handoff is already closed: %(status)s")
            % {"status": handoff.get_status_display()}
        )
        self.handoff = handoff


class HandoffRejected(Exception):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


def body_hash(payload: dict[str, object]) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class OccupantInput:
    client_uuid: uuid.UUID
    name: str
    id_type: str = IdType.RESIDENT_ID
    id_number: str = ""
    phone: str = ""
    origin: str = ""
    destination: str = ""
    purpose: str = Purpose.HOME
    temperature: str | None = None
    symptoms: tuple[str, ...] = ()
    left_origin_on: datetime.date | None = None
    destination_outside: bool = False

    def digest(self) -> str:
        # the fields as asdict() gives them (every value here is a plain one), without its
        # recursive deep copy: the stored body hashes of earlier sends must stay the same
        body: dict[str, object] = {f: getattr(self, f) for f in _OCCUPANT_FIELDS}
        body["client_uuid"] = str(self.client_uuid)
        body["symptoms"] = sorted(self.symptoms)
        return body_hash(body)


@dataclass(frozen=True)
class PassageInput:
    client_uuid: uuid.UUID
    kind: str
    arrived_at: datetime.datetime
    plate: str = ""
    origin: str = ""
    destination: str = ""
    occupants: tuple[OccupantInput, ...] = ()
    # The time as the officer typed it on the entry page ("" for now, "14:05"), when the server
    # turned it into `arrived_at`: the digest keeps what was typed, and the time is the one the
    # first record of this UUID fixed, so the same form sent again a minute later is the same
    # vehicle, not another body. None: the client sent the time itself (the API).
    arrived_at_typed: str | None = None

    def digest(self) -> str:
        # each occupant has its own UUID and digest; the typed time is in arrived_at below
        body: dict[str, object] = {f: getattr(self, f) for f in _PASSAGE_FIELDS}
        body["client_uuid"] = str(self.client_uuid)
        if self.arrived_at_typed is None:
            body["arrived_at"] = self.arrived_at.isoformat()
        else:
            body["arrived_at"] = "typed:" + self.arrived_at_typed.strip()
        return body_hash(body)


_OCCUPANT_FIELDS = tuple(f.name for f in dataclasses.fields(OccupantInput))
_PASSAGE_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(PassageInput)
    if f.name not in ("occupants", "arrived_at_typed")
)


@dataclass
class OccupantResult:
    index: int
    client_uuid: str
    status: str  # created | duplicate | conflict | rejected
    arrival_id: int | None = None
    error: str = ""
    field: str = ""
    flags: list[str] = dataclasses.field(default_factory=list)
    route: str = ""
    needs_completion: bool = False
    referral: bool = False  # a fever-clinic referral was opened for this arrival


@dataclass
class PassageResult:
    passage: VehiclePassage
    created: bool
    occupants: list[OccupantResult]


# -- recording a vehicle -----------------------------------------------------------------------
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


def passage_record(
    *,
    user: User,
    checkpoint: Checkpoint,
    passage: PassageInput,
    request: HttpRequest | None = None,
) -> PassageResult:
    """Record a vehicle and its occupants at the officer's checkpoint.

    Idempotent by client UUID, the vehicle's and each occupant's: the same UUID and body again
    is a duplicate (the first record answers); another body raises PassageConflict for the
    vehicle, or marks that occupant "conflict". An occupant with bad data (a wrong check digit,
    an impossible temperature) is refused alone, with its reason; the others are saved. An
    officer of another checkpoint gets Http404 and nothing is written.
    """
    (outcome,) = passages_record(
        user=user, checkpoint=checkpoint, passages=[passage], request=request
    )
    if isinstance(outcome, PassageConflict | PassageRejected):
        raise outcome
    return outcome


def passages_record(
    *,
    user: User,
    checkpoint: Checkpoint,
    passages: Sequence[PassageInput],
    request: HttpRequest | None = None,
) -> list[PassageResult | PassageConflict | PassageRejected]:
    """Record a batch of vehicles at the officer's checkpoint: each vehicle answers on its own
    (its result, or the PassageConflict / PassageRejected that passage_record would raise for
    it), with the rules of passage_record; the same vehicle twice in one batch is one vehicle.

    The batch is written in one transaction with a number of queries that does not grow with
    the number of vehicles: the stored vehicles and occupants of the batch's UUIDs are read
    once, the new ones inserted together. A vehicle refused (kind, time, another body under
    its UUID) is decided before anything is written, so it never takes the others with it. A
    risk arrival's handoff, and a fever's referral once the batch is saved, are made one
    arrival at a time as before (they are few, and each may join what the previous made)."""
    try:
        selectors.access_checkpoint_for_entry(user, checkpoint.pk)
    except Http404 as refusal:
        write_refused(request, reason=type(refusal).__name__)
        raise
    vehicles = _vehicles_checked(checkpoint, passages, request)
    live = [v for v in vehicles if v.refusal is None]
    if live:
        with sqlite_writer_turn(), transaction.atomic():
            _passages_write(user, checkpoint, live)
            _occupants_write(user, checkpoint, [v for v in live if v.refusal is None], request)
    outcomes: list[PassageResult | PassageConflict | PassageRejected] = []
    for vehicle in vehicles:
        if vehicle.refusal is not None:
            write_refused(request, reason=type(vehicle.refusal).__name__)
            outcomes.append(vehicle.refusal)
            continue
        assert vehicle.record is not None
        for result in vehicle.occupants:
            # A fever opens a referral once the arrival is saved; a retry of the same occupant
            # tries again when the first attempt opened none (follow-up refused it, or the
            # request died before): fever_referral answers the referral already open, or
            # opens it.
            if result.status in ("created", "duplicate") and "fever" in result.flags:
                result.referral = _fever_referral(user, result.arrival_id or 0, request)
        outcomes.append(PassageResult(vehicle.record, vehicle.created, vehicle.occupants))
    return outcomes


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


def _passages_locked(client_uuids: Sequence[uuid.UUID]) -> dict[uuid.UUID, VehiclePassage]:
    """The vehicles recorded under these UUIDs, locked until the transaction ends (a UUID
    whose concurrent first send has not committed yet is missing)."""
    rows = VehiclePassage.objects.select_for_update().filter(client_uuid__in=set(client_uuids))
    return {row.client_uuid: row for row in rows}


def _passages_write(user: User, checkpoint: Checkpoint, vehicles: list[_Vehicle]) -> None:
    """Each vehicle's record: the stored one of its UUID (a duplicate, or a conflict under
    another body or at another checkpoint), else a new one, the new ones inserted at once."""
    stored = _passages_locked([v.data.client_uuid for v in vehicles])
    new: dict[uuid.UUID, _Vehicle] = {}
    again: list[_Vehicle] = []  # a UUID that an earlier vehicle of this batch brings anew
    for vehicle in vehicles:
        passage = vehicle.data
        if passage.client_uuid in new:
            again.append(vehicle)
            continue
        existing = stored.get(passage.client_uuid)
        if existing is not None:
            if existing.checkpoint_id != checkpoint.pk or existing.body_hash != vehicle.digest:
                vehicle.refusal = PassageConflict("vehicle")
            else:
                vehicle.record = existing
            continue
        new[passage.client_uuid] = vehicle
        vehicle.record = VehiclePassage(
            checkpoint=checkpoint,
            client_uuid=passage.client_uuid,
            body_hash=vehicle.digest,
            plate=passage.plate.strip().upper()[:20],
            kind=passage.kind,
            origin=passage.origin[:100],
            destination=passage.destination[:200],
            arrived_at=passage.arrived_at,
            entered_by=user,
        )
    if new:
        try:
            with transaction.atomic():
                # in the order of the UUIDs: two batches inserting the same new vehicles
                # (on PostgreSQL) wait for each other instead of deadlocking
                VehiclePassage.objects.bulk_create(
                    sorted(
                        (v.record for v in new.values() if v.record),
                        key=lambda record: record.client_uuid,
                    )
                )
        except IntegrityError:
            # A send of one of these vehicles committed since they were read (a retry racing
            # the first send): each vehicle on its own, the same body answered with the
            # stored record, another body a conflict.
            for vehicle in new.values():
                _passage_write_one(user, checkpoint, vehicle)
        else:
            for vehicle in new.values():
                vehicle.created = True
    for vehicle in again:
        first = new[vehicle.data.client_uuid].record
        if first is not None and first.body_hash == vehicle.digest:
            vehicle.record = first
        elif first is not None:
            vehicle.refusal = PassageConflict("vehicle")
        else:  # the first was refused: what is stored under the UUID decides
            _passage_write_one(user, checkpoint, vehicle)


def _passage_write_one(user: User, checkpoint: Checkpoint, vehicle: _Vehicle) -> None:
    vehicle.record, vehicle.created = None, False
    try:
        vehicle.record, vehicle.created = _passage_write(
            user, checkpoint, vehicle.data, vehicle.digest
        )
    except PassageConflict as conflict:
        vehicle.refusal = conflict


def _passage_locked(client_uuid: uuid.UUID) -> VehiclePassage | None:
    """The vehicle recorded under this UUID, locked until the transaction ends (None while a
    concurrent first send has not committed it yet)."""
    return VehiclePassage.objects.select_for_update().filter(client_uuid=client_uuid).first()


def _passage_write(
    user: User, checkpoint: Checkpoint, passage: PassageInput, digest: str
) -> tuple[VehiclePassage, bool]:
    existing = _passage_locked(passage.client_uuid)
    if existing is not None:
        if existing.checkpoint_id != checkpoint.pk or existing.body_hash != digest:
            raise PassageConflict("vehicle")
        return existing, False
    try:
        with transaction.atomic():
            record = VehiclePassage.objects.create(
                checkpoint=checkpoint,
                client_uuid=passage.client_uuid,
                body_hash=digest,
                plate=passage.plate.strip().upper()[:20],
                kind=passage.kind,
                origin=passage.origin[:100],
                destination=passage.destination[:200],
                arrived_at=passage.arrived_at,
                entered_by=user,
            )
    except IntegrityError:
        # The same vehicle sent twice at once (a retry racing the first send): the other one
        # won. The same body is answered with the stored record; only another body is 409.
        existing = VehiclePassage.objects.filter(client_uuid=passage.client_uuid).first()
        if existing is None or existing.checkpoint_id != checkpoint.pk:
            raise PassageConflict("vehicle") from None
        if existing.body_hash != digest:
            raise PassageConflict("vehicle") from None
        return existing, False
    return record, True


def _occupants_write(
    user: User, checkpoint: Checkpoint, vehicles: list[_Vehicle], request: HttpRequest | None
) -> None:
    """The occupants of the recorded vehicles: the stored arrival of an occupant's UUID answers
    it (a duplicate, or a conflict under another body or in another vehicle), the others are
    inserted at once, then each risk arrival is handed off."""
    cleaned = [(v, i, clean, match) for v in vehicles for i, clean, match in v.cleaned]
    if not cleaned:
        return
    stored: dict[uuid.UUID, Arrival] = {
        a.client_uuid: a
        for a in Arrival.objects.filter(
            client_uuid__in={clean.data.client_uuid for _v, _i, clean, _m in cleaned}
        ).only("client_uuid", "passage", "body_hash", "risk_flags", "route", "needs_completion")
    }
    members = _roster_members(
        {m.household_id for _v, _i, _c, m in cleaned if m.status == "matched" and m.household_id}
    )
    fresh: list[tuple[Arrival, OccupantResult]] = []
    first_of: dict[uuid.UUID, OccupantResult] = {}  # the result of an occupant new in the batch
    again: list[tuple[OccupantResult, OccupantResult]] = []  # the same occupant sent again
    for vehicle, i, clean, match in cleaned:
        assert vehicle.record is not None
        result = vehicle.occupants[i]
        digest = clean.data.digest()
        existing = stored.get(clean.data.client_uuid)
        if existing is not None:
            _occupant_answer(existing, vehicle.record, digest, result, request)
            if existing.pk is None and result.status == "duplicate":
                again.append((result, first_of[clean.data.client_uuid]))
            continue
        arrival = _arrival_new(user, checkpoint, vehicle.record, clean, match, digest, members)
        stored[clean.data.client_uuid] = arrival
        first_of[clean.data.client_uuid] = result
        fresh.append((arrival, result))
        result.status = "created"
        result.flags, result.route = clean.flags, arrival.route
        result.needs_completion = clean.needs_completion
    if fresh:
        try:
            with transaction.atomic():
                Arrival.objects.bulk_create([arrival for arrival, _result in fresh])
        except IntegrityError:
            # An occupant's UUID stored by another send since it was read: each on its own.
            for arrival, result in fresh:
                _occupant_write_one(arrival, result, request)
        else:
            for arrival, result in fresh:
                result.arrival_id = arrival.pk
    for result, first in again:
        if first.arrival_id is None:  # the first turned out a conflict: so does this one
            _occupant_conflict(result, request)
        else:
            result.arrival_id = first.arrival_id
    for arrival, result in fresh:
        if result.status == "created" and arrival.route == Route.HANDED_OFF:
            assert arrival.community_id is not None
            _handoff_send(user=user, arrival=arrival, community_id=arrival.community_id)


def _occupant_answer(
    existing: Arrival,
    passage: VehiclePassage,
    digest: str,
    result: OccupantResult,
    request: HttpRequest | None,
) -> None:
    """An occupant whose UUID is stored: the same body in the same vehicle is a duplicate
    answered by the stored arrival; anything else a conflict for this occupant alone."""
    if existing.passage_id != passage.pk or existing.body_hash != digest:
        _occupant_conflict(result, request)
        return
    result.status, result.arrival_id = "duplicate", existing.pk
    result.flags, result.route = list(existing.risk_flags), existing.route
    result.needs_completion = existing.needs_completion


def _occupant_conflict(result: OccupantResult, request: HttpRequest | None) -> None:
    result.status, result.error = "conflict", str(PassageConflict("occupant"))
    result.arrival_id, result.flags, result.route, result.needs_completion = None, [], "", False
    write_refused(request, reason="occupant conflict")


def _occupant_write_one(
    arrival: Arrival, result: OccupantResult, request: HttpRequest | None
) -> None:
    """One occupant of a batch whose insert met a UUID stored meanwhile (on PostgreSQL: a
    concurrent send committed it), as passage_record once wrote each occupant."""
    for _attempt in range(3):
        existing = Arrival.objects.filter(client_uuid=arrival.client_uuid).first()
        if existing is not None:
            _occupant_answer(existing, arrival.passage, arrival.body_hash, result, request)
            return
        try:
            with transaction.atomic():
                arrival.save(force_insert=True)
        except IntegrityError:
            continue  # stored by another send a moment ago: answered by that one
        result.arrival_id = arrival.pk
        return
    raise RuntimeError("arrival: neither stored nor insertable")


def _arrival_new(
    user: User,
    checkpoint: Checkpoint,
    passage: VehiclePassage,
    clean: _CleanOccupant,
    match: Match,
    digest: str,
    members: dict[int, list[tuple[int, str | None, str]]],
) -> Arrival:
    """The arrival of a new occupant (not saved): its risk flags, its route and its match."""
    occupant = clean.data
    is_risk = bool(clean.flags)
    if occupant.purpose == Purpose.PASSING:
        route = Route.PASSING
    elif not is_risk:
        route = Route.NONE
    elif match.status == "matched":
        route = Route.HANDED_OFF
    elif match.status == "outside":
        route = Route.HANDED_OUT
    else:
        route = Route.UNMATCHED
    # A traveller passing through stays in no community: the destination's match is kept as
    # typed and read, but no community, door or roster person comes of it, so nobody's key
    # person and no referral (the checkpoint takes a fever to the clinic itself).
    community_id = (
        match.community_id if match.status == "matched" and route != Route.PASSING else None
    )
    return Arrival(
        passage=passage,
        checkpoint=checkpoint,
        client_uuid=occupant.client_uuid,
        body_hash=digest,
        name=occupant.name.strip()[:50],
        id_type=clean.id_type,
        id_number=clean.id_number,
        phone=clean.phone,
        origin=(occupant.origin or passage.origin)[:100],
        destination=(occupant.destination or passage.destination)[:200],
        purpose=occupant.purpose,
        temperature=clean.temperature,
        symptoms=sorted(occupant.symptoms),
        left_origin_on=occupant.left_origin_on,
        arrived_at=passage.arrived_at,
        needs_completion=clean.needs_completion,
        risk_flags=clean.flags,
        is_risk=is_risk,
        risk_area=clean.risk_area,
        route=route,
        match_status=match.status,
        match_method=match.method,
        match_confidence=match.confidence,
        match_candidates=match.candidates_json(),
        community_id=community_id,
        household_id=match.household_id if community_id else None,
        person_id=_roster_person(clean, match, members) if community_id else None,
        entered_by=user,
    )


def _roster_members(household_ids: set[int]) -> dict[int, list[tuple[int, str | None, str]]]:
    """The living persons of these households: (pk, ID number, name), by household."""
    members: dict[int, list[tuple[int, str | None, str]]] = {}
    if not household_ids:
        return members
    rows = (
        Person.objects.filter(household_id__in=household_ids, status=PersonStatus.ACTIVE)
        .order_by("pk")
        .values_list("household_id", "pk", "id_number", "name")
    )
    for household_id, pk, id_number, name in rows:
        members.setdefault(household_id, []).append((pk, id_number, name))
    return members


def _roster_person(
    clean: _CleanOccupant, match: Match, members: dict[int, list[tuple[int, str | None, str]]]
) -> int | None:
    """The roster person at the matched door, living here (a moved-out or deceased record is
    nobody coming home): by ID number, else by name, when one person there has it."""
    if match.household_id is None:
        return None
    living = members.get(match.household_id, [])
    if clean.id_number:
        for pk, id_number, _name in living:
            if id_number == clean.id_number:
                return pk
    name = clean.data.name.strip()
    named = [pk for pk, _id_number, other in living if other == name]
    return named[0] if len(named) == 1 else None


def _fever_referral(user: User, arrival_id: int, request: HttpRequest | None) -> bool:
    """A fever opens a referral at once (follow-up). The arrival is saved whatever follow-up
    answers: a refusal is audited and the arrival shows no referral."""
    try:
        return followup_link.fever_referral(user=user, arrival_id=arrival_id) is not None
    except FollowupRefused as refused:
        audit_write(
            user=user,
            action="arrival.referral_refused",
            object_type="checkpoints.arrival",
            object_id=arrival_id,
            request=request,
            detail={"field": refused.field},
        )
        return False


# -- the handoff loop ---------------------------------------------------------------------------
def person_key(arrival: Arrival) -> str:
    """Who a handoff is about: the ID number, else name and phone, else this arrival alone."""
    if arrival.id_number:
        return f"id:{arrival.id_number}"
    if arrival.phone:
        return f"np:{arrival.name}:{arrival.phone}"
    return f"arrival:{arrival.client_uuid}"


def _handoff_send(*, user: User, arrival: Arrival, community_id: int) -> Handoff:
    """A new handoff to the community, or the pending one of the same person to the same
    community, which this arrival joins (one pending handoff per person and community, held by
    a unique constraint). The person is found by the key (ID number, else name and phone), else
    by name at the matched household (`_pending_at_household`). A pending handoff of the person
    to another community is not joined: that community would never get this arrival, and would
    read the address given for this one."""
    key = person_key(arrival)
    now = timezone.now()
    for _attempt in range(3):
        pending = (
            Handoff.objects.select_for_update()
            .filter(person_key=key, community_id=community_id, status=HandoffStatus.PENDING)
            .first()
        ) or _pending_at_household(arrival, community_id)
        if pending is not None:
            Arrival.objects.filter(pk=arrival.pk).update(handoff=pending)
            arrival.handoff = pending
            HandoffEvent.objects.create(
                handoff=pending, action=HandoffAction.JOINED, user=user, arrival=arrival
            )
            return pending
        try:
            with transaction.atomic():
                handoff = Handoff.objects.create(
                    district=arrival.checkpoint.district,
                    community_id=community_id,
                    person_key=key,
                    received_at=now,
                    deadline=now + datetime.timedelta(hours=arrival.checkpoint.handoff_hours),
                    created_by=user,
                )
        except IntegrityError:
            continue  # another arrival of the same person made it a moment ago: join that one
        Arrival.objects.filter(pk=arrival.pk).update(handoff=handoff)
        arrival.handoff = handoff
        HandoffEvent.objects.create(
            handoff=handoff,
            action=HandoffAction.SENT,
            user=user,
            to_community_id=community_id,
            arrival=arrival,
        )
        return handoff
    raise RuntimeError("handoff: no pending handoff and none could be made")


def _pending_at_household(arrival: Arrival, community_id: int) -> Handoff | None:
    """The pending handoff of the same person found by name and door, for an arrival that its
    own key (ID number, or name and phone) finds none for: an occupant who gave neither ID
    number nor phone, or the person of a handoff opened without them coming again with one.

    Only where the destination pinned a household, to this community, and only one pending
    handoff there has an arrival of the same name at the same household. Never two people
    made one: not when the handoff holds another ID number, another roster person, or a
    phone of its own while this arrival carries another; not when the household's roster has
    two living persons of that name. A name alone never joins across households."""
    if arrival.household_id is None:
        return None
    name = arrival.name
    handoff_ids = set(
        Arrival.objects.filter(
            household_id=arrival.household_id,
            name=name,
            handoff__community_id=community_id,
            handoff__status=HandoffStatus.PENDING,
        )
        .exclude(pk=arrival.pk)
        .values_list("handoff_id", flat=True)
    )
    if len(handoff_ids) != 1:
        return None
    namesakes = Person.objects.filter(
        household_id=arrival.household_id, name=name, status=PersonStatus.ACTIVE
    ).count()
    if namesakes > 1:
        return None
    (handoff_id,) = handoff_ids
    others = Arrival.objects.filter(handoff_id=handoff_id).exclude(pk=arrival.pk)
    for other in others.only("id_number", "phone", "person_id"):
        if arrival.id_number and other.id_number and other.id_number != arrival.id_number:
            return None
        if arrival.person_id and other.person_id and other.person_id != arrival.person_id:
            return None
        if (
            not arrival.id_number
            and not other.id_number
            and arrival.phone
            and other.phone
            and other.phone != arrival.phone
        ):
            return None
    return (
        Handoff.objects.select_for_update()
        .filter(pk=handoff_id, community_id=community_id, status=HandoffStatus.PENDING)
        .first()
    )


def _late_seconds(handoff: Handoff, now: datetime.datetime) -> int | None:
    late = (now - handoff.deadline).total_seconds()
    return int(late) if late > 0 else None


def _close(
    *,
    user: User,
    handoff: Handoff,
    status: str,
    reason: str = "",
    note: str = "",
    request: HttpRequest | None,
) -> Handoff:
    """Pending → accepted / not found in one conditional UPDATE: of two workers answering at
    once, one closes it and the other is told it is closed (HandoffClosed)."""
    now = timezone.now()
    with sqlite_writer_turn(), transaction.atomic():
        changed = Handoff.objects.filter(
            pk=handoff.pk, status=HandoffStatus.PENDING, community_id=handoff.community_id
        ).update(
            status=status,
            closed_at=now,
            closed_by=user,
            late_seconds=_late_seconds(handoff, now),
            not_found_reason=reason,
            note=note[:300],
        )
        handoff.refresh_from_db()
        if not changed:
            raise HandoffClosed(handoff)
        HandoffEvent.objects.create(
            handoff=handoff,
            action=HandoffAction.ACCEPTED if status == HandoffStatus.ACCEPTED else status,
            user=user,
            from_community_id=handoff.community_id,
            reason=reason,
            note=note[:300],
        )
        audit_write(
            user=user,
            action=f"handoff.{status}",
            obj=handoff,
            request=request,
            detail={"late_seconds": handoff.late_seconds, "reason": reason},
        )
        if status == HandoffStatus.ACCEPTED:
            followup_link.handoff_accepted(user=user, handoff=handoff)
    return handoff


def _refusing(request: HttpRequest | None, error: Exception) -> None:
    write_refused(request, reason=type(error).__name__)


def handoff_accept(*, user: User, handoff_id: int, request: HttpRequest | None = None) -> Handoff:
    """The person was found: a key person of the community, monitored from the arrival date
    (follow-up). After the deadline it is still accepted; the lateness is kept. A refusal of
    follow-up leaves the handoff pending (HandoffRejected names the field)."""
    try:
        handoff = selectors.access_handoff_to_act(user, handoff_id)
        try:
            return _close(
                user=user, handoff=handoff, status=HandoffStatus.ACCEPTED, request=request
            )
        except FollowupRefused as refused:
            raise HandoffRejected(refused.message, refused.field) from None
    except (Http404, HandoffClosed, HandoffRejected) as error:
        _refusing(request, error)
        raise


def handoff_not_found(
    *,
    user: User,
    handoff_id: int,
    reason: str,
    note: str = "",
    request: HttpRequest | None = None,
) -> Handoff:
    """Wrong address, left the district, never arrived, other: with a note the checkpoint reads."""
    try:
        handoff = selectors.access_handoff_to_act(user, handoff_id)
        if reason not in NotFoundReason.values:
            raise HandoffRejected(_("choose why the person was not found"), "reason")
        if reason == NotFoundReason.OTHER and not note.strip():
            raise HandoffRejected(_("say what happened in the note"), "note")
        return _close(
            user=user,
            handoff=handoff,
            status=HandoffStatus.NOT_FOUND,
            reason=reason,
            note=note.strip(),
            request=request,
        )
    except (Http404, HandoffClosed, HandoffRejected) as error:
        _refusing(request, error)
        raise


def handoff_reroute(
    *,
    user: User,
    handoff_id: int,
    community_code: str,
    note: str = "",
    request: HttpRequest | None = None,
) -> Handoff:
    """Hand it on to the right community of the same district, which must accept in turn; its
    deadline starts again. A community outside the district is refused.

    If the target already has a pending handoff of this person (one per person and community),
    this handoff's arrivals and history join that one (a re-route event and one "joined" event
    per arrival; the target's deadline stands) and this emptied handoff is removed, closed as
    re-routed. The caller is answered alike either way (this handoff, waiting at the target
    from now, with its own arrivals): whether the target has records of the person is not the
    caller's to learn."""
    try:
        handoff = selectors.access_handoff_to_act(user, handoff_id)
        target = (
            Area.objects.filter(
                prefix_q("path", handoff.district.path),
                level=AreaLevel.COMMUNITY,
                code=community_code.strip(),
            )
            .exclude(pk=handoff.community_id)
            .first()
        )
        if target is None:
            raise HandoffRejected(
                _("re-route only to another community of this district"), "community"
            )
        now = timezone.now()
        deadline = now + datetime.timedelta(hours=_handoff_hours(handoff))
        origin_id = handoff.community_id
        with sqlite_writer_turn(), transaction.atomic():
            current = (
                Handoff.objects.select_for_update()
                .filter(pk=handoff.pk, status=HandoffStatus.PENDING, community_id=origin_id)
                .first()
            )
            if current is None:
                handoff.refresh_from_db()
                raise HandoffClosed(handoff)
            # the answer's arrivals, read before they may move
            prefetch_related_objects([handoff], "arrivals")
            waiting = _pending_handoff_of(current.person_key, target)
            if waiting is None:
                try:
                    with transaction.atomic():
                        Handoff.objects.filter(pk=current.pk).update(
                            community=target,
                            received_at=now,
                            deadline=deadline,
                            reroutes=current.reroutes + 1,
                        )
                except IntegrityError:  # the target's handoff of the person made a moment ago
                    waiting = _pending_handoff_of(current.person_key, target)
                    if waiting is None:
                        raise
            event = {
                "action": HandoffAction.REROUTED,
                "user": user,
                "from_community_id": origin_id,
                "to_community": target,
                "note": note.strip()[:300],
            }
            if waiting is None:
                Arrival.objects.filter(handoff=current).update(community=target)
                HandoffEvent.objects.create(handoff=current, **event)
                audit_write(user=user, action="handoff.rerouted", obj=current, request=request)
            else:
                _handoff_join(user=user, handoff=current, into=waiting, event=event)
                audit_write(
                    user=user,
                    action="handoff.rerouted",
                    obj=current,
                    request=request,
                    detail={"joined": waiting.pk},
                )
                Handoff.objects.filter(pk=current.pk).delete()
        # the same answer either way: waiting at the target from now, with its own arrivals
        handoff.community, handoff.community_id = target, target.pk
        handoff.received_at, handoff.deadline = now, deadline
        handoff.reroutes = current.reroutes + 1
        return handoff
    except (Http404, HandoffClosed, HandoffRejected) as error:
        _refusing(request, error)
        raise


def _pending_handoff_of(person_key: str, community: Area) -> Handoff | None:
    return (
        Handoff.objects.select_for_update()
        .filter(person_key=person_key, community=community, status=HandoffStatus.PENDING)
        .first()
    )


def _handoff_join(*, user: User, handoff: Handoff, into: Handoff, event: dict[str, object]) -> None:
    """A re-routed handoff joins the target's pending handoff of the same person: its
    arrivals and history move there, with the re-route and one "joined" event per arrival."""
    arrivals = list(Arrival.objects.filter(handoff=handoff).order_by("pk"))
    Arrival.objects.filter(handoff=handoff).update(handoff=into, community=into.community)
    HandoffEvent.objects.filter(handoff=handoff).update(handoff=into)
    HandoffEvent.objects.create(handoff=into, **event)
    HandoffEvent.objects.bulk_create(
        HandoffEvent(handoff=into, action=HandoffAction.JOINED, user=user, arrival=arrival)
        for arrival in arrivals
    )
    if into.key_person_id is None and handoff.key_person_id is not None:
        Handoff.objects.filter(pk=into.pk, key_person__isnull=True).update(
            key_person_id=handoff.key_person_id
        )


def _handoff_hours(handoff: Handoff) -> int:
    first = handoff.arrivals.select_related("checkpoint").order_by("pk").first()
    return first.checkpoint.handoff_hours if first is not None else 24


def unmatched_route(
    *,
    user: User,
    arrival_id: int,
    community_code: str,
    request: HttpRequest | None = None,
) -> Arrival:
    """Command staff route an unmatched arrival by hand to a community of the district."""
    try:
        arrival = selectors.access_unmatched(user, arrival_id)
        district = arrival.checkpoint.district
        target = Area.objects.filter(
            prefix_q("path", district.path), level=AreaLevel.COMMUNITY, code=community_code.strip()
        ).first()
        if target is None:
            raise HandoffRejected(_("choose a community of this district"), "community")
        with sqlite_writer_turn(), transaction.atomic():
            changed = Arrival.objects.filter(pk=arrival.pk, route=Route.UNMATCHED).update(
                route=Route.HANDED_OFF, match_status=MatchStatus.ROUTED, community=target
            )
            if not changed:
                raise Http404
            arrival.refresh_from_db()
            _handoff_send(user=user, arrival=arrival, community_id=target.pk)
            audit_write(user=user, action="arrival.routed", obj=arrival, request=request)
        if "fever" in arrival.risk_flags:
            _fever_referral(user, arrival.pk, request)
            arrival.refresh_from_db()
        return arrival
    except (Http404, HandoffRejected) as error:
        _refusing(request, error)
        raise


def occupants_from(rows: Sequence[dict[str, object]]) -> tuple[OccupantInput, ...]:
    """Helper for forms and tests: dicts → OccupantInput."""
    return tuple(OccupantInput(**row) for row in rows)  # type: ignore[arg-type]
