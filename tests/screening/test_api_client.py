"""A device's developer, with a token and no session, reads the schema, generates a Python client
with openapi-python-client, and submits a visit with it over HTTP."""

import datetime
import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from doorstep.accounts.services import api_token_create
from doorstep.screening.models import Visit

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def generated_client(tmp_path, live_server, worker):
    _token, key = api_token_create(user=worker, name="developer")
    schema = requests.get(
        f"{live_server.url}/api/openapi.json",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert schema.status_code == 200
    (tmp_path / "openapi.json").write_text(json.dumps(schema.json()), encoding="utf-8")
    # no formatting hooks: the generated code is imported, not read
    (tmp_path / "config.json").write_text(
        json.dumps({"package_name_override": "doorstep_client", "post_hooks": []})
    )
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(tmp_path / "openapi.json"),
            "--config",
            str(tmp_path / "config.json"),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "doorstep_client"),
            "--fail-on-warning",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module("doorstep_client")
        yield package, key
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == "doorstep_client"]:
            del sys.modules[name]


def test_a_generated_client_submits_a_visit(generated_client, live_server, campaign, households):
    package, key = generated_client
    visit_submit = importlib.import_module("doorstep_client.api.screening.visit_submit")
    household_list = importlib.import_module("doorstep_client.api.screening.household_list")
    models = importlib.import_module("doorstep_client.models")
    with package.AuthenticatedClient(base_url=live_server.url, token=key) as client:
        listed = household_list.sync(campaign_id=campaign.pk, client=client)
        assert [row.household_id for row in listed.items] == [households["G1"].pk]
        members = list(households["G1"].persons.order_by("pk"))
        body = models.VisitIn(
            client_uuid=uuid.uuid4(),
            household_id=households["G1"].pk,
            outcome="screened",
            visited_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=3),
            person_checks=[
                models.PersonCheckIn(person_id=person.pk, presence="present", temperature="36.6")
                for person in members
            ],
        )
        response = visit_submit.sync_detailed(campaign_id=campaign.pk, client=client, body=body)
    assert response.status_code == 201, response.content
    assert response.parsed.state == "screened"
    visit = Visit.objects.get(client_uuid=body.client_uuid)
    assert visit.checks.count() == len(members) and visit.household == households["G1"]
