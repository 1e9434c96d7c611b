"""What a vehicle sent from a checkpoint carries (its occupants, each with its own client UUID
and body digest), and what the vehicle and each occupant are answered."""

import dataclasses
import datetime
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from doorstep.registry.models import IdType

from ..models import Purpose, VehiclePassage


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


def occupants_from(rows: Sequence[dict[str, object]]) -> tuple[OccupantInput, ...]:
    """Helper for forms and tests: dicts → OccupantInput."""
    return tuple(OccupantInput(**row) for row in rows)  # type: ignore[arg-type]
