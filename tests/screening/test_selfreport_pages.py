"""The public self-report page behind a notice slip: no login, minimal personal data, one
household per link, idempotent, rate-limited; every refusal writes nothing."""

import datetime
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.screening.models import HouseholdProgress, PersonCheck, SelfReportToken, Visit
from doorstep.screening.services import self_report_token_for
from doorstep.screening.views import selfreport


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def link(campaign, households):
    token = self_report_token_for(campaign=campaign, household_id=households["G1"].pk)
    return reverse("screening:self_report", args=[token.token])


def stamp_of(body: str) -> str:
    return re.search(r'name="stamp" value="([^"]+)"', body).group(1)


def field(index: int, name: str) -> str:
    """A member's field on the page: by their place in the list, never by an internal id."""
    return f"m{index}_{name}"


def answers(client, url, household, **per_person) -> dict:
    """A filled-in form as the page would post it: everybody at home, 36.6 °C."""
    data = {"stamp": stamp_of(client.get(url).content.decode())}
    for index, _person in enumerate(household.persons.order_by("pk")):
        data[field(index, "presence")] = "present"
        data[field(index, "temperature")] = "36.6"
        data[field(index, "contact")] = "no"
    data.update(per_person)
    return data


def nothing_written():
    return (
        Visit.objects.count() == 0
        and PersonCheck.objects.count() == 0
        and not HouseholdProgress.objects.exclude(state="not_started").exists()
    )


def test_the_page_opens_without_login_and_shows_only_the_address_and_masked_names(link, households):
    response = Client().get(link)
    assert response.status_code == 200
    body = response.content.decode()
    household = households["G1"]
    assert household.address_display in body
    for person in household.persons.all():
        assert person.name not in body  # 户主G1 → 户**
        assert person.name[0] + "*" * (len(person.name) - 1) in body
        assert person.id_number not in body and person.phone not in body
        assert person.id_number[-4:] not in body
    assert household.household_number not in body
    assert "HN-G2" not in body and "户主G2" not in body


def test_only_the_campaigns_questions_are_asked(campaign, link):
    campaign.questions = ["temperature"]
    campaign.save()
    body = Client().get(link).content.decode()
    assert "_temperature" in body
    assert "_symptoms" not in body and "_travel_from" not in body and "_contact" not in body


def test_a_submission_is_stored_as_a_self_report_to_verify(campaign, link, households):
    client = Client()
    household = households["G1"]
    response = client.post(link, answers(client, link, household))
    assert response.status_code == 200
    assert 'id="submitted"' in response.content.decode()
    visit = Visit.objects.get()
    assert (visit.source, visit.worker, visit.verified_at) == ("self_report", None, None)
    assert visit.household == household and visit.checks.count() == 2
    progress = HouseholdProgress.objects.get(campaign=campaign, household=household)
    assert (progress.state, progress.closed) == ("self_reported", False)
    assert SelfReportToken.objects.get().used_count == 1


def test_submitting_the_same_form_twice_is_one_visit(link, households):
    client = Client()
    data = answers(client, link, households["G1"])
    first = client.post(link, data)
    again = client.post(link, data)
    assert (first.status_code, again.status_code) == (200, 200)
    assert Visit.objects.count() == 1 and PersonCheck.objects.count() == 2


def test_a_changed_answer_under_the_same_form_is_a_conflict(link, households):
    client = Client()
    data = answers(client, link, households["G1"])
    client.post(link, data)
    response = client.post(link, {**data, field(0, "temperature"): "37.0"})
    assert response.status_code == 409
    assert Visit.objects.count() == 1


def test_another_households_form_cannot_be_posted_through_this_link(campaign, households, link):
    # given the form shown for G1's household, and the link of G2's household
    other = self_report_token_for(campaign=campaign, household_id=households["G2"].pk)
    url = reverse("screening:self_report", args=[other.token])
    client = Client()
    data = answers(client, link, households["G1"], **{field(0, "temperature"): "39.0"})
    # when G1's form is posted through G2's link
    response = client.post(url, data)
    # then it is refused (the form was shown for other members) and nothing is written
    assert response.status_code == 400
    assert nothing_written()


