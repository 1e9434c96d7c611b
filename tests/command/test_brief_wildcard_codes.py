"""An area code may hold `_` or `%`, LIKE's wildcards: the brief of a street `S_` must not count or
list the households of its neighbour `SX`, whose path `/D/SX/` the pattern `/D/S_/%` would match."""

import datetime
import uuid

from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.areas.models import AreaLevel
from doorstep.registry.models import Household
from doorstep.screening.services import VisitInput, campaign_create, visit_record
from tests.factories import AreaFactory, HouseholdFactory, PersonFactory


def test_a_street_with_an_underscore_in_its_code_sees_only_its_own_households(
    areas, user_for, client_for
):
    # given two streets of one district whose codes a LIKE pattern confuses: S_ and SX,
    # one household in S_ and three in SX
    for street in ("S_", "SX"):
        areas[street] = AreaFactory(
            code=street, name=f"街道{street}", level=AreaLevel.STREET, parent=areas["D"]
        )
        areas[f"C{street}"] = AreaFactory(
            code=f"C{street}", name="社区", level=AreaLevel.COMMUNITY, parent=areas[street]
        )
        areas[f"G{street}"] = AreaFactory(
            code=f"G{street}", name="第1网格", level=AreaLevel.GRID, parent=areas[f"C{street}"]
        )
    own = HouseholdFactory(grid=areas["GS_"], household_number="OWN-1")
    PersonFactory(household=own)
    others = []
    for n in range(3):
        other = HouseholdFactory(grid=areas["GSX"], household_number=f"OTHER-{n}")
        PersonFactory(household=other)
        others.append(other)
    commander = user_for(Role.COMMAND, "D")
    start = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
    campaign = campaign_create(
        user=commander,
        name="全区拉网式摸排",
        scope_area=areas["D"],
        starts_at=start - datetime.timedelta(days=3),
        deadline=start + datetime.timedelta(days=3),
    )
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    visited = timezone.make_aware(datetime.datetime.combine(yesterday, datetime.time(10, 0)))
    for household in [own, *others]:
        visit_record(
            user=commander,
            campaign=campaign,
            visit=VisitInput(
                household_id=household.pk,
                outcome="not_home",
                visited_at=visited,
                client_uuid=uuid.uuid4(),
                person_checks=[],
            ),
        )
    client = client_for(Role.STREET_ADMIN, "S_")
    section = f"sweep.{campaign.pk}"

    # when the S_ street admin opens yesterday's brief and the list behind its households
    page = client.get(reverse("command:brief"), {"date": yesterday.isoformat()})
    listed = client.get(
        reverse("command:brief_list"),
        {"area": "S_", "date": yesterday.isoformat(), "section": section, "list": "all"},
    )

    # then both hold S_'s one household and none of SX's
    assert page.status_code == 200 and page.context["area"] == areas["S_"]
    figures = {r["key"]: r for r in page.context["sections"][0]["rows"]}
    assert int(figures["households"]["value"]) == 1
    assert listed.status_code == 200
    assert [row.label for row in listed.context["rows"]] == ["OWN-1"]
    text = listed.content.decode()
    assert all(h.household_number not in text for h in others)
    # and nothing was written by reading
    assert Household.objects.count() == 4
