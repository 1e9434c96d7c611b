"""Demo checkpoints: four posts of the district with a day of arrivals through the real
services, and handoffs in every state (waiting, overdue, accepted, accepted late, not found for
each reason, re-routed), so `make run` shows the loop alive. Loading twice adds nothing."""

import datetime
import random
import uuid

from django.utils import timezone
from stdnum.cn import ric

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.checkpoints import services
from doorstep.checkpoints.matching import forget_indexes
from doorstep.checkpoints.models import (
    Arrival,
    Checkpoint,
    CheckpointKind,
    CheckpointOfficer,
    Handoff,
    HandoffAction,
    HandoffEvent,
    HandoffStatus,
    NotFoundReason,
)
from doorstep.core.db import prefix_q
from doorstep.registry.models import Household, Person
from doorstep.screening.models import RiskArea

POSTS = [
    ("CP-G75", "G75兰海高速北碚收费站", CheckpointKind.HIGHWAY_EXIT),
    ("CP-RAIL", "北碚火车站", CheckpointKind.RAILWAY_STATION),
    ("CP-BUS", "北碚汽车站", CheckpointKind.BUS_STATION),
    ("CP-ROAD", "合川方向省道卡口", CheckpointKind.NEIGHBOUR_ROAD),
]
ORIGINS = ["湖北武汉", "湖北孝感", "四川成都", "重庆渝中", "重庆江北", "贵州贵阳", "湖北黄冈"]
NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚"
# A visitor's ID number is issued where they come from (region codes python-stdnum knows).
REGION_OF_PROVINCE = {"湖北": "420102", "四川": "510104", "重庆": "500103", "贵州": "520102"}
# One occupant in this many left the ID card at home: kept, listed "to complete".
NO_ID_CARD_ONE_IN = 25


class _Travellers:
    """Who sits in the demo's cars: residents of the roster coming home (their own name, ID
    number and phone, so the arrival finds its roster person), and visitors and travellers
    passing through with ID numbers valid for where they come from, each person once."""

    def __init__(self, rnd: random.Random, homes: list[Household]):
        self.rnd = rnd
        members: dict[int, list[Person]] = {}
        for person in Person.objects.filter(household__in=homes).order_by("pk"):
            if person.household_id is not None:
                members.setdefault(person.household_id, []).append(person)
        self.members = members
        self.used: set[str] = set()

    def resident(self, home: Household) -> Person | None:
        free = [
            p for p in self.members.get(home.pk, []) if p.id_number and p.id_number not in self.used
        ]
        if not free:
            return None
        person = self.rnd.choice(free)
        self.used.add(person.id_number or "")
        return person

    def visitor_number(self, origin: str) -> str:
        region = REGION_OF_PROVINCE.get(origin[:2], "420102")
        while True:
            birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=self.rnd.randrange(22000))
            order = self.rnd.randrange(1000)
            body = f"{region}{birth:%Y%m%d}{order:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.used:
                self.used.add(number)
                return number

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rnd.getrandbits(128), version=4)


def _variant(household: Household, rnd: random.Random) -> str:
    """The household's address as people type it."""
    number = household.house_number.rstrip("号")
    forms = [
        f"{household.road}{number}号{household.building}栋{household.unit}单元{household.room}",
        f"北碚区{household.road}{number}号{household.building}-{household.unit}-{household.room}",
        f"{household.road}{number}号{household.building}幢{household.unit}单元{household.room}室",
        f"重庆市北碚区{household.road}{number}号{household.building}号楼{household.unit}单元",
    ]
    return rnd.choice(forms)