def test_the_page_shows_no_internal_ids(link, households):
    body = Client().get(link).content.decode()
    names = set(re.findall(r'name="([^"]+)"', body))
    names -= {"csrfmiddlewaretoken", "stamp", "language", "next", "viewport"}
    assert names and all(re.fullmatch(r"m\d+_\w+", name) for name in names), names
    assert set(re.findall(r'data-member="([^"]+)"', body)) == {"m0", "m1"}
    # the signed stamp is readable by anyone holding it: it carries no person id either
    from django.core import signing

    stamp = signing.loads(stamp_of(body), salt=selfreport.SIGNING_SALT)
    assert set(stamp) == {"u", "t", "m"}
    assert re.fullmatch(r"[0-9a-f]{16}", stamp["m"])  # a keyed digest of the list, no ids


def test_a_member_added_since_the_form_was_shown_is_asked_again(link, households):
    from tests.factories import PersonFactory

    client = Client()
    data = answers(client, link, households["G1"])
    PersonFactory(household=households["G1"], name="新成员")
    response = client.post(link, data)
    assert response.status_code == 400 and 'id="form-error"' in response.content.decode()
    assert nothing_written()
    # the page shown again carries a fresh stamp for the new list, which is accepted
    again = answers(client, link, households["G1"])
    assert client.post(link, again).status_code == 200


@pytest.mark.parametrize("how", ["unknown", "expired", "closed", "disabled"])
def test_dead_links_all_look_alike_and_write_nothing(campaign, link, households, how):
    client = Client()
    data = answers(client, link, households["G1"])
    url = link
    if how == "unknown":
        url = reverse("screening:self_report", args=["x" * 22])
    elif how == "expired":
        SelfReportToken.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    elif how == "closed":
        campaign.closed_at = timezone.now()
        campaign.save()
    else:
        campaign.self_report_enabled = False
        campaign.save()
    unknown = client.get(reverse("screening:self_report", args=["y" * 22]))
    response = client.get(url)
    assert response.status_code == 404
    assert response.content == unknown.content
    assert client.post(url, data).status_code == 404
    assert nothing_written()


def test_too_many_submissions_for_one_link_are_refused(link, households):
    client = Client()
    bad = {"stamp": stamp_of(client.get(link).content.decode())}  # nobody answered: 400
    for _n in range(selfreport.RATE_PER_TOKEN):
        assert client.post(link, bad).status_code == 400
    response = client.post(link, answers(client, link, households["G1"]))
    assert response.status_code == 429
    assert 'id="too-many"' in response.content.decode()
    assert nothing_written()


def test_too_many_submissions_from_one_address_are_refused(campaign, households, monkeypatch):
    monkeypatch.setattr(selfreport, "RATE_PER_IP", 3)
    urls = [
        reverse(
            "screening:self_report",
            args=[self_report_token_for(campaign=campaign, household_id=h.pk).token],
        )
        for h in households.values()
    ]
    client = Client(REMOTE_ADDR="10.0.0.7")
    for url in urls[:3]:
        assert client.post(url, {}).status_code == 400
    # the fourth link is fresh, but the address has used its share
    response = client.post(urls[3], answers(client, urls[3], households["G4"]))
    assert response.status_code == 429
    assert nothing_written()
    # another address is not affected
    other = Client(REMOTE_ADDR="10.0.0.8")
    assert other.post(urls[3], answers(other, urls[3], households["G4"])).status_code == 200


def test_a_bad_temperature_is_shown_and_nothing_written(link, households):
    client = Client()
    data = answers(client, link, households["G1"], **{field(0, "temperature"): "365"})
    response = client.post(link, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    error = re.search(r'id="form-error"[^>]*>([^<]*)<', response.content.decode()).group(1)
    assert "36.5" in error  # "did you mean 36.5?"
    assert nothing_written()


def test_a_forged_stamp_is_not_accepted(link, households):
    client = Client()
    data = answers(client, link, households["G1"])
    data["stamp"] = data["stamp"][:-3] + "abc"
    response = client.post(link, data)
    assert response.status_code == 400 and 'id="form-error"' in response.content.decode()
    assert nothing_written()
