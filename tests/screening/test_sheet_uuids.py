"""The visit sheet's client UUIDs (screening/sheets.py): derived from campaign, household, the
assignment's worker and the visit time with a server-side key, so a sheet uploaded twice records
nothing new, two workers never collide, and nobody can pre-empt another worker's sheet rows; a
collision that happens anyway is answered with the truth ("already recorded by another worker"),
not "not in your assignment"."""

import datetime
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.accounts.services import api_token_create
from doorstep.screening.models import Visit, VisitSource
from doorstep.screening.services import VisitInput, assignment_create, visit_record
from doorstep.screening.sheets import (
    COLUMNS,
    legacy_sheet_visit_uuid,
    sheet_visit_uuid,
)
from tests.sheets import write_xlsx

WHEN = timezone.localtime() - datetime.timedelta(hours=1)
WHEN = WHEN.replace(second=0, microsecond=0)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def two_workers(campaign, areas, user_for):
    """The worker of G1 (holding G1) and the worker of G2 (holding G2)."""
    admin = user_for(Role.COMMUNITY_ADMIN, "C1")
    result = {}
    for grid in ("G1", "G2"):
        worker = user_for(Role.GRID_WORKER, grid)
        assignment = assignment_create(
            user=admin, campaign=campaign, worker=worker, grid=areas[grid]
        )
        result[grid] = (worker, assignment)
    return result


def sheet(tmp_path, household, name="sheet.xlsx"):
    row = [household.household_number, "", "", "", "无人在家", f"{WHEN:%Y-%m-%d %H:%M}"]
    return write_xlsx(tmp_path / name, [row + [""] * 5], header=COLUMNS)


def upload(client, campaign, assignment, path):
    with open(path, "rb") as handle:
        response = client.post(
            reverse("screening:assignment_upload", args=[campaign.pk, assignment.pk]),
            {"file": handle},
        )
    found = re.findall(r'data-status="(\w+)" data-row="(\d+)"', response.content.decode())
    return response, [status for status, _row in found]


def record_under(client_uuid, *, worker, campaign, household, source=VisitSource.FIELD):
    """A visit "nobody home" at WHEN, recorded under a chosen client UUID."""
    visit = VisitInput(
        household_id=household.pk,
        outcome="not_home",
        visited_at=WHEN,
        client_uuid=client_uuid,
        person_checks=[],
        source=source,
    )
    return visit_record(user=worker, campaign=campaign, visit=visit)


def test_the_uuid_depends_on_the_worker_and_a_key_the_server_keeps(settings):
    args = {"campaign_id": 1, "household_id": 2, "visited_at": WHEN}
    first = sheet_visit_uuid(worker_id=3, **args)
    assert first == sheet_visit_uuid(worker_id=3, **args)  # the same sheet, the same UUID
    assert first != sheet_visit_uuid(worker_id=4, **args)  # another worker, another UUID
    assert first != legacy_sheet_visit_uuid(**args)  # not what anyone can compute
    settings.DOORSTEP_SHEET_UUID_KEY = "another key"
    assert first != sheet_visit_uuid(worker_id=3, **args)


def test_a_sheet_uploaded_twice_records_once(campaign, two_workers, households, tmp_path):
    worker, assignment = two_workers["G1"]
    client = login(worker)
    path = sheet(tmp_path, households["G1"])
    assert upload(client, campaign, assignment, path)[1] == ["accepted"]
    assert upload(client, campaign, assignment, path)[1] == ["duplicate"]
    visit = Visit.objects.get()
    assert visit.client_uuid == sheet_visit_uuid(
        campaign_id=campaign.pk,
        household_id=households["G1"].pk,
        worker_id=worker.pk,
        visited_at=visit.visited_at,
    )


def test_an_admin_uploading_the_workers_sheet_finds_the_same_visits(
    campaign, two_workers, households, tmp_path, client_for
):
    worker, assignment = two_workers["G1"]
    path = sheet(tmp_path, households["G1"])
    assert upload(login(worker), campaign, assignment, path)[1] == ["accepted"]
    admin = client_for(Role.COMMUNITY_ADMIN, "C1")
    assert upload(admin, campaign, assignment, path)[1] == ["duplicate"]
    assert Visit.objects.count() == 1


def test_the_old_keyless_uuid_is_no_way_to_pre_empt_a_sheet(
    campaign, two_workers, households, tmp_path
):
    """The squatting the old derivation allowed: worker B records a visit of a household of
    their own under the UUID worker A's sheet row would get. A's upload is recorded anyway."""
    (worker_a, assignment_a), (worker_b, _b) = two_workers["G1"], two_workers["G2"]
    squatted = legacy_sheet_visit_uuid(
        campaign_id=campaign.pk, household_id=households["G1"].pk, visited_at=WHEN
    )
    record_under(squatted, worker=worker_b, campaign=campaign, household=households["G2"])
    _response, statuses = upload(
        login(worker_a), campaign, assignment_a, sheet(tmp_path, households["G1"])
    )
    assert statuses == ["accepted"]
    assert Visit.objects.filter(household=households["G1"], worker=worker_a).exists()
    assert login(worker_a).get("/healthz").status_code == 200


def test_a_collision_is_answered_with_the_truth(campaign, two_workers, households):
    """A UUID another worker used for a household the caller cannot reach: "already recorded
    by another worker" (409 / "taken"), nothing of that visit shown, nothing written."""
    (worker_a, _a), (worker_b, _b) = two_workers["G1"], two_workers["G2"]
    taken = uuid.uuid4()
    body = {
        "household_id": households["G2"].pk,
        "outcome": "not_home",
        "visited_at": WHEN,
        "client_uuid": taken,
        "person_checks": [],
    }
    visit_record(user=worker_b, campaign=campaign, visit=VisitInput(**body))
    _token, key = api_token_create(user=worker_a, name="phone")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    mine = {**body, "household_id": households["G1"].pk, "visited_at": WHEN.isoformat()}
    mine["client_uuid"] = str(taken)
    single = api.post(f"/api/campaigns/{campaign.pk}/visits", mine, content_type="application/json")
    assert single.status_code == 409
    assert single.json() == {"detail": "这次走访已由其他网格员登记", "field": ""}
    batch = api.post(
        f"/api/campaigns/{campaign.pk}/visits/batch",
        {"visits": [mine]},
        content_type="application/json",
    ).json()
    assert batch[0]["status"] == "taken" and batch[0]["visit_id"] is None
    assert Visit.objects.count() == 1 and Visit.objects.get().worker == worker_b
    # a UUID of a visit in a household the caller cannot reach, for a household they cannot
    # reach either: as before, simply not found
    other = {**mine, "household_id": households["G3"].pk}
    assert (
        api.post(
            f"/api/campaigns/{campaign.pk}/visits", other, content_type="application/json"
        ).status_code
        == 404
    )


def test_a_sheet_recorded_before_the_key_is_found_again(
    campaign, two_workers, households, tmp_path
):
    """Sheets read before this change carry the keyless UUIDs: uploaded again, their visits
    are found (the same household's), not recorded twice."""
    worker, assignment = two_workers["G1"]
    old = legacy_sheet_visit_uuid(
        campaign_id=campaign.pk, household_id=households["G1"].pk, visited_at=WHEN
    )
    record_under(
        old, worker=worker, campaign=campaign, household=households["G1"], source=VisitSource.SHEET
    )
    _response, statuses = upload(
        login(worker), campaign, assignment, sheet(tmp_path, households["G1"])
    )
    assert statuses == ["duplicate"]
    assert Visit.objects.count() == 1
