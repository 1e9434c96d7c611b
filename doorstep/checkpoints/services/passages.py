"""Recording vehicles at a checkpoint, one or a batch: idempotent by the vehicle's client UUID
(the same body again is a duplicate, another body a conflict), the batch in one transaction;
the occupants are written by arrivals.py, a fever's referral opened once the batch is saved."""

import uuid
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest

from doorstep.accounts.models import User
from doorstep.core.db import sqlite_writer_turn
from doorstep.core.ratelimit import write_refused

from .. import selectors
from ..models import Checkpoint, VehiclePassage
from .arrivals import _occupants_write
from .errors import PassageConflict, PassageRejected
from .inputs import PassageInput, PassageResult
from .intake import _Vehicle, _vehicles_checked
from .referrals import _fever_referral


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
