"""The day's aggregate figures for the level above, in its own formats: DHIS2 dataValueSets JSON
and IHE ADX XML. What goes out is set by the mapping table (`DataElementCode`: figure → data
element code; `OrgUnitCode`: area → org unit code); an area or a figure without a code is not
sent. The figures are exact (the recipient is an authorised health authority, not the public)."""

from __future__ import annotations

import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from django.conf import settings
from django.utils import timezone

from doorstep.areas.models import Area

from .bulletins import figures_by_area
from .models import DataElementCode, OrgUnitCode

ADX_NAMESPACE = "urn:ihe:qrph:adx:2015"


def _values(district: Area, day: datetime.date) -> list[tuple[str, str, int]]:
    """(org unit code, data element code, value) for every mapped area and figure."""
    elements = list(DataElementCode.objects.order_by("code"))
    if not elements:
        return []
    areas, figures = figures_by_area(district, day, [e.figure for e in elements])
    units = dict(OrgUnitCode.objects.filter(area__in=areas).values_list("area_id", "code"))
    return [
        (units[area.pk], element.code, figures[area.pk][element.figure])
        for area in areas
        if area.pk in units
        for element in elements
    ]


def data_value_set(district: Area, day: datetime.date) -> dict[str, Any]:
    period = day.strftime("%Y%m%d")
    return {
        "dataSet": settings.DOORSTEP_EXCHANGE_DATASET,
        "completeDate": timezone.localdate().isoformat(),
        "period": period,
        "dataValues": [
            {"dataElement": element, "period": period, "orgUnit": unit, "value": str(value)}
            for unit, element, value in _values(district, day)
        ],
    }


def adx_message(district: Area, day: datetime.date) -> bytes:
    root = Element("adx", {"xmlns": ADX_NAMESPACE})
    root.set("exported", timezone.now().replace(microsecond=0).isoformat())
    groups: dict[str, Element] = {}
    for unit, element, value in _values(district, day):
        group = groups.get(unit)
        if group is None:
            group = groups[unit] = SubElement(
                root,
                "group",
                {
                    "orgUnit": unit,
                    "period": f"{day.isoformat()}/P1D",
                    "dataSet": settings.DOORSTEP_EXCHANGE_DATASET,
                },
            )
        SubElement(group, "dataValue", {"dataElement": element, "value": str(value)})
    message: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return message
