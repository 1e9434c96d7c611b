"""Issue 14: honest temperatures (every path), a second reading at the fever threshold, the
worker told at once who was flagged and why, and the list that follows the stairs."""

import datetime
import re
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from doorstep.accounts.models import Role
from doorstep.accounts.services import api_token_create
from doorstep.screening.models import HouseholdProgress, PersonCheck, Visit
from doorstep.screening.rules import (
    AnswerError,
    PersonCheckInput,
    parse_temperature,
    split_not_measured,
    validate_check,
)
from doorstep.screening.services import campaign_enrol_households, visit_record
from doorstep.screening.sheets import COLUMNS
from tests.factories import HouseholdFactory, PersonFactory
from tests.sheets import write_xlsx

from .conftest import screened

TODAY = datetime.date(2020, 2, 3)


# -- the rules -----------------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["365", "3.65", "365.0", "42.5", "0.365"])
def test_slips_of_the_decimal_point_and_42_5_are_refused_with_a_reason(typed):
    with pytest.raises(AnswerError) as error:
        parse_temperature(typed)
    assert error.value.field == "temperature"
    assert typed in error.value.message


def test_a_slip_names_the_likely_value():
    with pytest.raises(AnswerError) as error:
        parse_temperature("365")
    assert "36.5" in error.value.message


@given(st.decimals(min_value=Decimal("34.0"), max_value=Decimal("42.0"), places=1))
def test_every_plausible_reading_is_taken_as_sent(value):
    assert parse_temperature(str(value)) == value


@given(st.integers(min_value=340, max_value=420))
def test_three_digits_are_never_taken_as_a_temperature(value):
    with pytest.raises(AnswerError):
        parse_temperature(str(value))


@given(st.text(max_size=20))
def test_split_not_measured_never_loses_the_text(text):
    temperature, reason = split_not_measured(text)
    if reason:
        assert temperature == ""
    else:
        assert temperature == text.strip()


def test_a_present_person_needs_a_temperature_or_a_reason():
    blank = PersonCheckInput(person_id=1)
    with pytest.raises(AnswerError) as error:
        validate_check(blank, visited_on=TODAY, require_temperature=True)
    assert error.value.field == "temperature"
    validate_check(
        PersonCheckInput(person_id=1, temperature_not_measured="refused"),
        visited_on=TODAY,
        require_temperature=True,
    )
    validate_check(
        PersonCheckInput(person_id=1, presence="out_of_town"),
        visited_on=TODAY,
        require_temperature=True,
    )
    for bad in (
        PersonCheckInput(person_id=1, temperature="36.5", temperature_not_measured="refused"),
        PersonCheckInput(person_id=1, temperature_not_measured="-"),
        PersonCheckInput(person_id=1, temperature_recheck="37.0"),
    ):
        with pytest.raises(AnswerError):
            validate_check(bad, visited_on=TODAY, require_temperature=True)


# -- the API -------------------------------------------------------------------------------------
@pytest.fixture
def api(worker):
    _token, key = api_token_create(user=worker, name="phone")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def api_visit(campaign, household, checks):
    body = {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household.pk,
        "outcome": "screened",
        "visited_at": (timezone.now() - datetime.timedelta(minutes=3)).isoformat(),
        "person_checks": checks,
    }
    return body


