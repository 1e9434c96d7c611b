"""No search oracle: a search box must not confirm a number digit by digit. ID numbers and
phones match only whole; any part of one finds nothing, in the page, its htmx fragment and the
selector behind them. Lists are paginated."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorstep.accounts.models import Role
from doorstep.registry.models import Person
from doorstep.registry.selectors import household_search
from doorstep.registry.views import PAGE_SIZE
from tests.factories import HouseholdFactory, PersonFactory


def found(client, query: str) -> bool:
    body = client.post(
        reverse("registry:household_list"), {"q": query}, HTTP_HX_REQUEST="true"
    ).content.decode()
    return "HN-G1" in body


def test_whole_numbers_find_the_household(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    person = households["G1"].persons.first()
    assert found(client, person.id_number)
    assert found(client, person.id_number.lower())  # a lower-case check character X
    assert found(client, person.phone)
    assert found(client, f"{person.phone[:3]} {person.phone[3:7]} {person.phone[7:]}")


def test_parts_of_numbers_find_nothing(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    person = households["G1"].persons.first()
    number, phone = person.id_number, person.phone
    pieces = [
        number[:6],  # region
        number[6:14],  # birth date
        number[:17],  # all but the check character
        number[-4:],
        number[:10] + "*" * 4 + number[14:],  # a masked form
        "%" + number[-6:],
        number[:-1] + "_",
        phone[:7],
        phone[-4:],
        phone[:3] + "****" + phone[7:],
    ]
    for piece in pieces:
        assert not found(client, piece), piece


@pytest.mark.django_db
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_proper_part_of_an_id_number_or_phone_matches(areas, user_for, data):
    user = user_for(Role.COMMUNITY_ADMIN, "C1")
    if not Person.objects.filter(household__household_number="ORACLE").exists():
        PersonFactory(household=HouseholdFactory(grid=areas["G1"], household_number="ORACLE"))
    person = Person.objects.get(household__household_number="ORACLE")
    value = data.draw(st.sampled_from([person.id_number, person.phone]))
    start = data.draw(st.integers(0, len(value) - 1))
    end = data.draw(st.integers(start + 1, len(value)))
    piece = value[start:end]
    if piece == value:
        return
    assert not household_search(user, query=piece).filter(household_number="ORACLE").exists()


def test_the_household_list_is_paginated(client_for, areas):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    for n in range(PAGE_SIZE + 5):
        HouseholdFactory(grid=areas["G1"], household_number=f"P-{n:03d}")
    first = client.get(reverse("registry:household_list")).content.decode()
    second = client.get(reverse("registry:household_list"), {"page": 2}).content.decode()
    assert first.count("P-0") == PAGE_SIZE
    assert second.count("P-0") == 5
