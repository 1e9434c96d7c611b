"""Schemathesis against the API's own OpenAPI schema, as every role and without credentials.

Every operation of the schema is driven in process through Django's WSGI handler (same thread,
same database connection, so the requests see the test's rows). Path ids, body ids and area
codes are drawn partly from real rows, so the fuzzer reaches real campaigns, households and
persons and not only "404, no such thing".

For each role the checks of schemathesis hold: no 5xx, status codes and bodies as the schema
documents them, schema-violating requests refused with a 4xx, authentication not ignored (an
operation that answers 2xx is probed again without and with invalid credentials); and valid
requests refused only by a rule of the domain. Without valid credentials every operation
answers 401 (or 403) and writes nothing.
"""

import copy
import datetime
import functools
import json
import uuid

import hypothesis
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import strategies as st
from ninja.responses import NinjaJSONEncoder
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from doorstep.accounts.models import ApiToken, Role, User
from doorstep.accounts.services import api_token_create
from doorstep.api import api
from doorstep.checkpoints import services as checkpoint_services
from doorstep.checkpoints.matching import forget_indexes
from doorstep.checkpoints.models import Checkpoint, CheckpointOfficer, Handoff
from doorstep.followup import services as followup
from doorstep.followup.models import Check as FollowupCheck
from doorstep.followup.models import KeyPerson
from doorstep.registry.models import Household, Person
from doorstep.screening.api import MAX_ROW_ID
from doorstep.screening.models import Visit
from doorstep.screening.services import visit_record

from .factories import HouseholdFactory, PersonFactory, UserFactory
from .screening.conftest import campaign, knock, screened, worker  # noqa: F401 (fixtures)
from .two_factor import api_key_for

# Every role with the jurisdiction it usually holds; the roles outside the area tree hold none.
ROLE_AREAS = {
    Role.COMMAND: "D",
    Role.STREET_ADMIN: "S1",
    Role.COMMUNITY_ADMIN: "C1",
    Role.GRID_WORKER: "G1",
    Role.CHECKPOINT_OFFICER: None,
    Role.CLINIC_STAFF: None,
    Role.INSTITUTION_REPORTER: None,
}

FUZZ_SETTINGS = hypothesis.settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    # Generated cases only: schemathesis' coverage phase adds some 250 explicit cases per
    # operation, which for 7 roles would take minutes.
    phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
    # The data fixtures are function-scoped on purpose: each operation and role gets the same
    # fresh district, and the examples of one test share it.
    suppress_health_check=[
        hypothesis.HealthCheck.function_scoped_fixture,
        hypothesis.HealthCheck.too_slow,
        hypothesis.HealthCheck.data_too_large,
    ],
)
# A batch body (up to 500 visits of up to 30 checks) costs Hypothesis ten times the others.
BATCH_SETTINGS = hypothesis.settings(FUZZ_SETTINGS, max_examples=10)
DENIED_SETTINGS = hypothesis.settings(FUZZ_SETTINGS, max_examples=6)


class _DjangoWsgiApp:
    """Django's WSGI handler, built at the first request rather than at collection."""

    @functools.cached_property
    def handler(self):
        return get_wsgi_application()

    def __call__(self, environ, start_response):
        return self.handler(environ, start_response)


# The API refuses NUL characters in text (PostgreSQL cannot store them), which an OpenAPI
# schema cannot say; generated text leaves them out and the explicit cases below send them.
schema = schemathesis.openapi.from_dict(
    api.get_openapi_schema(),
    config=SchemathesisConfig.from_dict({"generation": {"allow-x00": False}}),
)
schema.app = _DjangoWsgiApp()
BATCH = {"path_regex": "/(batch|outbox)$"}  # many items per request: fewer examples

# The current test's real ids, set by the `district` fixture. Module state, because the schema
# and the generation hooks registered on it are built at collection, before any fixture runs.
CURRENT: dict = {}


