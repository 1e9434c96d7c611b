"""Evening entry's client UUIDs (screening/forms.py): a typed paper form's UUID is keyed with the
server's key over the form's cleaned values, so the same paper typed twice (in another spelling)
is one visit, and nobody who guesses what a form says can compute its UUID and take it first."""

import datetime
import re
import uuid
from dataclasses import asdict

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.screening import forms
from doorstep.screening.forms import (
    PAPER_FORM_NAMESPACE,
    legacy_paper_form_uuid,
    paper_form_clean,
    paper_form_uuid,
)
from doorstep.screening.models import PersonCheck, Visit, VisitSource
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import VisitInput, visit_body_hash, visit_record


def yesterday_at(hour: int, minute: int = 0) -> datetime.datetime:
    day = timezone.localdate() - datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


@pytest.fixture
def admin_client(client_for):
    return client_for(Role.COMMUNITY_ADMIN, "C1")


def entry_url(campaign):
    return reverse("screening:entry", args=[campaign.pk])


def typed_form(client, campaign, number, *, temperature="36.5", codes="12", notes="") -> dict:
    body = client.get(
        reverse("screening:entry_household", args=[campaign.pk]), {"number": number}
    ).content.decode()
    data = {
        "household_id": re.search(r'name="household_id" value="([^"]+)"', body).group(1),
        "outcome": "screened",
        "visited_at": yesterday_at(9, 30).strftime("%Y-%m-%d %H:%M"),
        "notes": notes,
    }
    for i, key in enumerate(re.findall(r'name="(p\d+)-temperature"', body)):
        data[f"{key}-temperature"] = temperature
        data[f"{key}-presence"] = "present"
        data[f"{key}-symptom_codes"] = codes if i == 0 else ""
        data[f"{key}-notes"] = ""
    return data


def paper_item(household, **answers) -> VisitInput:
    checks = [PersonCheckInput(person_id=p.pk, temperature="36.5") for p in household.persons.all()]
    for key, value in answers.items():
        setattr(checks[0], key, value)
    return VisitInput(
        household_id=household.pk,
        outcome="screened",
        visited_at=yesterday_at(9, 30),
        client_uuid=uuid.uuid4(),
        person_checks=checks,
        source=VisitSource.EVENING,
    )


def test_the_same_cleaned_form_typed_twice_is_one_visit(admin_client, campaign, households):
    # given a paper form typed once
    first = typed_form(admin_client, campaign, "HN-G2", temperature="36.5", codes="12")
    response = admin_client.post(entry_url(campaign), first, HTTP_HX_REQUEST="true")
    assert 'id="entry-saved"' in response.content.decode()
    # when the same paper is typed again, spelt otherwise (36.50 ℃, codes "2 1", spaces)
    again = typed_form(admin_client, campaign, "HN-G2", temperature=" 36.50℃", codes="2 1")
    again["notes"] = ""
    body = admin_client.post(entry_url(campaign), again, HTTP_HX_REQUEST="true").content.decode()
    # then the first visit is the answer and nothing new was written
    assert 'id="entry-saved"' in body and "already saved with other answers" not in body
    assert Visit.objects.count() == 1 and PersonCheck.objects.count() == 2
    checks = PersonCheck.objects.order_by("pk")
    assert [str(c.temperature) for c in checks] == ["36.5", "36.5"]
    assert checks[0].symptoms == ["fever", "cough"]


def test_another_form_of_the_same_household_is_another_visit(admin_client, campaign, households):
    admin_client.post(entry_url(campaign), typed_form(admin_client, campaign, "HN-G2"))
    other = typed_form(admin_client, campaign, "HN-G2", temperature="36.8")
    admin_client.post(entry_url(campaign), other)
    assert Visit.objects.count() == 2


