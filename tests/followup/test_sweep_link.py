# ruff: noqa: F811 - the fixtures imported from the screening tests are used by name
"""Issue 10 point 5 for the sweep: a visit saved with a fever or a listed symptom makes the person
a key person and opens a referral at once, on every path that records visits (through the
visit consumers registry, DESIGN.md §7), once however often the visit is replayed; the worker is
told per person what follow-up did (issue 14 point 2); the self-check link's QR (point 3)."""

import datetime
import logging
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.accounts.services import api_token_create
from doorstep.core import visit_consumers
from doorstep.followup import schedule, sweep_link
from doorstep.followup.models import KeyPerson, Referral, Source
from doorstep.followup.services import check_record, monitoring_release, self_check_token_for
from doorstep.screening.models import HeldVisit, HouseholdProgress, PersonCheck, Visit
from doorstep.screening.services import visit_record
from tests.sheets import write_xlsx

from ..screening.conftest import campaign, screened, worker  # noqa: F401
from ..screening.test_assign_pages import block, sheet_rows  # noqa: F401
from .conftest import add_key_person, check_input

CALLS: list[list[int]] = []


def recording_consumer(visit_ids):
    CALLS.append(list(visit_ids))


def exploding_consumer(visit_ids):
    raise RuntimeError("户主G1 110101199003070011")  # a message with personal data in it