def _sometimes_real(kind: str, drawn):
    """The drawn value, or as often one of the real ids of this kind."""
    real = CURRENT.get(kind)
    is_id = isinstance(drawn, int) and not isinstance(drawn, bool) and 1 <= drawn <= MAX_ROW_ID
    if not real or not is_id:
        # Not a valid id: the case is a negative one, and must stay what it is.
        return st.just(drawn)
    return st.one_of(st.just(drawn), st.sampled_from(real))


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    strategy = st.just(dict(path_parameters or {}))
    for name, kind in (
        ("campaign_id", "campaign"),
        ("household_id", "household"),
        ("key_person_id", "key_person"),
        ("referral_id", "referral"),
        ("checkpoint_id", "checkpoint"),
        ("handoff_id", "handoff"),
    ):
        if name in (path_parameters or {}):
            strategy = strategy.flatmap(
                lambda params, name=name, kind=kind: _sometimes_real(kind, params[name]).map(
                    lambda value, params=params, name=name: {**params, name: value}
                )
            )
    return strategy


@schema.hook
def flatmap_query(context, query):
    codes = CURRENT.get("area")
    if isinstance(query, dict) and isinstance(query.get("area"), str) and codes:
        return st.one_of(st.just(query), st.sampled_from(codes).map(lambda c: {**query, "area": c}))
    return st.just(query)


@schema.hook
def flatmap_body(context, body):
    if not isinstance(body, dict) or not ("visits" in body or "household_id" in body):
        return st.just(body)

    @st.composite
    def with_real_ids(draw):
        # A copy: Hypothesis may draw the same body again and must find it as it was.
        rewritten = copy.deepcopy(body)
        visits = rewritten.get("visits", [rewritten])
        for visit in visits if isinstance(visits, list) else []:
            if not isinstance(visit, dict):
                continue
            if "household_id" in visit:
                visit["household_id"] = draw(_sometimes_real("household", visit["household_id"]))
            checks = visit.get("person_checks")
            for check in checks if isinstance(checks, list) else []:
                if isinstance(check, dict) and "person_id" in check:
                    check["person_id"] = draw(_sometimes_real("person", check["person_id"]))
        return rewritten

    return with_real_ids()