def test_the_uuid_is_keyed_and_not_what_anyone_can_compute(settings, households):
    # given a cleaned form
    item = paper_item(households["G2"], symptoms=["cough", "fever"])
    paper_form_clean(item)
    keyed = paper_form_uuid(7, item)
    # the same values give the same UUID
    assert keyed == paper_form_uuid(7, paper_item(households["G2"], symptoms=["fever", "cough"]))
    # not the unkeyed uuid5 over the body the old code used
    body = asdict(item)
    body.pop("client_uuid")
    assert keyed != uuid.uuid5(PAPER_FORM_NAMESPACE, f"7:{visit_body_hash(body)}")
    assert keyed != legacy_paper_form_uuid(7, item)
    # and without the server's key nobody gets it
    settings.DOORSTEP_SHEET_UUID_KEY = "another key"
    assert keyed != paper_form_uuid(7, item)


def test_guessing_a_forms_content_no_longer_pre_empts_it(
    admin_client, campaign, households, user_for
):
    """The squatting the unkeyed UUID allowed: someone who can reach their own household records
    a visit under the UUID a guessed form of another household would get. The form is recorded."""
    data = typed_form(admin_client, campaign, "HN-G2")
    household = households["G2"]
    guess = as_typed(data, household)
    squatter = user_for(Role.COMMUNITY_ADMIN, "C2")
    squat = VisitInput(
        household_id=households["G3"].pk,
        outcome="not_home",
        visited_at=yesterday_at(8),
        client_uuid=legacy_paper_form_uuid(campaign.pk, guess),
        person_checks=[],
    )
    visit_record(user=squatter, campaign=campaign, visit=squat)
    body = admin_client.post(entry_url(campaign), data, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="entry-saved"' in body
    assert Visit.objects.filter(household=household).count() == 1


def test_a_form_typed_before_the_key_is_found_again(admin_client, campaign, households):
    # given a form recorded under the old, unkeyed UUID, over the values as typed
    data = typed_form(admin_client, campaign, "HN-G2", temperature="36.50")
    item = as_typed(data, households["G2"])
    item.client_uuid = legacy_paper_form_uuid(campaign.pk, item)
    visit_record(user=admin_client.user, campaign=campaign, visit=item)
    # when the same paper is typed again after the change
    again = admin_client.post(entry_url(campaign), data, HTTP_HX_REQUEST="true")
    # then it finds that visit: nothing new, no conflict
    assert 'id="entry-saved"' in again.content.decode()
    assert Visit.objects.count() == 1


def as_typed(data: dict, household) -> VisitInput:
    """The visit the entry page builds from `data`, before any cleaning (what the old, unkeyed
    UUID was computed over)."""
    post = QueryDict(mutable=True)
    post.update(data)
    cards = forms.member_cards(household.persons.order_by("pk"), post, new_slots=0)
    checks, _sources = forms.checks_from_cards(cards, data["outcome"])
    return forms.visit_input(
        household_id=household.pk,
        outcome=data["outcome"],
        visited_at=forms.parse_visited_at(data["visited_at"]),
        client_uuid=uuid.uuid4(),
        checks=checks,
        source=VisitSource.EVENING,
    )


def test_the_page_sends_no_uuid_and_a_posted_one_is_not_used(admin_client, campaign, households):
    """The visit's UUID is the paper form's: the page carries none (the random one it used to
    carry was thrown away on every save), and one a client posts changes nothing."""
    body = admin_client.get(
        reverse("screening:entry_household", args=[campaign.pk]), {"number": "HN-G2"}
    ).content.decode()
    assert 'name="client_uuid"' not in body
    data = typed_form(admin_client, campaign, "HN-G2")
    posted = uuid.uuid4()
    admin_client.post(entry_url(campaign), {**data, "client_uuid": str(posted)})
    visit = Visit.objects.get()
    assert visit.client_uuid != posted
    forms.paper_form_clean(item := as_typed(data, households["G2"]))
    assert visit.client_uuid == paper_form_uuid(campaign.pk, item)
