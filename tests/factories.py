"""Test data builders. Areas form a real tree (paths set), persons carry valid ID numbers."""

import datetime
import itertools

import factory
from stdnum.cn import ric

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.registry.counts import roster_counts_add
from doorstep.registry.models import Household, Person

_serial = itertools.count(1)


def valid_id_number(
    *, birth: datetime.date = datetime.date(1990, 1, 1), region="500109", male=True, n=None
) -> str:
    """A resident ID number with a correct check digit; `n` makes it unique."""
    order = (n if n is not None else next(_serial)) % 500 * 2 + (1 if male else 0)
    body = f"{region}{birth:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


def unique_id_number() -> str:
    n = next(_serial)
    birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=n // 500)
    return valid_id_number(birth=birth, n=n)


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area

    code = factory.Sequence(lambda n: f"T{n:05d}")
    name = factory.Sequence(lambda n: f"区域{n}")
    level = AreaLevel.DISTRICT
    parent = None
    path = factory.LazyAttribute(lambda o: Area.path_for(parent=o.parent, code=o.code))


def area_tree(prefix: str = "") -> dict[str, Area]:
    """district D → streets S1, S2 → communities C1 (in S1), C2 (in S1), C3 (in S2) → grids."""
    d = AreaFactory(code=f"{prefix}D", name="北碚区", level=AreaLevel.DISTRICT)
    s1 = AreaFactory(code=f"{prefix}S1", name="天生街道", level=AreaLevel.STREET, parent=d)
    s2 = AreaFactory(code=f"{prefix}S2", name="朝阳街道", level=AreaLevel.STREET, parent=d)
    c1 = AreaFactory(code=f"{prefix}C1", name="状元社区", level=AreaLevel.COMMUNITY, parent=s1)
    c2 = AreaFactory(code=f"{prefix}C2", name="碚峡社区", level=AreaLevel.COMMUNITY, parent=s1)
    c3 = AreaFactory(code=f"{prefix}C3", name="新华社区", level=AreaLevel.COMMUNITY, parent=s2)
    g1 = AreaFactory(code=f"{prefix}G1", name="第1网格", level=AreaLevel.GRID, parent=c1)
    g2 = AreaFactory(code=f"{prefix}G2", name="第2网格", level=AreaLevel.GRID, parent=c1)
    g3 = AreaFactory(code=f"{prefix}G3", name="第1网格", level=AreaLevel.GRID, parent=c2)
    g4 = AreaFactory(code=f"{prefix}G4", name="第1网格", level=AreaLevel.GRID, parent=c3)
    return {
        "D": d,
        "S1": s1,
        "S2": s2,
        "C1": c1,
        "C2": c2,
        "C3": c3,
        "G1": g1,
        "G2": g2,
        "G3": g3,
        "G4": g4,
    }


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.COMMUNITY_ADMIN
    jurisdiction_area = None
    password = factory.PostGenerationMethodCall("set_password", "test-password-123")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class HouseholdFactory(factory.django.DjangoModelFactory):
    """Like every writer of the roster, it moves the grid's roster counts (registry/counts.py)."""

    class Meta:
        model = Household

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        household = super()._create(model_class, *args, **kwargs)
        roster_counts_add({household.grid_id: (1, 0)})
        return household

    grid = None
    household_number = factory.Sequence(lambda n: f"HH{n:06d}")
    road = "天生路"
    house_number = "2号"
    building = "1"
    unit = "1"
    room = factory.Sequence(lambda n: f"{n % 8 + 1}0{n % 4 + 1}")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        person = super()._create(model_class, *args, **kwargs)
        if person.household_id is not None:
            roster_counts_add({person.household.grid_id: (0, 1)})
        return person

    household = factory.SubFactory(HouseholdFactory)
    name = factory.Sequence(lambda n: f"张{n}")
    id_number = factory.LazyFunction(unique_id_number)
    birth_date = factory.LazyAttribute(
        lambda o: ric.get_birth_date(o.id_number) if o.id_number else None
    )
    sex = factory.LazyAttribute(
        lambda o: ("M" if int(o.id_number[16]) % 2 else "F") if o.id_number else ""
    )
    phone = factory.Sequence(lambda n: f"138{n:08d}")
    relation = "户主"


def open_district_campaign(commander: User, name: str = "全区拉网式摸排"):
    """A sweep over the commander's area, opened a day ago, due in two days."""
    from django.utils import timezone

    from doorstep.screening.services import campaign_create

    return campaign_create(
        user=commander,
        name=name,
        scope_area=commander.jurisdiction_area,
        starts_at=timezone.now() - datetime.timedelta(days=1),
        deadline=timezone.now() + datetime.timedelta(days=2),
    )