class ExplicitBearerToken:
    """Marks the role tests' credentials as explicit: schemathesis then neither makes up nor
    mutates the Authorization header, and probes each operation that answers 2xx again without
    credentials and with invalid ones. The key itself is put in by the test, because some cases
    are built at collection, before any token exists."""

    def get(self, case, context):
        return "put-in-by-the-test"

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def in_process_requests():
    """Keep the test's connection open across the WSGI calls: after each request Django closes
    a connection that is inside a transaction, and the test's rows live in one (Django's test
    client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def more_households(areas, households):
    """Besides one per grid: two more in G1 (the worker's grid), one each in G2 and G3."""
    for grid in ("G1", "G1", "G2", "G3"):
        PersonFactory(household=HouseholdFactory(grid=areas[grid]))


@pytest.fixture
def district(in_process_requests, areas, more_households, campaign, worker):  # noqa: F811
    """The screening world with two visits, so that progress rows stand in several states."""
    g1 = list(Household.objects.filter(grid=areas["G1"]).order_by("pk"))
    then = timezone.now() - datetime.timedelta(hours=2)
    visit_record(user=worker, campaign=campaign, visit=screened(g1[0], when=then))
    visit_record(user=worker, campaign=campaign, visit=knock(g1[1], when=then))
    # follow-up: the worker's key person (the first G1 head) with an open referral
    key_person = followup.key_person_add(
        user=worker,
        person=g1[0].persons.order_by("pk").first(),
        reasons=[followup.ReasonInput(kind="fever_symptoms", exposure_date=timezone.localdate())],
        source=followup.SourceInput(kind="manual"),
    )
    referral = followup.referral_open(
        user=worker,
        key_person=key_person,
        temperature=None,
        symptoms=["cough"],
        source=followup.SourceInput(kind="manual"),
    )
    checkpoint = Checkpoint.objects.create(
        district=areas["D"], code="K-FUZZ", name="模糊卡口", kind="highway_exit"
    )
    handoff = _fuzz_handoff(checkpoint, areas)
    CURRENT.update(
        key_person=[key_person.pk],
        referral=[referral.pk],
        checkpoint=[checkpoint.pk],
        handoff=[handoff.pk],
        campaign=[campaign.pk],
        household=list(Household.objects.values_list("pk", flat=True)),
        person=list(Person.objects.values_list("pk", flat=True)),
        area=[area.code for area in areas.values()],
    )
    yield
    CURRENT.clear()


@pytest.fixture(params=list(ROLE_AREAS), ids=str)
def role_token(request, district, user_for, worker):  # noqa: F811
    """A bearer key of one role; the grid worker is the one holding the G1 assignment."""
    role = request.param
    user = worker if role == Role.GRID_WORKER else user_for(role, ROLE_AREAS[role])
    if role == Role.CHECKPOINT_OFFICER:  # an officer of the fuzzed checkpoint
        CheckpointOfficer.objects.create(user=user, checkpoint_id=CURRENT["checkpoint"][0])
    return api_key_for(user, "fuzz")


def _fuzz_handoff(checkpoint, areas):
    """A pending handoff to C1 (the community admin's), from an officer of the checkpoint."""
    officer = UserFactory(role=Role.CHECKPOINT_OFFICER)
    CheckpointOfficer.objects.create(user=officer, checkpoint=checkpoint)
    forget_indexes()
    result = checkpoint_services.passage_record(
        user=officer,
        checkpoint=checkpoint,
        passage=checkpoint_services.PassageInput(
            client_uuid=uuid.uuid4(),
            kind="car",
            arrived_at=timezone.now() - datetime.timedelta(minutes=20),
            occupants=(
                checkpoint_services.OccupantInput(
                    client_uuid=uuid.uuid4(), name="模糊到达", origin="湖北", destination="状元社区"
                ),
            ),
        ),
    )
    return Handoff.objects.get(arrivals__pk=result.occupants[0].arrival_id)


def _holds(case, key: str) -> None:
    case.headers["Authorization"] = f"Bearer {key}"
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    if case.meta.generation.mode.is_positive:
        # Instead of schemathesis' own acceptance check, which counts every 422 as a refusal of
        # valid data: a well-formed visit may still break a rule of the domain (a time in the
        # future, a person of another household), and that refusal names its field. A 422 of the
        # validation layer (a list of issues) for data the schema calls valid, or a 400, would
        # mean schema and code disagree.
        assert response.status_code in (200, 201, 404, 409, 422), response.text
        if response.status_code == 422:
            assert isinstance(response.json()["detail"], str), response.text


@schema.auth.apply(ExplicitBearerToken, refresh_interval=None)
@schema.exclude(**BATCH).parametrize()
@FUZZ_SETTINGS
def test_every_operation_holds_for_every_role(case, role_token):
    _holds(case, role_token)


@schema.auth.apply(ExplicitBearerToken, refresh_interval=None)
@schema.include(**BATCH).parametrize()
@BATCH_SETTINGS
def test_visit_batches_hold_for_every_role(case, role_token):
    _holds(case, role_token)


@pytest.fixture(params=["made_up", "revoked", "deactivated"])
def refused_credentials(request, district, worker):  # noqa: F811
    """Credentials that must open nothing: whatever schemathesis makes up for the security
    schemes (a random bearer key or session cookie, or none), a revoked key, the key of a
    deactivated user (the assigned grid worker, who holds real data)."""
    if request.param == "made_up":
        return {}
    token, key = api_token_create(user=worker, name="fuzz")
    if request.param == "revoked":
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    else:
        User.objects.filter(pk=worker.pk).update(is_active=False)
    return {"Authorization": f"Bearer {key}"}


@schema.parametrize()
@DENIED_SETTINGS
def test_no_operation_opens_without_valid_credentials(case, refused_credentials):
    response = case.call(headers=refused_credentials)
    if case.method.upper() != case.operation.method.upper():
        # Schemathesis also tries methods the path does not have.
        assert response.status_code == 405
        return
    # 403: a made-up session cookie on a write fails the CSRF check before the session does.
    assert response.status_code in (401, 403), response.text
    case.validate_response(
        response, checks=[not_a_server_error, status_code_conformance, response_schema_conformance]
    )
    assert Visit.objects.count() == 2  # the district's own
    assert not FollowupCheck.objects.exists() and KeyPerson.objects.count() == 1


def test_the_fuzzed_schema_is_the_served_one(user_for):
    client = Client()
    client.force_login(user_for(Role.GRID_WORKER))
    served = client.get("/api/openapi.json").json()
    assert served == json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))


