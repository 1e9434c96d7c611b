"""How the words and addresses people type into a resident list become roster fields: word
tables for household kind, residency and sex, addresses split into road / building / unit / room,
and cells turned back into the text a rejected-rows file shows."""

import datetime
import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from doorstep.registry.models import HouseholdKind, Residency, Sex

KIND_WORDS = (
    (("集体",), HouseholdKind.COLLECTIVE),
    (("租", "rent"), HouseholdKind.RENTED),
    (("户籍", "家庭", "常住", "registered", "自有", "自住"), HouseholdKind.REGISTERED),
)
RESIDENCY_WORDS = (
    (("暂住", "temporary"), Residency.TEMPORARY),
    (("流动", "floating"), Residency.FLOATING),
    (("常住", "户籍", "permanent"), Residency.PERMANENT),
)
SEX_WORDS = {
    "男": Sex.MALE,
    "女": Sex.FEMALE,
    "m": Sex.MALE,
    "f": Sex.FEMALE,
    "male": Sex.MALE,
    "female": Sex.FEMALE,
}
KIND_LABEL = gettext_lazy("household kind")
RESIDENCY_LABEL = gettext_lazy("residency")

_BUILDING = re.compile(r"(\d+)(?:栋|幢|号楼|座)")
_UNIT = re.compile(r"(\d+)单元")
_ROOM = re.compile(r"(\d{3,4})(?:室|号)?$")
_ROAD = re.compile(r"^(.*?[路街巷道])(\d+(?:-\d+)?号)")


class RowRejected(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class WordTable:
    """Free text → a choice, through a table of words; answers are remembered per text, since
    a million rows hold a handful of distinct spellings."""

    def __init__(self, table, label):
        self.table, self.label, self.known = table, label, {}

    def __call__(self, text: str):
        if not text:
            return None
        if text not in self.known:
            lowered = text.lower()
            self.known[text] = next(
                (value for words, value in self.table if any(w in lowered for w in words)), None
            )
        value = self.known[text]
        if value is None:
            raise RowRejected(
                _("unknown %(label)s “%(value)s”") % {"label": self.label, "value": text}
            )
        return value


def split_address(address: str) -> dict[str, str]:
    """'双元大道88号3栋2单元501' → road, house number, building, unit, room."""
    parts = {"road": "", "house_number": "", "building": "", "unit": "", "room": ""}
    if m := _ROAD.search(address):
        parts["road"], parts["house_number"] = m[1], m[2]
    if m := _BUILDING.search(address):
        parts["building"] = m[1]
    if m := _UNIT.search(address):
        parts["unit"] = m[1]
    if m := _ROOM.search(address):
        parts["room"] = m[1]
    return parts


def cells_as_text(cells: list) -> list[str]:
    out = []
    for value in cells:
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            value = int(value)
        elif isinstance(value, datetime.datetime | datetime.date):
            value = value.isoformat()
        out.append("" if value is None else str(value))
    return out
