"""Facility beds for the level above as a FHIR MeasureReport (R4-family, built and validated with
`fhir.resources`; its R4B models: R4B is the 4.3 release of R4, and a MeasureReport is the same on
the wire). One group per facility with the population counts of the SANER bed-capacity
measures (total beds, occupied beds) and the occupancy as the measure score."""

from __future__ import annotations

import datetime

from django.utils import timezone
from fhir.resources.R4B.measurereport import MeasureReport

from doorstep.areas.models import Area
from doorstep.core.brief import BriefQuery

from .brief import brief_query

MEASURE = "urn:doorstep:measure:facility-beds"
POPULATION_SYSTEM = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasuredValues"


def facility_beds_report(district: Area, day: datetime.date) -> MeasureReport:
    from doorstep.followup.brief import _facilities_under, tallies_fast

    query: BriefQuery = brief_query(district, day)
    _tallies, facilities = tallies_fast(query)
    mine, names = _facilities_under(district, facilities)
    groups = []
    for facility_id, (occupied, capacity) in sorted(mine.items()):
        groups.append(
            {
                "id": f"facility-{facility_id}",
                "code": {"text": names[facility_id]},
                "population": [
                    {
                        "code": {
                            "coding": [{"system": POPULATION_SYSTEM, "code": "numTotBeds"}],
                            "text": "total beds",
                        },
                        "count": capacity,
                    },
                    {
                        "code": {
                            "coding": [{"system": POPULATION_SYSTEM, "code": "numBedsOcc"}],
                            "text": "occupied beds",
                        },
                        "count": occupied,
                    },
                ],
                "measureScore": {
                    "value": round(occupied / capacity, 4) if capacity else 0,
                    "unit": "ratio",
                },
            }
        )
    start = timezone.localtime(query.day_start)
    end = timezone.localtime(min(query.day_end, query.known_at))
    return MeasureReport.model_validate(
        {
            "resourceType": "MeasureReport",
            "id": f"facility-beds-{district.code}-{day.isoformat()}",
            "status": "complete",
            "type": "summary",
            "measure": MEASURE,
            "date": timezone.localtime().isoformat(timespec="seconds"),
            "period": {
                "start": start.isoformat(timespec="seconds"),
                "end": end.isoformat(timespec="seconds"),
            },
            "reporter": {"display": district.name},
            "group": groups or None,
        }
    )