# -- what the fuzzer found, kept as explicit cases -------------------------------------------
def _visit(household_id, **fields) -> dict:
    return {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household_id,
        "outcome": "not_home",
        "visited_at": (timezone.now() - datetime.timedelta(minutes=5)).isoformat(),
        **fields,
    }


def _g1_household():
    return Household.objects.filter(household_number="HN-G1").get()


def _g1_visit(*, outcome="not_home", notes="", check_notes=None, newcomer_name=None) -> dict:
    household = _g1_household()
    checks = []
    if check_notes is not None:
        person = household.persons.order_by("pk").first()
        checks.append({"person_id": person.pk, "presence": "unknown", "notes": check_notes})
    if newcomer_name is not None:
        checks.append({"new_person": {"name": newcomer_name}, "temperature": "36.6"})
    return _visit(household.pk, outcome=outcome, notes=notes, person_checks=checks)


# Each finding as (path, body) with the defect and without it: the body without it is accepted,
# so the refusal is the defect's and not some other rule's.
FOUND = {
    # An id past 64 bits reached the database: OverflowError in the SQLite driver.
    "household id past 64 bits": lambda bad: (
        "/visits",
        _visit(2**64 if bad else _g1_household().pk),
    ),
    "batch household id past 64 bits": lambda bad: (
        "/visits/batch",
        {"visits": [_visit(2**64 if bad else _g1_household().pk)]},
    ),
    # ninja's Schema read any value by its attributes: a list passed as a check, defaults all.
    "a check that is not an object": lambda bad: (
        "/visits/batch",
        {"visits": [{**_g1_visit(check_notes=""), **({"person_checks": [[None]]} if bad else {})}]},
    ),
    # PostgreSQL text cannot hold NUL: DataError in the driver.
    "NUL in the visit notes": lambda bad: ("/visits", _g1_visit(notes="a\x00b" if bad else "ab")),
    "NUL in a check": lambda bad: ("/visits", _g1_visit(check_notes="\x00" if bad else "")),
    "NUL in a newcomer's name": lambda bad: (
        "/visits/batch",
        {"visits": [_g1_visit(outcome="screened", newcomer_name="张\x00三" if bad else "张三")]},
    ),
}


@pytest.fixture
def worker_client(district, worker):  # noqa: F811
    _token, key = api_token_create(user=worker, name="fuzz")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", raise_request_exception=False)