RECORDING = [
    "doorstep.followup.sweep_link.visits_recorded",
    "tests.followup.test_sweep_link.recording_consumer",
]


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()
    yield
    CALLS.clear()


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Runs what the request left for the commit (the test's transaction never commits)."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


def login(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def phone(worker):
    return login(worker)


def head(household):
    return household.persons.order_by("pk").first()


def assert_followed(person, *, visit, user):
    """One key person with one sweep source of this visit, a fever reason on the visit's day and
    one open referral, all by `user`."""
    key_person = KeyPerson.objects.get(person=person)
    source = key_person.sources.get(kind="sweep")
    check = PersonCheck.objects.get(visit=visit, person=person)
    assert (source.visit_id, source.person_check_id) == (visit.pk, check.pk)
    assert source.created_by == user and key_person.created_by == user
    reason = key_person.reasons.get(kind="fever_symptoms")
    assert reason.exposure_date == schedule.local_date(visit.visited_at)
    referral = Referral.objects.get(key_person=key_person)
    assert referral.status == "open" and referral.source_kind == "sweep"
    assert referral.opened_by == user
    assert referral.source_reference == f"visit:{visit.client_uuid}"
    return key_person, referral


def counts():
    return (
        Visit.objects.count(),
        KeyPerson.objects.count(),
        Source.objects.count(),
        Referral.objects.count(),
    )


# -- the phone page ------------------------------------------------------------------------------
def visit_url(campaign, household):
    return reverse("screening:visit", args=[campaign.pk, household.pk])


def form_of(client, campaign, household) -> dict:
    body = client.get(visit_url(campaign, household)).content.decode()
    data = {
        "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', body).group(1),
        "f": "all",
        "notes": "",
        "outcome": "screened",
    }
    for person in household.persons.order_by("pk"):
        data[f"p{person.pk}-presence"] = "present"
        data[f"p{person.pk}-temperature"] = "36.6"
    return data


def test_a_fever_on_the_phone_page_makes_a_key_person_and_a_referral_at_once(
    phone, campaign, households, on_commit
):
    household = households["G1"]
    person = head(household)
    data = form_of(phone, campaign, household)
    data[f"p{person.pk}-temperature"] = "38.6"
    data[f"p{person.pk}-temperature_recheck"] = "38.6"
    with on_commit():
        response = phone.post(visit_url(campaign, household), data)
    assert response.status_code == 302
    visit = Visit.objects.get()
    assert_followed(person, visit=visit, user=phone.user)
    # the spouse (36.6) is nobody's key person
    assert KeyPerson.objects.count() == 1
    # the list the worker lands on names who, why and what follow-up did
    page = phone.get(response["Location"]).content.decode()
    alert = re.search(r'id="flagged-now".*?</div>\s*</div>', page, re.S).group(0)
    assert person.name in alert and "38.6" in alert
    assert "listed as a key person" in alert and "referral to the fever clinic opened" in alert
    assert "What happens next" not in alert
    # the same form sent again (the answer was lost): nothing doubles
    before = counts()
    with on_commit():
        again = phone.post(visit_url(campaign, household), data)
    assert again.status_code == 302
    assert counts() == before == (1, 1, 1, 1)


def test_a_visit_without_fever_or_symptoms_opens_nothing_and_travel_waits_for_a_click(
    phone, campaign, households, on_commit, client_for
):
    household = households["G1"]
    person = head(household)
    data = form_of(phone, campaign, household)
    data[f"p{person.pk}-travel_from"] = "湖北武汉"
    with on_commit():
        response = phone.post(visit_url(campaign, household), data)
    assert response.status_code == 302
    assert PersonCheck.objects.get(person=person).flags == ["risk_area"]
    assert not KeyPerson.objects.exists() and not Referral.objects.exists()
    page = phone.get(response["Location"]).content.decode()
    alert = re.search(r'id="flagged-now".*?</div>\s*</div>', page, re.S).group(0)
    assert "to be listed as a key person by the community" in alert
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    listed = admin.get(reverse("followup:from_flags"))
    assert [c.person_id for c in listed.context["page"]] == [person.pk]


def test_an_all_well_visit_opens_nothing(phone, campaign, households, on_commit):
    household = households["G1"]
    with on_commit():
        response = phone.post(visit_url(campaign, household), form_of(phone, campaign, household))
    assert response.status_code == 302 and Visit.objects.count() == 1
    assert counts()[1:] == (0, 0, 0)


# -- the evening paper entry ---------------------------------------------------------------------
def entry_form(client, campaign, number: str) -> dict:
    body = client.get(
        reverse("screening:entry_household", args=[campaign.pk]), {"number": number}
    ).content.decode()
    data = {
        "client_uuid": str(uuid.uuid4()),
        "household_id": re.search(r'name="household_id" value="([^"]+)"', body).group(1),
        "outcome": "screened",
        "visited_at": (timezone.localtime() - datetime.timedelta(hours=2)).strftime(
            "%Y-%m-%d %H:%M"
        ),
        "notes": "",
    }
    for key in re.findall(r'name="(p\d+)-temperature"', body):
        data[f"{key}-temperature"] = "36.5"
        data[f"{key}-presence"] = "present"
    return data


@pytest.mark.django_db(transaction=True)  # committed for real: the answer is rendered after it
def test_the_evening_entry_opens_the_referral_and_says_so(
    client_for, campaign, households, on_commit
):
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    household = households["G1"]
    person = head(household)
    data = entry_form(admin, campaign, household.household_number)
    data[f"p{person.pk}-temperature"] = "36.8"
    data[f"p{person.pk}-symptoms"] = "cough"
    url = reverse("screening:entry", args=[campaign.pk])
    response = admin.post(url, data, HTTP_HX_REQUEST="true", HTTP_ACCEPT_LANGUAGE="en")
    text = response.content.decode()
    visit = Visit.objects.get()
    assert visit.worker == admin.user
    assert_followed(person, visit=visit, user=admin.user)
    flagged = re.search(r'id="entry-flagged".*?</div>', text, re.S).group(0)
    assert person.name in flagged and "referral to the fever clinic opened" in flagged
    # the same paper form typed again is the same visit: nothing doubles
    with on_commit():
        admin.post(url, data, HTTP_HX_REQUEST="true")
    assert counts() == (1, 1, 1, 1)


# -- the API -------------------------------------------------------------------------------------
@pytest.fixture
def api(worker):
    _token, key = api_token_create(user=worker, name="phone")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    client.user = worker
    return client


def api_visit(household, first: dict) -> dict:
    checks = [{"person_id": p.pk, "temperature": "36.6"} for p in household.persons.order_by("pk")]
    checks[0].update(first)
    return {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household.pk,
        "outcome": "screened",
        "visited_at": (timezone.now() - datetime.timedelta(minutes=3)).isoformat(),
        "person_checks": checks,
    }


def test_an_api_batch_is_one_call_and_a_fever_at_the_threshold_is_referred(
    api,
    campaign,
    block,
    households,
    on_commit,
    settings,
):
    settings.DOORSTEP_VISIT_CONSUMERS = RECORDING
    g1 = households["G1"]
    other = HouseholdProgress.objects.get(household__household_number="HN-301").household
    third = HouseholdProgress.objects.get(household__household_number="HN-401").household
    body = {
        "visits": [
            api_visit(g1, {"temperature": "37.3", "temperature_recheck": "37.3"}),
            api_visit(other, {"symptoms": ["short_breath"]}),
            api_visit(third, {}),
        ]
    }
    url = f"/api/campaigns/{campaign.pk}/visits/batch"
    with on_commit():
        answer = api.post(url, body, content_type="application/json")
    assert [item["status"] for item in answer.json()] == ["created"] * 3
    assert len(CALLS) == 1 and sorted(CALLS[0]) == sorted(
        Visit.objects.values_list("pk", flat=True)
    )
    for household in (g1, other):
        assert_followed(
            head(household), visit=Visit.objects.get(household=household), user=api.user
        )
    assert not KeyPerson.objects.filter(person__household=third).exists()
    # the batch sent again: duplicates, nothing opened twice
    before = counts()
    with on_commit():
        again = api.post(url, body, content_type="application/json")
    assert [item["status"] for item in again.json()] == ["duplicate"] * 3
    assert counts() == before == (3, 2, 2, 2)


def test_a_single_api_visit_is_followed_up(api, campaign, households, on_commit):
    with on_commit():
        answer = api.post(
            f"/api/campaigns/{campaign.pk}/visits",
            api_visit(households["G1"], {"temperature": "39.0", "temperature_recheck": "38.9"}),
            content_type="application/json",
        )
    assert answer.status_code == 201
    _kp, referral = assert_followed(
        head(households["G1"]), visit=Visit.objects.get(), user=api.user
    )
    assert str(referral.temperature) == "38.9"  # the reading that counts


# -- the sheet upload ----------------------------------------------------------------------------
def test_a_sheet_upload_follows_up_its_fevers_in_one_call(
    worker,
    campaign,
    block,
    tmp_path,
    on_commit,
    settings,
):
    settings.DOORSTEP_VISIT_CONSUMERS = RECORDING
    client = login(worker)
    template = client.post(
        reverse("screening:assignment_template", args=[campaign.pk, block.pk]),
        {"purpose": "入户排查"},
    )
    rows = sheet_rows(template.content)
    when = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    filled = []
    for row in rows[1:]:
        row = ["" if c is None else str(c) for c in row]
        row[10] = str(int(float(row[10])))
        row[4], row[5], row[6] = "已排查", when, "36.6"
        if row[2] == "户主301":
            row[6] = "38.6"
        filled.append(row)
    path = write_xlsx(tmp_path / "filled.xlsx", filled, header=rows[0])
    upload = reverse("screening:assignment_upload", args=[campaign.pk, block.pk])
    with on_commit(), open(path, "rb") as handle:
        assert client.post(upload, {"file": handle}).status_code == 200
    assert Visit.objects.count() == 3 and len(CALLS) == 1 and len(CALLS[0]) == 3
    person = PersonCheck.objects.get(person__name="户主301").person
    assert_followed(person, visit=Visit.objects.get(household=person.household), user=worker)
    assert KeyPerson.objects.count() == 1
    with on_commit(), open(path, "rb") as handle:  # the same sheet again
        client.post(upload, {"file": handle})
    assert counts() == (3, 1, 1, 1)


# -- the offline outbox and a held visit ---------------------------------------------------------
def outbox_record(household, *, fever_for=None):
    form = [["f", "all"], ["notes", ""]]
    for person in household.persons.order_by("pk"):
        temperature = "38.2" if person == fever_for else "36.6"
        form += [[f"p{person.pk}-presence", "present"], [f"p{person.pk}-temperature", temperature]]
        if person == fever_for:
            form.append([f"p{person.pk}-temperature_recheck", "38.2"])
    form.append(["outcome", "screened"])
    return {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household.pk,
        "visited_at": (timezone.now() - datetime.timedelta(minutes=30)).isoformat(),
        "form": form,
    }


def send(client, campaign, *records):
    response = client.post(
        f"/api/campaigns/{campaign.pk}/visits/outbox",
        {"records": list(records)},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_the_outbox_follows_up_once_however_often_it_is_sent(
    phone, campaign, households, on_commit
):
    person = head(households["G1"])
    sent = outbox_record(households["G1"], fever_for=person)
    with on_commit():
        assert send(phone, campaign, sent)[0]["status"] == "created"
    assert_followed(person, visit=Visit.objects.get(), user=phone.user)
    with on_commit():
        assert send(phone, campaign, sent)[0]["status"] == "duplicate"
    assert counts() == (1, 1, 1, 1)


def test_a_held_visit_accepted_is_followed_up_as_the_workers(
    phone, campaign, households, user_for, client_for, on_commit
):
    person = head(households["G1"])
    sent = outbox_record(households["G1"], fever_for=person)
    other = user_for(Role.GRID_WORKER, "G1")
    HouseholdProgress.objects.filter(household=households["G1"]).update(assigned_to=other)
    with on_commit():
        assert send(phone, campaign, sent)[0]["status"] == "held"
    assert not KeyPerson.objects.exists()
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    held = HeldVisit.objects.get()
    with on_commit():
        admin.post(
            reverse("screening:held_visit_decide", args=[campaign.pk, held.pk]),
            {"decision": "accept"},
        )
    visit = Visit.objects.get()
    assert visit.worker == phone.user
    assert_followed(person, visit=visit, user=phone.user)  # the worker's, not the admin's


# -- a person already followed, a referral already open ------------------------------------------
def test_a_person_already_followed_gets_the_source_added_and_the_worker_is_told(
    phone, campaign, households, on_commit
):
    person = head(households["G1"])
    existing = add_key_person(phone.user, person, days_ago=3)
    data = form_of(phone, campaign, households["G1"])
    data[f"p{person.pk}-temperature"] = "38.0"
    data[f"p{person.pk}-temperature_recheck"] = "38.1"
    with on_commit():
        response = phone.post(visit_url(campaign, households["G1"]), data)
    assert KeyPerson.objects.get() == existing
    assert sorted(existing.sources.values_list("kind", flat=True)) == ["manual", "sweep"]
    assert Referral.objects.get(key_person=existing).status == "open"
    page = phone.get(response["Location"]).content.decode()
    alert = re.search(r'id="flagged-now".*?</div>\s*</div>', page, re.S).group(0)
    end = existing.monitorings.get().end_date
    assert "already a key person (home isolation until" in alert
    assert end.strftime("%B") in alert and "referral to the fever clinic opened" in alert


def test_an_open_referral_is_not_opened_twice(phone, campaign, households, on_commit):
    from doorstep.followup.services import SourceInput, referral_open

    person = head(households["G1"])
    existing = add_key_person(phone.user, person, days_ago=1)
    first = referral_open(
        user=phone.user,
        key_person=existing,
        temperature=None,
        symptoms=["cough"],
        source=SourceInput(kind="manual"),
    )
    visit_record_fever(phone.user, campaign, households["G1"], on_commit)
    assert list(Referral.objects.all()) == [first]
    said = sweep_link.flag_outcomes(
        user=phone.user, person_check_ids=[PersonCheck.objects.get(person=person).pk]
    )
    assert "a referral to the fever clinic is already open" in next(iter(said.values()))


def visit_record_fever(user, campaign, household, on_commit):
    with on_commit():
        visit, _created = visit_record(
            user=user,
            campaign=campaign,
            visit=screened(household, temperature="38.5", temperature_recheck="38.5"),
        )
    return visit


def test_the_outcomes_are_told_only_within_the_users_jurisdiction(
    phone, campaign, households, user_for, on_commit
):
    visit_record_fever(phone.user, campaign, households["G1"], on_commit)
    check = PersonCheck.objects.get(flagged=True)
    assert sweep_link.flag_outcomes(user=phone.user, person_check_ids=[check.pk])
    stranger = user_for(Role.GRID_WORKER, "G3")
    assert sweep_link.flag_outcomes(user=stranger, person_check_ids=[check.pk]) == {}


def test_without_outcome_providers_the_general_words_stay(
    phone, campaign, households, on_commit, settings
):
    settings.DOORSTEP_FLAG_OUTCOME_PROVIDERS = []
    data = form_of(phone, campaign, households["G1"])
    person = head(households["G1"])
    data[f"p{person.pk}-symptoms"] = "cough"
    with on_commit():
        response = phone.post(visit_url(campaign, households["G1"]), data)
    page = phone.get(response["Location"]).content.decode()
    alert = re.search(r'id="flagged-now".*?</div>\s*</div>', page, re.S).group(0)
    assert "What happens next" in alert and "key person" not in alert


# -- failures never cost the visit ---------------------------------------------------------------
def test_a_failing_consumer_leaves_the_visit_saved_and_logs_nothing_personal(
    phone, campaign, households, on_commit, settings, caplog
):
    settings.DOORSTEP_VISIT_CONSUMERS = ["tests.followup.test_sweep_link.exploding_consumer"]
    person = head(households["G1"])
    data = form_of(phone, campaign, households["G1"])
    data[f"p{person.pk}-temperature"] = "38.6"
    data[f"p{person.pk}-temperature_recheck"] = "38.6"
    with caplog.at_level(logging.ERROR, logger="doorstep.visit_consumers"), on_commit():
        response = phone.post(visit_url(campaign, households["G1"]), data)
    assert response.status_code == 302
    assert Visit.objects.count() == 1 and PersonCheck.objects.filter(flagged=True).count() == 1
    assert not KeyPerson.objects.exists()
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "exploding_consumer" in logged and "RuntimeError" in logged
    assert person.name not in logged and "110101" not in logged


def test_a_follow_up_refusal_keeps_the_person_on_the_list_and_a_replay_repairs_it(
    phone, campaign, households, on_commit, monkeypatch, caplog, client_for
):
    person = head(households["G1"])

    def refuse(**kwargs):
        raise RuntimeError(person.name)

    monkeypatch.setattr(sweep_link, "referral_open", refuse)
    data = form_of(phone, campaign, households["G1"])
    data[f"p{person.pk}-temperature"] = "38.6"
    data[f"p{person.pk}-temperature_recheck"] = "38.6"
    with caplog.at_level(logging.ERROR), on_commit():
        response = phone.post(visit_url(campaign, households["G1"]), data)
    assert response.status_code == 302 and Visit.objects.count() == 1
    # the key person made before the failure was rolled back with it: still on the list
    assert not KeyPerson.objects.exists() and not Source.objects.exists()
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert admin.get(reverse("followup:from_flags")).context["page"].paginator.count == 1
    assert person.name not in " ".join(r.getMessage() for r in caplog.records)
    # the phone sends the visit again (same UUID): now follow-up works, and makes up for it
    monkeypatch.undo()
    with on_commit():
        phone.post(visit_url(campaign, households["G1"]), data)
    assert_followed(person, visit=Visit.objects.get(), user=phone.user)
    assert counts() == (1, 1, 1, 1)


def test_a_batch_collects_nested_calls_and_survives_an_exception(db, on_commit, settings):
    settings.DOORSTEP_VISIT_CONSUMERS = ["tests.followup.test_sweep_link.recording_consumer"]
    with on_commit(), pytest.raises(ValueError), visit_consumers.visits_batch():
        visit_consumers.visits_saved([1, 2])
        with visit_consumers.visits_batch():
            visit_consumers.visits_saved([2, 3])
        raise ValueError
    assert CALLS == [[1, 2, 3]]


# -- the self-check QR ---------------------------------------------------------------------------
def test_the_record_page_and_the_card_carry_the_qr_while_the_monitoring_runs(
    phone, households, client_for
):
    person = head(households["G1"])
    key_person = add_key_person(phone.user, person)
    detail = reverse("followup:key_person", args=[key_person.pk])
    assert 'id="self-qr"' not in phone.get(detail).content.decode()  # no link made yet
    card_url = reverse("followup:self_check_card", args=[key_person.pk])
    asked = phone.get(card_url)
    assert asked.status_code == 200 and b"purpose" in asked.content  # a printout asks why
    card = phone.post(card_url, {"purpose": "发放自测卡"})
    text = card.content.decode()
    token = key_person.monitorings.get().self_check_token.token
    assert card.status_code == 200 and 'id="self-check-qr"><svg' in text
    assert token in text and person.name not in text and person.name[:1] + "*" in text
    end = key_person.monitorings.get().end_date
    assert f"Valid until the end of {end:%Y-%m-%d}" in text
    page = phone.get(detail).content.decode()
    assert re.search(r'id="self-qr"[^>]*><svg', page)
    # the QR is inside the page: no URL of the site carries the token but the link itself
    assert not any(token in u for u in re.findall(r'(?:src|href)="([^"]+)"', page))


def test_the_card_of_a_released_monitoring_has_no_qr_and_says_the_link_ended(
    phone, households, client_for, user_for
):
    key_person = add_key_person(phone.user, head(households["G1"]), days_ago=1)
    monitoring = key_person.monitorings.get()
    token = self_check_token_for(monitoring=monitoring).token
    check_record(user=phone.user, key_person=key_person, data=check_input())
    monitoring_release(
        user=user_for(Role.COMMUNITY_ADMIN, "C1"), monitoring=monitoring, reason="阴性"
    )
    card = phone.post(
        reverse("followup:self_check_card", args=[key_person.pk]), {"purpose": "补发"}
    )
    text = card.content.decode()
    assert card.status_code == 200 and "<svg" not in text and token not in text
    assert 'id="self-check-ended"' in text and "no longer works" in text
    detail = phone.get(reverse("followup:key_person", args=[key_person.pk])).content.decode()
    assert "<svg" not in detail


def test_another_grids_worker_gets_no_card(phone, households, user_for):
    key_person = add_key_person(phone.user, head(households["G1"]))
    stranger = login(user_for(Role.GRID_WORKER, "G3"))
    answer = stranger.post(
        reverse("followup:self_check_card", args=[key_person.pk]), {"purpose": "看看"}
    )
    assert answer.status_code == 404
    assert not hasattr(key_person.monitorings.get(), "self_check_token")


# -- a resident's self-report --------------------------------------------------------------------
def test_a_self_report_opens_follow_up_when_the_worker_verifies_it(
    phone, campaign, households, on_commit
):
    from doorstep.screening.services import (
        self_report_submit,
        self_report_token_for,
        visit_verify,
    )

    household = households["G1"]
    token = self_report_token_for(campaign=campaign, household_id=household.pk)
    with on_commit():
        visit, _created = self_report_submit(
            token=token.token, visit=screened(household, symptoms=["cough"])
        )
    assert not KeyPerson.objects.exists()  # a resident's word alone is not acted on
    with on_commit():
        visit_verify(user=phone.user, campaign=campaign, visit_id=visit.pk)
    assert_followed(head(household), visit=visit, user=phone.user)
