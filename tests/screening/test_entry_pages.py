"""Evening entry: the paper forms typed in; the paper's time kept apart from the typing time."""

import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening.models import HouseholdProgress, PersonCheck, Visit


@pytest.fixture
def admin_client(client_for):
    return client_for(Role.COMMUNITY_ADMIN, "C1")


@pytest.fixture
def worker_client(worker):
    client = Client()
    client.force_login(worker)
    return client


def yesterday_at(hour: int, minute: int = 0) -> datetime.datetime:
    day = timezone.localdate() - datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def entry_url(campaign):
    return reverse("screening:entry", args=[campaign.pk])


def household_form(client, campaign, number: str) -> tuple[str, dict]:
    body = client.get(
        reverse("screening:entry_household", args=[campaign.pk]), {"number": number}
    ).content.decode()
    data = {
        "household_id": re.search(r'name="household_id" value="([^"]+)"', body).group(1),
        "outcome": "screened",
        "visited_at": yesterday_at(9, 30).strftime("%Y-%m-%d %H:%M"),
        "notes": "",
    }
    for key in re.findall(r'name="(p\d+)-temperature"', body):
        data[f"{key}-temperature"] = "36.5"
        data[f"{key}-presence"] = "present"
        data[f"{key}-symptom_codes"] = ""
        data[f"{key}-notes"] = ""
    return body, data


def test_the_page_starts_in_the_household_number_box(admin_client, campaign):
    body = admin_client.get(entry_url(campaign)).content.decode()
    box = re.search(r"<input id=\"number\"[^>]*>", body).group(0)
    assert "autofocus" in box and 'accesskey="n"' in box


def test_a_household_number_brings_its_members_as_rows(admin_client, campaign, households):
    body, data = household_form(admin_client, campaign, "HN-G2")
    assert "户主G2" in body and "配偶G2" in body
    assert re.search(r'<select id="outcome"[^>]*autofocus', body)
    assert "data-last" in body
    assert len([k for k in data if k.endswith("-temperature")]) == 2


def test_a_household_outside_the_jurisdiction_is_not_found(admin_client, campaign, households):
    body = admin_client.get(
        reverse("screening:entry_household", args=[campaign.pk]), {"number": "HN-G3"}
    ).content.decode()
    assert 'id="entry-not-found"' in body and "户主G3" not in body


def test_saving_keeps_the_papers_time_and_returns_to_the_number_box(
    admin_client, campaign, households
):
    _body, data = household_form(admin_client, campaign, "HN-G2")
    key = next(k for k in data if k.endswith("-symptom_codes"))
    data[key] = "12"
    response = admin_client.post(entry_url(campaign), data, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="entry-saved"' in body and "HN-G2" in body
    assert re.search(r'<input id="number"[^>]*autofocus', body)
    assert 'id="entry-form"' not in body
    visit = Visit.objects.get()
    assert visit.source == "evening" and visit.visited_at == yesterday_at(9, 30)
    assert visit.entered_at > visit.visited_at
    assert timezone.now() - visit.entered_at < datetime.timedelta(minutes=1)
    symptoms = sorted(tuple(c.symptoms) for c in PersonCheck.objects.filter(visit=visit))
    assert symptoms == [(), ("fever", "cough")]
    progress = HouseholdProgress.objects.get(campaign=campaign, household=households["G2"])
    assert progress.state == "screened"


def test_the_visit_time_is_required_and_the_error_stays_in_place(
    admin_client, campaign, households
):
    _body, data = household_form(admin_client, campaign, "HN-G2")
    data["visited_at"] = ""
    response = admin_client.post(entry_url(campaign), data, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert 'id="visited_at-error"' in body and 'id="entry-form"' in body
    assert body.count('value="36.5"') == 2  # what was typed stays in place
    assert Visit.objects.count() == 0


def test_a_temperature_slip_is_refused_in_place(admin_client, campaign, households):
    _body, data = household_form(admin_client, campaign, "HN-G2")
    key = next(k for k in data if k.endswith("-temperature"))
    data[key] = "3.65"
    response = admin_client.post(entry_url(campaign), data)
    body = response.content.decode()
    assert response.status_code == 422
    error = re.search(rf'id="{key}-error">([^<]+)<', body)
    assert error and "36.5" in error.group(1)
    assert 'value="3.65"' in body
    assert Visit.objects.count() == 0


def test_the_same_form_sent_twice_is_one_visit(admin_client, campaign, households):
    _body, data = household_form(admin_client, campaign, "HN-G2")
    admin_client.post(entry_url(campaign), data, HTTP_HX_REQUEST="true")
    again = admin_client.post(entry_url(campaign), data, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="entry-saved"' in again
    assert Visit.objects.count() == 1 and PersonCheck.objects.count() == 2


def test_a_worker_enters_only_their_assignment(worker_client, campaign, households):
    _body, data = household_form(worker_client, campaign, "HN-G1")
    assert worker_client.post(entry_url(campaign), data).status_code == 200
    assert Visit.objects.get().household == households["G1"]
    body = worker_client.get(
        reverse("screening:entry_household", args=[campaign.pk]), {"number": "HN-G2"}
    ).content.decode()
    assert 'id="entry-not-found"' in body and "户主G2" not in body
    # a forged post for the neighbour's household is 404 and writes nothing
    data["household_id"] = str(households["G2"].pk)
    assert worker_client.post(entry_url(campaign), data).status_code == 404
    assert Visit.objects.count() == 1


def test_roles_without_an_area_cannot_open_entry(client_for, campaign):
    client = client_for(Role.CLINIC_STAFF, None)
    assert client.get(entry_url(campaign)).status_code == 404
    assert client.post(entry_url(campaign), {"household_id": "1"}).status_code == 404
    assert Visit.objects.count() == 0
