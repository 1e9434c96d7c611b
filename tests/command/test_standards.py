"""The exports for the level above: DHIS2 dataValueSets JSON and ADX XML from the mapping table,
each validated against its schema (doorstep/command/schemas, README there for the sources)."""

import json
import random
from pathlib import Path

import jsonschema_rs
import xmlschema
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.command.models import DataElementCode, OrgUnitCode
from doorstep.screening.models import HouseholdProgress

from .test_verify import _play

SCHEMAS = Path(__file__).resolve().parents[2] / "doorstep" / "command" / "schemas"


def _mapping(areas):
    DataElementCode.objects.create(figure="households_closed", code="DS_HH_CLOSED")
    DataElementCode.objects.create(figure="persons_seen", code="DS_PERSONS_SEEN")
    for key in ("D", "S1", "S2", "C1"):
        OrgUnitCode.objects.create(area=areas[key], code=f"OU_{key}")


def test_dhis2_data_value_set_is_valid_and_exact(sweep, areas, client_for):
    _play(random.Random(6), sweep, days_back=0, count=10, late_hours=(0, 1))
    _mapping(areas)
    response = client_for(Role.COMMAND, "D").get(reverse("command:exchange_dhis2"))
    assert response.status_code == 200
    payload = json.loads(response.content)
    schema = json.loads((SCHEMAS / "dhis2_data_value_set.schema.json").read_text())
    jsonschema_rs.validate(schema, payload)
    values = {(v["orgUnit"], v["dataElement"]): int(v["value"]) for v in payload["dataValues"]}
    assert len(values) == 8  # 4 mapped areas × 2 mapped figures, nothing unmapped
    closed = HouseholdProgress.objects.filter(closed=True).count()
    assert values[("OU_D", "DS_HH_CLOSED")] == closed
    assert values[("OU_S1", "DS_HH_CLOSED")] + values[("OU_S2", "DS_HH_CLOSED")] == closed
    bad = dict(payload, dataValues=[{"dataElement": "X", "value": "1"}])
    assert not jsonschema_rs.validator_for(schema).is_valid(bad)  # the schema can refuse


def test_adx_message_is_valid(sweep, areas, client_for):
    _play(random.Random(7), sweep, days_back=0, count=6, late_hours=(0, 1))
    _mapping(areas)
    response = client_for(Role.COMMAND, "D").get(reverse("command:exchange_adx"))
    assert response.status_code == 200
    schema = xmlschema.XMLSchema(SCHEMAS / "adx.xsd")
    schema.validate(response.content.decode())
    document = schema.to_dict(response.content.decode())
    groups = document["group"]
    assert {g["@orgUnit"] for g in groups} == {"OU_D", "OU_S1", "OU_S2", "OU_C1"}
    assert all(g["@period"].endswith("/P1D") for g in groups)
    broken = response.content.decode().replace('period="', 'period="x')
    assert not schema.is_valid(broken)


def test_only_command_staff_export(sweep, client_for):
    for role in (Role.STREET_ADMIN, Role.COMMUNITY_ADMIN, Role.GRID_WORKER):
        client = client_for(role)
        assert client.get(reverse("command:exchange_dhis2")).status_code == 404
        assert client.get(reverse("command:exchange_adx")).status_code == 404


def test_facility_beds_as_a_fhir_measure_report(sweep, areas, client_for, user_for):
    from fhir.resources.R4B.measurereport import MeasureReport

    from doorstep.followup.models import Facility

    site = Facility.objects.create(
        name="集中隔离点一", kind="isolation_site", area=areas["S1"], capacity=4
    )
    Facility.objects.create(name="外区隔离点", kind="isolation_site", area=areas["S2"], capacity=0)
    response = client_for(Role.COMMAND, "D").get(reverse("command:exchange_fhir_beds"))
    assert response.status_code == 200
    report = MeasureReport.model_validate_json(response.content)  # the FHIR model validates
    assert report.status == "complete" and report.type == "summary"
    groups = {g.id: g for g in report.group}
    beds = {p.code.coding[0].code: p.count for p in groups[f"facility-{site.pk}"].population}
    assert beds == {"numTotBeds": 4, "numBedsOcc": 0}
    import pytest

    for spoil in ({"status": None}, {"period": {"start": "yesterday"}}, {"group": "beds"}):
        broken = {**json.loads(response.content), **spoil}
        with pytest.raises(ValueError):  # the model refuses what the schema refuses
            MeasureReport.model_validate(broken)
    assert (
        client_for(Role.STREET_ADMIN, "S1").get(reverse("command:exchange_fhir_beds")).status_code
        == 404
    )