@pytest.mark.parametrize(
    "answer, expected",
    [
        ({}, "not measured"),
        ({"temperature": 365}, "36.5"),
        ({"temperature": "3.65"}, "36.5"),
        ({"temperature": "42.5"}, "42.5"),
        ({"temperature_not_measured": ""}, "not measured"),
    ],
)
def test_the_api_refuses_a_blank_or_impossible_temperature_and_writes_nothing(
    api, campaign, households, answer, expected
):
    household = households["G1"]
    checks = [{"person_id": p.pk, "temperature": "36.6"} for p in household.persons.order_by("pk")]
    checks[0] = {"person_id": checks[0]["person_id"], **answer}
    response = api.post(
        f"/api/campaigns/{campaign.pk}/visits",
        api_visit(campaign, household, checks),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422, response.content
    detail = response.json()
    assert detail["field"] == "person_checks[0].temperature"
    assert expected in detail["detail"]
    assert not Visit.objects.filter(household=household).exists()


def test_the_api_takes_not_measured_with_a_reason_and_a_second_reading(api, campaign, households):
    household = households["G1"]
    people = list(household.persons.order_by("pk"))
    checks = [{"person_id": p.pk, "temperature": "36.6"} for p in people]
    checks[0] = {"person_id": people[0].pk, "temperature_not_measured": "refused"}
    if len(people) > 1:
        checks[1] = {"person_id": people[1].pk, "temperature": "38.4", "temperature_recheck": 37.0}
    response = api.post(
        f"/api/campaigns/{campaign.pk}/visits",
        api_visit(campaign, household, checks),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    stored = PersonCheck.objects.get(person=people[0])
    assert stored.temperature is None and stored.temperature_not_measured == "refused"
    if len(people) > 1:
        second = PersonCheck.objects.get(person=people[1])
        assert second.temperature == Decimal("38.4")
        assert second.temperature_recheck == Decimal("37.0")
        assert "fever" not in second.flags  # the second reading decides


# -- the sheet upload ----------------------------------------------------------------------------
def test_the_sheet_refuses_a_blank_and_takes_not_measured_with_a_reason(
    campaign, households, worker, tmp_path, user_for
):
    from doorstep.screening.models import Assignment

    household = households["G1"]
    person = household.persons.order_by("pk").first()
    others = list(household.persons.exclude(pk=person.pk))
    assignment = Assignment.objects.get(campaign=campaign, worker=worker)
    when = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")

    def row(temperature, someone=person):
        return [
            household.household_number,
            "",
            someone.name,
            "",
            "已排查",
            when,
            temperature,
            "",
            "",
            "",
            str(someone.pk),
        ]

    client = Client()
    client.force_login(worker)
    url = reverse("screening:assignment_upload", args=[campaign.pk, assignment.pk])
    blank = write_xlsx(
        tmp_path / "blank.xlsx", [row(""), *[row("36.5", o) for o in others]], header=COLUMNS
    )
    with open(blank, "rb") as handle:
        body = client.post(url, {"file": handle}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-status="rejected"' in body
    assert "not measured" in body
    assert not Visit.objects.filter(household=household).exists()
    fine = write_xlsx(
        tmp_path / "fine.xlsx",
        [row("未测:拒绝"), *[row("36.5", o) for o in others]],
        header=COLUMNS,
    )
    with open(fine, "rb") as handle:
        body = client.post(url, {"file": handle}).content.decode()
    assert 'data-status="accepted"' in body
    assert PersonCheck.objects.get(person=person).temperature_not_measured == "拒绝"


# -- the phone pages -----------------------------------------------------------------------------
@pytest.fixture
def worker_client(worker):
    client = Client()
    client.force_login(worker)
    client.user = worker
    return client


def visit_url(campaign, household):
    return reverse("screening:visit", args=[campaign.pk, household.pk])


def form_of(client, campaign, household, temperature="36.6") -> dict:
    body = client.get(visit_url(campaign, household)).content.decode()
    data = {
        "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', body).group(1),
        "f": "all",
        "notes": "",
        "outcome": "screened",
    }
    for person in household.persons.order_by("pk"):
        data[f"p{person.pk}-presence"] = "present"
        data[f"p{person.pk}-temperature"] = temperature
    return data


def test_the_phone_form_refuses_a_blank_temperature_next_to_the_person(
    worker_client, campaign, households
):
    household = households["G1"]
    person = household.persons.order_by("pk").first()
    data = form_of(worker_client, campaign, household)
    data[f"p{person.pk}-temperature"] = ""
    response = worker_client.post(visit_url(campaign, household), data, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 422
    assert "needs a temperature" in body
    assert re.search(rf'id="p{person.pk}-temperature"[^>]*aria-invalid="true"', body)
    assert not Visit.objects.filter(household=household).exists()
    data[f"p{person.pk}-temperature_not_measured"] = "infant"
    response = worker_client.post(visit_url(campaign, household), data)
    assert response.status_code == 302
    assert PersonCheck.objects.get(person=person).temperature_not_measured == "infant"


@pytest.mark.parametrize("typed", ["3.65", "365.0", "42.5", "365"])
def test_the_phone_form_refuses_slips_with_the_value_named(
    worker_client, campaign, households, typed
):
    household = households["G1"]
    person = household.persons.order_by("pk").first()
    data = form_of(worker_client, campaign, household)
    data[f"p{person.pk}-temperature"] = typed
    response = worker_client.post(visit_url(campaign, household), data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    assert typed in response.content.decode()
    assert not Visit.objects.filter(household=household).exists()


def test_a_reading_at_the_threshold_asks_for_a_second_before_saving(
    worker_client, campaign, households, django_capture_on_commit_callbacks
):
    household = households["G1"]
    person = household.persons.order_by("pk").first()
    data = form_of(worker_client, campaign, household)
    data[f"p{person.pk}-temperature"] = str(campaign.fever_threshold)
    response = worker_client.post(visit_url(campaign, household), data, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 422
    assert "measure again" in body
    assert not Visit.objects.filter(household=household).exists()
    # the second field is shown (not hidden) and keeps the first reading
    assert re.search(rf'id="p{person.pk}-recheck"(?![^>]*hidden)', body)
    data[f"p{person.pk}-temperature_recheck"] = "38.1"
    with django_capture_on_commit_callbacks(execute=True):  # follow-up acts on the commit
        response = worker_client.post(
            visit_url(campaign, household), data, HTTP_ACCEPT_LANGUAGE="en"
        )
    assert response.status_code == 302
    check = PersonCheck.objects.get(person=person)
    assert check.temperature == campaign.fever_threshold
    assert check.temperature_recheck == Decimal("38.1") and check.flags == ["fever"]
    # and the list the worker lands on says who, why and what happens next
    page = worker_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    alert = re.search(r'id="flagged-now".*?</div>\s*</div>', page, re.S).group(0)
    assert person.name in alert and "fever" in alert and "38.1" in alert
    # what happens next, for this person: follow-up's key person and referral (issue 10)
    assert "listed as a key person" in alert and "referral to the fever clinic opened" in alert


def test_a_normal_second_reading_saves_unflagged_and_no_alert(worker_client, campaign, households):
    household = households["G1"]
    person = household.persons.order_by("pk").first()
    data = form_of(worker_client, campaign, household)
    data[f"p{person.pk}-temperature"] = "37.8"
    data[f"p{person.pk}-temperature_recheck"] = "36.9"
    response = worker_client.post(visit_url(campaign, household), data)
    assert response.status_code == 302
    assert PersonCheck.objects.get(person=person).flagged is False
    page = worker_client.get(response["Location"]).content.decode()
    assert 'id="saved"' in page and 'id="flagged-now"' not in page


def test_risk_area_travel_is_named_at_once(worker_client, campaign, households):
    household = households["G1"]
    person = household.persons.order_by("pk").first()
    data = form_of(worker_client, campaign, household)
    data[f"p{person.pk}-travel_from"] = "湖北武汉"
    data[f"p{person.pk}-travel_means"] = "G1234"
    response = worker_client.post(visit_url(campaign, household), data, HTTP_ACCEPT_LANGUAGE="en")
    page = worker_client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "from a risk area" in page and person.name in page
    assert PersonCheck.objects.get(person=person).travel_means == "G1234"


def test_another_workers_visit_id_in_the_url_tells_nothing(
    worker_client, campaign, households, user_for
):
    admin = user_for(Role.COMMUNITY_ADMIN, "C2")
    other = households["G4"] if "G4" in households else households["G3"]
    from doorstep.screening.selectors import progress_visible_to

    if not progress_visible_to(admin, campaign).filter(household=other).exists():
        admin = user_for(Role.COMMAND, "D")
    visit, _created = visit_record(
        user=admin,
        campaign=campaign,
        visit=screened(other, temperature="38.5", temperature_recheck="38.5"),
    )
    assert visit.checks.filter(flagged=True).exists()
    mine = households["G1"]
    url = reverse("screening:field_list", args=[campaign.pk])
    page = worker_client.get(url, {"saved": mine.pk, "visit": visit.pk}).content.decode()
    assert 'id="flagged-now"' not in page
    assert other.persons.first().name not in page


# -- the list follows the stairs -----------------------------------------------------------------
@pytest.fixture
def stairs(campaign, households, worker):
    """Six households of the worker's grid: building 1 unit 1 floors 1-3, building 2 unit 1."""
    grid = households["G1"].grid
    made = []
    for building, unit, room in [
        ("1", "1", "101"),
        ("1", "1", "201"),
        ("1", "1", "301"),
        ("1", "2", "101"),
        ("2", "1", "101"),
        ("2", "1", "102"),
    ]:
        household = HouseholdFactory(grid=grid, building=building, unit=unit, room=room)
        household.floor = int(room[0])
        household.save()
        PersonFactory(household=household)
        made.append(household)
    campaign_enrol_households(campaign=campaign)
    HouseholdProgress.objects.filter(household__in=made).update(assigned_to=worker)
    return made


def test_after_a_save_the_list_opens_at_the_next_household_up_the_stairs(
    worker_client, campaign, stairs
):
    # the first two are done already, so the "first open household" would be the third...
    for household in stairs[:2]:
        visit_record(user=worker_client.user, campaign=campaign, visit=screened(household))
    # ...but the worker screens the fifth: the list must open at the sixth
    fifth = stairs[4]
    response = worker_client.post(
        visit_url(campaign, fifth), form_of(worker_client, campaign, fifth)
    )
    assert response.status_code == 302
    location = response["Location"]
    assert f"next={stairs[5].pk}" in location
    page = worker_client.get(location).content.decode()
    assert 'id="saved"' in page
    assert page.index('id="saved-bar"') < page.index('id="field-list"')
    next_up = re.search(r'id="next-up" href="([^"]+)"', page).group(1)
    assert next_up.startswith(visit_url(campaign, stairs[5]))


def test_the_next_household_stays_in_the_building_and_unit_filtered(
    worker_client, campaign, stairs, households
):
    # the fixture's own household of building 1 unit 1 is done already
    visit_record(user=worker_client.user, campaign=campaign, visit=screened(households["G1"]))
    first = stairs[0]
    data = form_of(worker_client, campaign, first)
    data.update({"b": "1", "u": "1"})
    response = worker_client.post(visit_url(campaign, first), data)
    assert f"next={stairs[1].pk}" in response["Location"]
    assert "b=1" in response["Location"] and "u=1" in response["Location"]
    third = stairs[2]
    data = form_of(worker_client, campaign, third)
    data.update({"b": "1", "u": "1"})
    response = worker_client.post(visit_url(campaign, third), data)
    # the unit's last open household was the second: back to it, never into unit 2
    assert f"next={stairs[1].pk}" in response["Location"]


def test_the_list_filters_by_building_and_unit_and_searches_rooms_and_numbers(
    worker_client, campaign, stairs
):
    url = reverse("screening:field_list", args=[campaign.pk])
    page = worker_client.get(url, {"b": "2"}).content.decode()
    ids = re.findall(r'<li id="hh-(\d+)"', page)
    assert ids == [str(stairs[4].pk), str(stairs[5].pk)]
    page = worker_client.get(url, {"b": "1", "u": "2"}).content.decode()
    assert re.findall(r'<li id="hh-(\d+)"', page) == [str(stairs[3].pk)]
    page = worker_client.get(url, {"q": "301"}).content.decode()
    assert re.findall(r'<li id="hh-(\d+)"', page) == [str(stairs[2].pk)]
    page = worker_client.get(url, {"q": stairs[5].household_number}).content.decode()
    assert re.findall(r'<li id="hh-(\d+)"', page) == [str(stairs[5].pk)]


def test_a_household_screened_by_someone_else_shows_as_such(
    worker_client, campaign, stairs, user_for
):
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    admin.full_name = "王书记"
    admin.save()
    visit_record(user=admin, campaign=campaign, visit=screened(stairs[1]))
    visit_record(user=worker_client.user, campaign=campaign, visit=screened(stairs[2]))
    page = worker_client.get(reverse("screening:field_list", args=[campaign.pk])).content.decode()
    row = re.search(rf'<li id="hh-{stairs[1].pk}".*?</li>', page, re.S).group(0)
    assert "王书记" in row
    mine = re.search(rf'<li id="hh-{stairs[2].pk}".*?</li>', page, re.S).group(0)
    assert "by-other" not in mine


# -- short codes ---------------------------------------------------------------------------------
@given(st.integers(min_value=1, max_value=10**9))
def test_a_short_code_reads_back_as_its_row(progress_id):
    from doorstep.screening.codes import parse_short_code, short_code

    code = short_code(progress_id)
    assert parse_short_code(code) == progress_id
    assert parse_short_code(code.lower()) == progress_id


@given(st.integers(min_value=1, max_value=10**7), st.data())
def test_one_mistyped_character_of_a_short_code_is_caught(progress_id, data):
    from doorstep.screening.codes import ALPHABET, parse_short_code, short_code

    code = short_code(progress_id)
    at = data.draw(st.integers(min_value=0, max_value=len(code) - 1))
    other = data.draw(st.sampled_from([c for c in ALPHABET if c != code[at]]))
    assert parse_short_code(code[:at] + other + code[at + 1 :]) != progress_id


# -- the evening entry and the paper form ---------------------------------------------------------
@pytest.fixture
def admin_client(client_for):
    return client_for(Role.COMMUNITY_ADMIN, "C1")


def entry_form(client, campaign, number: str) -> tuple[str, dict]:
    body = client.get(
        reverse("screening:entry_household", args=[campaign.pk]),
        {"number": number},
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    found = re.search(r'name="household_id" value="([^"]+)"', body)
    data = {
        "client_uuid": str(uuid.uuid4()),
        "household_id": found.group(1) if found else "",
        "outcome": "screened",
        "visited_at": (timezone.localtime() - datetime.timedelta(hours=2)).strftime(
            "%Y-%m-%d %H:%M"
        ),
        "notes": "",
    }
    for key in re.findall(r'name="(p\d+)-temperature"', body):
        data[f"{key}-temperature"] = "36.5"
        data[f"{key}-presence"] = "present"
    return body, data


def test_the_paper_form_prints_a_short_code_the_evening_entry_accepts(
    admin_client, campaign, households, worker
):
    from doorstep.screening.codes import short_code
    from doorstep.screening.models import Assignment

    household = households["G1"]
    progress = HouseholdProgress.objects.get(campaign=campaign, household=household)
    code = short_code(progress.pk)
    assert len(code) <= 5
    assignment = Assignment.objects.get(campaign=campaign, grid=household.grid)
    url = reverse("screening:paper_forms", args=[campaign.pk, assignment.pk])
    paper = admin_client.post(url, {"purpose": "入户排查"}, HTTP_ACCEPT_LANGUAGE="en").content
    paper = paper.decode()
    assert f">{code}</span>" in paper
    # every question the campaign asks has its column on paper
    for heading in (
        "Temperature",
        "Not measured",
        "Symptoms",
        "Came from",
        "Returned on",
        "Means of travel",
        "Contact with a case",
    ):
        assert heading in paper, heading
    # the evening entry opens the household from the code, typed in lower case too
    body, data = entry_form(admin_client, campaign, code.lower())
    assert data["household_id"] == str(household.pk)
    for heading in (
        "Came from",
        "Returned on",
        "Means of travel",
        "Contact with a case",
        "Not measured",
    ):
        assert heading in body, heading


def test_a_code_of_another_campaign_is_named_as_such(admin_client, campaign, households, user_for):
    from doorstep.screening.codes import short_code
    from doorstep.screening.services import campaign_create

    commander = user_for(Role.COMMAND, "D")
    other = campaign_create(
        user=commander,
        name="第二轮摸排",
        scope_area=commander.jurisdiction_area,
        starts_at=timezone.now() - datetime.timedelta(days=1),
        deadline=timezone.now() + datetime.timedelta(days=2),
    )
    row = HouseholdProgress.objects.get(campaign=other, household=households["G1"])
    body, data = entry_form(admin_client, campaign, short_code(row.pk))
    assert data["household_id"] == ""
    assert "another campaign" in body and "第二轮摸排" in body
    # a code of a household outside the caller's area reads like a code that does not exist
    far = HouseholdProgress.objects.get(campaign=other, household=households["G4"])
    body, _data = entry_form(admin_client, campaign, short_code(far.pk))
    assert "another campaign" not in body and "第二轮摸排" not in body
    assert 'id="entry-not-found"' in body


def test_the_same_paper_form_typed_twice_is_one_visit_and_said_so(
    admin_client, campaign, households
):
    household = households["G1"]
    _body, data = entry_form(admin_client, campaign, household.household_number)
    url = reverse("screening:entry", args=[campaign.pk])
    first = admin_client.post(url, data, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    assert "Saved" in first.content.decode()
    _body, again = entry_form(admin_client, campaign, household.household_number)
    again["visited_at"] = data["visited_at"]
    second = admin_client.post(url, again, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    text = second.content.decode()
    assert "typed before" in text and "nothing was saved twice" in text
    assert Visit.objects.filter(household=household).count() == 1


def test_a_nobody_home_form_saves_with_empty_person_fields(admin_client, campaign, households):
    household = households["G1"]
    _body, data = entry_form(admin_client, campaign, household.household_number)
    data["outcome"] = "not_home"
    for key in [k for k in data if k.endswith("-temperature")]:
        data[key] = ""
    url = reverse("screening:entry", args=[campaign.pk])
    response = admin_client.post(url, data, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    assert "Saved" in response.content.decode()
    visit = Visit.objects.get(household=household)
    assert visit.outcome == "not_home" and visit.checks.count() == 0


def test_the_evening_entry_asks_a_second_reading_and_names_the_flagged(
    admin_client, campaign, households
):
    household = households["G1"]
    person = household.persons.order_by("pk").first()
    _body, data = entry_form(admin_client, campaign, household.household_number)
    data[f"p{person.pk}-temperature"] = "38.6"
    url = reverse("screening:entry", args=[campaign.pk])
    response = admin_client.post(url, data, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    text = response.content.decode()
    assert "measure again" in text and not Visit.objects.exists()
    assert re.search(rf'id="p{person.pk}-temperature_recheck"[^>]*autofocus', text)
    data[f"p{person.pk}-temperature_recheck"] = "38.4"
    response = admin_client.post(url, data, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    text = response.content.decode()
    assert 'id="entry-flagged"' in text and person.name in text and "fever" in text


def test_the_keyboard_help_names_every_shortcut(admin_client, campaign):
    body = admin_client.get(
        reverse("screening:entry", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    help_text = re.search(r'id="keyboard-help".*?</details>', body, re.S).group(0)
    for key in re.findall(r'accesskey="(\w)"', body):
        assert f"<kbd>{key.upper()}</kbd>" in help_text, key
    assert "<kbd>Alt</kbd>+<kbd>S</kbd>" in help_text
    assert "365" in help_text