def demo_checkpoints_create(*, district: Area, password: str, seed: int = 7) -> int:
    """Checkpoints, the demo officer's post, a day of arrivals and handoffs. Returns how many
    arrivals were recorded (0 when they exist already)."""
    if Checkpoint.objects.filter(code=POSTS[0][0]).exists():
        return 0
    rnd = random.Random(seed)
    RiskArea.objects.get_or_create(name="湖北")
    posts = [
        Checkpoint.objects.create(district=district, code=code, name=name, kind=kind)
        for code, name, kind in POSTS
    ]
    officers = []
    for i, post in enumerate(posts):
        username = "checkpoint" if i == 0 else f"checkpoint{i + 1}"
        user, _created = User.objects.get_or_create(
            username=username,
            defaults={"role": Role.CHECKPOINT_OFFICER, "full_name": f"{post.name}执勤员"},
        )
        if _created:
            user.set_password(password)
            user.save()
        CheckpointOfficer.objects.get_or_create(user=user, defaults={"checkpoint": post})
        officers.append(user)
    community = (
        Area.objects.filter(prefix_q("path", district.path), level=AreaLevel.COMMUNITY)
        .order_by("code")
        .first()
    )
    assert community is not None
    homes = list(
        Household.objects.filter(prefix_q("grid__path", community.path)).order_by("pk")[:400]
    )
    elsewhere = list(
        Household.objects.filter(prefix_q("grid__path", district.path))
        .exclude(prefix_q("grid__path", community.path))
        .order_by("pk")[:2000]
    )
    others = sorted(rnd.sample(elsewhere, min(200, len(elsewhere))), key=lambda h: h.pk)
    travellers = _Travellers(rnd, homes + others)
    forget_indexes()
    start = timezone.now() - datetime.timedelta(hours=23)
    recorded = 0
    for n in range(80):
        at = n % len(posts)
        arrived = start + datetime.timedelta(minutes=17 * n)
        origin = rnd.choice(ORIGINS)
        occupants = []
        for _k in range(rnd.choice([1, 1, 2, 3, 4])):
            home = rnd.choice(homes if rnd.random() < 0.7 or not others else others)
            roll = rnd.random()
            destination = _variant(home, rnd)
            purpose = "home"
            if roll < 0.06:
                destination = "江北区观音桥步行街88号"
            elif roll < 0.1:
                destination = "亲戚家附近的那个小卖部"
            elif roll < 0.16:
                purpose = "passing"
            resident = travellers.resident(home) if purpose == "home" and roll >= 0.1 else None
            if resident is not None:  # coming home: as the roster knows them
                name, id_number = resident.name, resident.id_number or ""
                phone = resident.phone or f"139{rnd.randrange(10**8):08d}"
            else:
                name = rnd.choice(NAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN)
                id_number = travellers.visitor_number(origin)
                phone = f"139{rnd.randrange(10**8):08d}" if rnd.random() < 0.9 else ""
                purpose = "visit" if purpose == "home" and roll >= 0.1 else purpose
            if rnd.randrange(NO_ID_CARD_ONE_IN) == 0:
                id_number = ""
            occupants.append(
                services.OccupantInput(
                    client_uuid=travellers.uuid(),
                    name=name,
                    id_number=id_number,
                    phone=phone,
                    origin=origin,
                    destination=destination,
                    purpose=purpose,
                    temperature=rnd.choice(["36.4", "36.6", "36.8", "37.0", "37.6", "38.2"]),
                    symptoms=("cough",) if rnd.random() < 0.05 else (),
                )
            )
        result = services.passage_record(
            user=officers[at],
            checkpoint=posts[at],
            passage=services.PassageInput(
                client_uuid=travellers.uuid(),
                kind=rnd.choice(["car", "car", "bus", "truck"]),
                plate=f"渝{rnd.choice('ABCDG')}{rnd.randrange(10**5):05d}",
                arrived_at=arrived,
                origin=origin,
                occupants=tuple(occupants),
            ),
        )
        recorded += sum(1 for o in result.occupants if o.status == "created")
    _typed_when_they_arrived()
    _close_some(community)
    return recorded


def _typed_when_they_arrived() -> None:
    """The demo records a day of arrivals in one go; as at a real checkpoint, each was typed
    a few minutes after the car stopped and handed off then (the brief reads these times)."""
    typed_after = datetime.timedelta(minutes=3)
    for arrival in Arrival.objects.only("pk", "arrived_at"):
        Arrival.objects.filter(pk=arrival.pk).update(created_at=arrival.arrived_at + typed_after)
    for handoff in Handoff.objects.all():
        first = handoff.arrivals.order_by("arrived_at").values_list("arrived_at", flat=True)[:1]
        if not first:
            continue
        sent = first[0] + typed_after
        hours = handoff.deadline - handoff.received_at
        Handoff.objects.filter(pk=handoff.pk).update(received_at=sent, deadline=sent + hours)
        for event in handoff.events.filter(action__in=[HandoffAction.SENT, HandoffAction.JOINED]):
            at = sent
            if event.action == HandoffAction.JOINED and event.arrival_id:
                at = Arrival.objects.get(pk=event.arrival_id).arrived_at + typed_after
            HandoffEvent.objects.filter(pk=event.pk).update(at=at)


def _close_some(community: Area) -> None:
    """Handoffs of the demo community in every state, answered by its admin."""
    admin = User.objects.filter(role=Role.COMMUNITY_ADMIN, jurisdiction_area=community).first()
    pending = list(
        Handoff.objects.filter(community=community, status=HandoffStatus.PENDING).order_by("pk")
    )
    if admin is None or len(pending) < 12:
        return
    now = timezone.now()
    # a day's handoffs are of different ages: the first ones are past their deadline
    for i, handoff in enumerate(pending):
        received = now - datetime.timedelta(hours=30 - i)
        Handoff.objects.filter(pk=handoff.pk).update(
            received_at=received, deadline=received + datetime.timedelta(hours=24)
        )
        HandoffEvent.objects.filter(handoff=handoff, action=HandoffAction.SENT).update(at=received)
    services.handoff_accept(user=admin, handoff_id=pending[0].pk)  # late
    services.handoff_accept(user=admin, handoff_id=pending[10].pk)
    services.handoff_accept(user=admin, handoff_id=pending[11].pk)
    for handoff, reason in zip(pending[3:7], NotFoundReason.values, strict=True):
        services.handoff_not_found(
            user=admin,
            handoff_id=handoff.pk,
            reason=reason,
            note="" if reason != NotFoundReason.OTHER else "门牌不存在，电话无人接听",
        )
    others = Area.objects.filter(level=AreaLevel.COMMUNITY).exclude(pk=community.pk)
    district_path = community.path.split("/")[1]
    target = (
        others.filter(parent=community.parent).first()
        or others.filter(path__startswith=f"/{district_path}/").order_by("path").first()
    )
    if target is not None:
        services.handoff_reroute(
            user=admin, handoff_id=pending[7].pk, community_code=target.code, note="实际住隔壁社区"
        )
