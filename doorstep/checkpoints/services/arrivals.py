"""The occupants of the recorded vehicles: each new one's arrival (risk flags, route, match and
roster person), inserted together; an occupant's UUID already stored answered by that arrival
(a duplicate, or a conflict for that occupant alone); each risk arrival matched to a community
handed off (handoffs.py)."""

import uuid

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from doorstep.accounts.models import User
from doorstep.core.ratelimit import write_refused
from doorstep.registry.models import Person, PersonStatus

from ..matching import Match
from ..models import Arrival, Checkpoint, Purpose, Route, VehiclePassage
from .errors import PassageConflict
from .handoffs import _handoff_send
from .inputs import OccupantResult
from .intake import _CleanOccupant, _Vehicle


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
