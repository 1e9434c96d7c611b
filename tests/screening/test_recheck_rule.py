"""The second temperature reading, in one place (rules.deciding_reading / needs_recheck): it
decides the fever flag and it is the reading every page, export and feedback shows; a bad second
reading is named on its own field; "未测体温" means not measured; the page's script takes the
accepted readings from the server."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from doorstep.accounts.models import Role
from doorstep.screening import exports
from doorstep.screening.models import PersonCheck, Visit
from doorstep.screening.rules import (
    TEMPERATURE_RANGE,
    AnswerError,
    PersonCheckInput,
    deciding_reading,
    needs_recheck,
    split_not_measured,
    validate_check,
)
from doorstep.screening.services import visit_record

from .conftest import screened

TODAY = datetime.date(2020, 2, 3)


def test_the_second_reading_decides_and_the_first_counts_without_one():
    assert deciding_reading(Decimal("38.4"), Decimal("36.9")) == Decimal("36.9")
    assert deciding_reading(Decimal("38.4"), None) == Decimal("38.4")
    assert deciding_reading(None, None) is None


def test_a_reading_at_the_threshold_needs_a_second():
    threshold = Decimal("37.3")
    assert needs_recheck(Decimal("37.3"), threshold) and needs_recheck(Decimal("39"), threshold)
    assert not needs_recheck(Decimal("37.2"), threshold) and not needs_recheck(None, threshold)


@pytest.mark.parametrize("typed", ["365", "abc", "45"])
def test_a_bad_second_reading_is_named_on_its_own_field(typed):
    check = PersonCheckInput(person_id=1, temperature="38.4", temperature_recheck=typed)
    with pytest.raises(AnswerError) as error:
        validate_check(check, visited_on=TODAY)
    assert error.value.field == "temperature_recheck"
    assert typed in error.value.message


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("未测体温", ("", "-")),
        ("未测体温:拒绝", ("", "拒绝")),
        ("体温未测（婴儿）", ("", "婴儿")),
        ("未测温", ("", "-")),
        ("未测：拒绝", ("", "拒绝")),
        ("36.5", ("36.5", "")),
    ],
)
def test_not_measured_is_understood_as_people_write_it(cell, expected):
    assert split_not_measured(cell) == expected


def test_a_bare_not_measured_asks_for_the_reason():
    temperature, reason = split_not_measured("未测体温")
    check = PersonCheckInput(person_id=1, temperature=temperature or None)
    check.temperature_not_measured = reason
    with translation.override("en"), pytest.raises(AnswerError) as error:
        validate_check(check, visited_on=TODAY, require_temperature=True)
    assert "why" in error.value.message


# -- the evening entry -------------------------------------------------------------------------
def entry_form(client, campaign, number):
    body = client.get(
        reverse("screening:entry_household", args=[campaign.pk]), {"number": number}
    ).content.decode()
    day = timezone.localdate() - datetime.timedelta(days=1)
    data = {
        "household_id": re.search(r'name="household_id" value="([^"]+)"', body).group(1),
        "outcome": "screened",
        "visited_at": f"{day:%Y-%m-%d} 09:30",
        "notes": "",
    }
    keys = re.findall(r'name="(p\d+)-temperature"', body)
    for key in keys:
        data[f"{key}-temperature"] = "36.5"
        data[f"{key}-presence"] = "present"
    return body, data, keys


def test_a_bad_second_reading_comes_back_on_the_second_field(client_for, campaign, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    _body, data, keys = entry_form(client, campaign, "HN-G2")
    data[f"{keys[0]}-temperature"] = "38.5"
    data[f"{keys[0]}-temperature_recheck"] = "382"
    response = client.post(reverse("screening:entry", args=[campaign.pk]), data)
    body = response.content.decode()
    assert response.status_code == 422
    error = re.search(rf'id="{keys[0]}-temperature_recheck-error">([^<]+)<', body)
    assert error and "38.2" in error.group(1)
    assert f'id="{keys[0]}-temperature-error"' not in body  # the first reading was fine
    assert re.search(rf'id="{keys[0]}-temperature_recheck"[^>]*autofocus', body)
    assert Visit.objects.count() == 0


def test_the_saved_form_names_the_deciding_reading(client_for, campaign, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    _body, data, keys = entry_form(client, campaign, "HN-G2")
    data[f"{keys[0]}-temperature"] = "38.5"
    data[f"{keys[0]}-temperature_recheck"] = "38.1"
    body = client.post(
        reverse("screening:entry", args=[campaign.pk]), data, HTTP_HX_REQUEST="true"
    ).content.decode()
    flagged = re.search(r'id="entry-flagged".*?</div>', body, re.S).group(0)
    assert "38.1" in flagged and "38.5" not in flagged


def test_the_temperature_fields_carry_the_servers_range(client_for, campaign, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    body, _data, _keys = entry_form(client, campaign, "HN-G2")
    fields = re.findall(r"<input[^>]*data-temperature[^>]*>", body)
    assert fields
    low, high = TEMPERATURE_RANGE
    for field in fields:
        assert f'data-low="{low}"' in field and f'data-high="{high}"' in field


# -- the flagged list and its export -------------------------------------------------------------
@pytest.fixture
def rechecked(campaign, worker, households):
    """A person of G1 read 39.0 first and 38.2 on the second reading: flagged with fever."""
    visit = screened(households["G1"], temperature="39.0", temperature_recheck="38.2")
    visit_record(user=worker, campaign=campaign, visit=visit)
    return PersonCheck.objects.get(flagged=True)


def test_the_flagged_list_shows_the_deciding_reading(client_for, campaign, rechecked):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    body = client.get(
        reverse("screening:flagged", args=[campaign.pk]), {"area": "C1"}
    ).content.decode()
    row = re.search(rf'<tr data-person="{rechecked.person_id}">.*?</tr>', body, re.S).group(0)
    cell = re.search(r'data-label="[^"]*">(38\.2)[^<]*<span class="muted">([^<]*)</span>', row)
    assert cell and "39.0" in cell.group(2)


def test_the_flagged_export_holds_the_deciding_reading(campaign, rechecked):
    checks = PersonCheck.objects.filter(pk=rechecked.pk).select_related(
        "person", "visit", "visit__worker", "visit__household", "visit__household__grid"
    )
    (row,) = list(exports.flagged_rows(checks))
    assert "38.2" in row and "39.0" not in row
