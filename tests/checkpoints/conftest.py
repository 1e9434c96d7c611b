import datetime
import itertools
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.accounts.selectors import two_factor_required
from doorstep.checkpoints.matching import forget_indexes
from doorstep.checkpoints.models import Checkpoint, CheckpointKind, CheckpointOfficer
from doorstep.screening.models import RiskArea

from ..factories import HouseholdFactory, PersonFactory, UserFactory, valid_id_number
from ..two_factor import verify_session


@pytest.fixture
def roster(areas):
    """Three doors with distinct addresses: 状元社区 (C1), 碚峡社区 (C2), 新华社区 (C3)."""
    doors = {
        "C1": HouseholdFactory(
            grid=areas["G1"], road="天生路", house_number="12号", building="3", unit="2", room="501"
        ),
        "C2": HouseholdFactory(
            grid=areas["G3"], road="北京路", house_number="5号", building="1", unit="1", room="101"
        ),
        "C3": HouseholdFactory(
            grid=areas["G4"], road="中山路", house_number="8号", building="1", unit="1", room="101"
        ),
    }
    for key, household in doors.items():
        PersonFactory(household=household, name=f"住户{key}")
    forget_indexes()
    yield doors
    forget_indexes()


@pytest.fixture
def checkpoints(areas, roster):
    RiskArea.objects.create(name="湖北")
    first = Checkpoint.objects.create(
        district=areas["D"], code="K1", name="北碚收费站", kind=CheckpointKind.HIGHWAY_EXIT
    )
    second = Checkpoint.objects.create(
        district=areas["D"], code="K2", name="北碚火车站", kind=CheckpointKind.RAILWAY_STATION
    )
    return {"K1": first, "K2": second}


@pytest.fixture
def officer_for(checkpoints):
    def make(key: str = "K1"):
        user = UserFactory(role=Role.CHECKPOINT_OFFICER)
        CheckpointOfficer.objects.create(user=user, checkpoint=checkpoints[key])
        return user

    return make


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    if two_factor_required(user):
        verify_session(client, user)
    return client


_serial = itertools.count(1)


def occupant(**fields) -> dict:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "name": "李四",
        "id_number": valid_id_number(birth=datetime.date(1985, 5, 5), n=next(_serial)),
        "phone": "13912345678",
        "origin": "湖北武汉",
        "destination": "天生路12号3栋2单元501",
        "temperature": "36.5",
    }
    body.update(fields)
    return body


def passage(*occupants, **fields) -> dict:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "kind": "car",
        "plate": "渝A12345",
        "origin": "湖北武汉",
        "destination": "",
        "arrived_at": (timezone.now() - datetime.timedelta(minutes=5)).isoformat(),
        "occupants": list(occupants),
    }
    body.update(fields)
    return body


def post_json(client: Client, url: str, body: object):
    import json

    return client.post(url, json.dumps(body), content_type="application/json")