@pytest.mark.parametrize("finding", list(FOUND))
def test_what_the_fuzzer_found_is_refused_and_writes_nothing(finding, worker_client, campaign):  # noqa: F811
    url = f"/api/campaigns/{campaign.pk}"
    suffix, body = FOUND[finding](True)
    visits, persons = Visit.objects.count(), Person.objects.count()
    response = worker_client.post(url + suffix, body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert (Visit.objects.count(), Person.objects.count()) == (visits, persons)
    suffix, body = FOUND[finding](False)
    response = worker_client.post(url + suffix, body, content_type="application/json")
    assert response.status_code in (200, 201), response.content
    assert "rejected" not in response.content.decode()
    assert Visit.objects.count() == visits + 1


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        # OverflowError in the SQLite driver.
        ("/households/{big}/members", "/households/{g1}/members"),
        # DataError in the PostgreSQL driver.
        ("/coverage?area=G1%00", "/coverage?area=G1"),
    ],
)
def test_what_the_fuzzer_found_in_paths_and_queries_is_refused(bad, good, worker_client, campaign):  # noqa: F811
    url = f"/api/campaigns/{campaign.pk}"
    ids = {"big": 2**64, "g1": _g1_household().pk}
    assert worker_client.get(url + bad.format(**ids)).status_code == 422
    assert worker_client.get(url + good.format(**ids)).status_code == 200


@pytest.mark.parametrize("temperature", ["NaN", "1e999999", "-Infinity", "sNaN"])
def test_a_temperature_that_is_no_number_is_refused(temperature, worker_client, campaign):  # noqa: F811
    household = _g1_household()
    checks = [
        {"person_id": p.pk, "temperature": temperature} for p in household.persons.order_by("pk")
    ]
    before = Visit.objects.count()
    response = worker_client.post(
        f"/api/campaigns/{campaign.pk}/visits",
        _visit(household.pk, outcome="screened", person_checks=checks),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["field"] == "person_checks[0].temperature"
    assert Visit.objects.count() == before


# -- no answer depends on records outside the caller's jurisdiction -----------------------------
def _normalised(response) -> tuple:
    """What a caller can compare of two answers: status and body, without the ids, UUIDs and
    masked numbers that differ between any two requests."""
    import re

    text = response.content.decode()
    text = re.sub(r'"(id|visit_id)": \d+', r'"\1": 0', text)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "U", text)
    return response.status_code, text


@hypothesis.settings(FUZZ_SETTINGS, max_examples=25)
@hypothesis.given(data=st.data())
def test_a_number_held_elsewhere_changes_no_answer(worker_client, campaign, data):  # noqa: F811
    """For any body the fuzzer draws, a new person with the ID number of someone in another
    street gets exactly the answer a new person with an unused number gets (status, body,
    field of a refusal), through the single and the batch endpoint alike."""
    from .factories import unique_id_number

    name = data.draw(st.text(min_size=0, max_size=8), label="name")
    relation = data.draw(st.sampled_from(["", "租客", "配偶", "x" * 21]), label="relation")
    phone = data.draw(st.sampled_from(["", "13912345678", "12345"]), label="phone")
    outcome = data.draw(st.sampled_from(["screened", "not_home", "nonsense"]), label="outcome")
    temperature = data.draw(st.sampled_from([None, "36.6", "39.2", "365", "NaN"]), label="t")
    batch = data.draw(st.booleans(), label="batch")
    household = _g1_household()
    # a holder of its own for each example: an earlier example's newcomer (in the worker's own
    # grid, waiting for reconciliation) is rightly answered with the clear duplicate message
    elsewhere = PersonFactory(
        household=HouseholdFactory(grid=Household.objects.get(household_number="HN-G4").grid)
    )

    def send(number: str):
        check = {"new_person": {"name": name, "relation": relation, "id_number": number}}
        if phone:
            check["new_person"]["phone"] = phone
        if temperature is not None:
            check["temperature"] = temperature
        body = _visit(household.pk, outcome=outcome, person_checks=[check])
        url = f"/api/campaigns/{campaign.pk}/visits"
        if batch:
            url, body = url + "/batch", {"visits": [body]}
        return worker_client.post(url, body, content_type="application/json")

    held, fresh = send(elsewhere.id_number), send(unique_id_number())
    assert held.status_code < 500 and fresh.status_code < 500
    assert _normalised(held) == _normalised(fresh)
