"""Evening entry: a person found at the door and written on a "(new)" row of the paper form can
be typed in at night too (before, the page had no row for them and they were lost)."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.registry.models import Person
from doorstep.screening.models import PersonCheck, Visit


@pytest.fixture
def admin_client(client_for):
    return client_for(Role.COMMUNITY_ADMIN, "C1")


def entry_url(campaign):
    return reverse("screening:entry", args=[campaign.pk])


def household_page(client, campaign, number="HN-G2") -> str:
    return client.get(
        reverse("screening:entry_household", args=[campaign.pk]), {"number": number}
    ).content.decode()


def typed(body: str) -> dict:
    day = timezone.localdate() - datetime.timedelta(days=1)
    data = {
        "household_id": re.search(r'name="household_id" value="([^"]+)"', body).group(1),
        "outcome": "screened",
        "visited_at": f"{day:%Y-%m-%d} 09:30",
        "notes": "",
    }
    for key in re.findall(r'name="(p\d+)-temperature"', body):
        data[f"{key}-temperature"] = "36.5"
        data[f"{key}-presence"] = "present"
    return data


def test_the_new_rows_are_there_folded_away(admin_client, campaign, households):
    body = household_page(admin_client, campaign)
    folded = re.search(r'<details id="entry-newcomers"[^>]*>', body).group(0)
    assert " open" not in folded  # out of the Enter and "365" paths of an all-roster form
    assert 'name="n0-name"' in body and 'name="n0-temperature"' in body
    assert 'name="n1-name"' in body


def test_a_person_found_at_the_door_is_typed_in_and_added_new(admin_client, campaign, households):
    # given the paper form of G2 with one "(new)" row filled in
    data = typed(household_page(admin_client, campaign))
    data.update(
        {
            "n0-name": "新来的",
            "n0-relation": "租客",
            "n0-temperature": "36.7",
            "n0-presence": "present",
        }
    )
    # when it is saved
    response = admin_client.post(entry_url(campaign), data, HTTP_HX_REQUEST="true")
    # then the person is on the roster, flagged new, with their check in the visit
    assert 'id="entry-saved"' in response.content.decode()
    newcomer = Person.objects.get(name="新来的")
    assert newcomer.is_new and newcomer.household == households["G2"]
    assert newcomer.relation == "租客"
    visit = Visit.objects.get()
    assert visit.checks.count() == 3
    assert str(PersonCheck.objects.get(person=newcomer).temperature) == "36.7"


def test_a_newcomer_without_a_temperature_comes_back_open_with_the_error(
    admin_client, campaign, households
):
    data = typed(household_page(admin_client, campaign))
    data.update({"n0-name": "新来的", "n0-presence": "present"})
    response = admin_client.post(entry_url(campaign), data)
    body = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'<details id="entry-newcomers" open>', body)
    assert 'value="新来的"' in body and 'id="n0-temperature-error"' in body
    assert Visit.objects.count() == 0 and not Person.objects.filter(name="新来的").exists()
