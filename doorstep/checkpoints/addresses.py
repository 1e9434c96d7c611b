"""The address normaliser: what a checkpoint officer types as a destination, split into the
parts that matching looks up (road, house number, building, unit, room) with the place names
in front taken off or kept as hints.

People write the same door many ways: 重庆市北碚区天生街道状元社区天生路12号3栋2单元501室,
天生路十二号三幢二单元501, 天生路12号3-2-501, 北碚天生路12号3号楼2单元501号. All of them
become road 天生路, number 12, building 3, unit 2, room 501. Pure functions, no database.
"""

import re
import unicodedata
from typing import NamedTuple

from doorstep.core.text import clean_text

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_NUMERAL_RUN = re.compile(r"[零〇一二两三四五六七八九十百]+(?=号|栋|幢|座|单元|单|楼|室|层|#)")


def chinese_number(text: str) -> int | None:
    """十二 → 12, 二十 → 20, 一百零五 → 105, 三 → 3, 五零一 → 501 (read digit by digit)."""
    if not text:
        return None
    if "十" not in text and "百" not in text:
        value = 0
        for ch in text:
            if ch not in _DIGITS:
                return None
            value = value * 10 + _DIGITS[ch]
        return value
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _numerals_to_digits(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = chinese_number(match[0])
        return match[0] if value is None else str(value)

    return _NUMERAL_RUN.sub(replace, text)


# Place names in front of the address: a province, a city, a district or county. Kept as the
# "region" so that a district other than ours can be told (handed out), then taken off.
_PROVINCE = re.compile(r"^[\u4e00-\u9fff]{2,7}?(?:省|自治区)")
_CITY = re.compile(r"^[\u4e00-\u9fff]{2,7}?市(?!场)")
_DISTRICT = re.compile(r"^[\u4e00-\u9fff]{1,6}?(?:区|县)")
# Words that end in 区 but name no district.
_NOT_A_DISTRICT = ("小区", "社区", "园区", "片区", "校区", "厂区", "景区", "城区", "街区", "营区")
_STREET_WORD = re.compile(r"^[\u4e00-\u9fff]{2,6}?(?:街道办事处|街道办|街道|镇)")
_COMMUNITY_WORD = re.compile(
    r"[\u4e00-\u9fff]{2,7}?\d{0,2}(?:社区居委会|社区居委|居委会|社区|村委会|村)"
)
# Punctuation, white space of every kind and control characters: none of them tells two
# addresses apart (and a control character left at an end would be trimmed on the next pass).
_FILLER = re.compile(r"[,，。.、;；:：()（）\[\]【】\"'“”‘’\s\x00-\x1f\x7f]")

# The door: road and number, then building / unit / room in any of their spellings.
_ROAD_NUMBER = re.compile(
    r"([\u4e00-\u9fff]{1,12}?(?:大道|大街|路|街|巷|道|弄))(\d+(?:-\d+)?)(?:号|#)?"
)
# A name and a number with no road word ("双元大到12号": 大道 typed as it sounds): the name is
# kept as the road for the matcher to hear; "12号楼" is a building, not this.
_NAME_NUMBER = re.compile(r"([\u4e00-\u9fff]{2,12}?)(\d+(?:-\d+)?)号(?!楼)")
_DASHED = re.compile(r"(\d+)-(\d+)-(\d{3,4})")
_BUILDING = re.compile(r"(\d+)(?:号楼|栋|幢|座|#楼|#|号)")
_UNIT = re.compile(r"(\d+)(?:单元|单)")
_ROOM = re.compile(r"(\d{3,4})(?:室|号|房)?$")
_FLOOR_ROOM = re.compile(r"(\d{1,2})(?:楼|层)(\d{1,2})(?:室|号|房)?$")
# The shape most addresses take once cleaned, road to room and nothing in front: read in one
# pass. Its answers are the general parse's (tests/checkpoints/test_addresses.py compares the
# two); anything else, or a place word anywhere in it, takes the general parse.
_WHOLE_DOOR = re.compile(
    r"([\u4e00-\u9fff]{1,12}?(?:大道|大街|路|街|巷|道|弄))(\d+)号"
    r"(?:(\d+)(?:号楼|栋|幢|座)(\d+)(?:单元|单)(\d{3,4})(?:室|号|房)?|(\d+)-(\d+)-(\d{3,4}))"
)


class AddressParts(NamedTuple):
    # A tuple, not a frozen dataclass: made for every address matched, and a frozen
    # dataclass's __init__ (object.__setattr__ per field) cost more than the parsing.
    text: str  # the cleaned address (full-width folded, spaces and punctuation out)
    region: str = ""  # "重庆市北碚区": what stood in front, province to district
    district: str = ""  # the 区/县 named, if any
    street: str = ""  # "天生街道", if named
    community: str = ""  # "状元社区", if named
    road: str = ""
    number: str = ""
    building: str = ""
    unit: str = ""
    room: str = ""
    rest: str = ""  # what is left of the address before the road, for fuzzy matching

    @property
    def door(self) -> tuple[str, str, str]:
        return (self.building, self.unit, self.room)


def clean_address(raw: object) -> str:
    """NFKC, no spaces or punctuation, Chinese numerals before 号/栋/单元/室 as digits,
    dashes unified."""
    text = clean_text(raw)
    stripped = _FILLER.sub("", text)
    # taking characters out may leave a base letter beside a combining mark: compose again
    if len(stripped) != len(text) and not stripped.isascii():
        stripped = unicodedata.normalize("NFKC", stripped)
    text = stripped.replace("—", "-").replace("~", "-").replace("_", "-")
    if "号院" in text or "号附" in text:
        text = text.replace("号院", "号").replace("号附", "-")
    return _numerals_to_digits(text)


def _take_region(text: str) -> tuple[str, str, str]:
    """(region, district, remaining text)."""
    # Each pattern is tried only when its closing word is in the text at all (most addresses
    # name no province, city or district): the same answers, without the regex's scan.
    region, district = "", ""
    if ("省" in text or "自治区" in text) and (m := _PROVINCE.match(text)):
        region, text = m[0], text[m.end() :]
    if "市" in text and (m := _CITY.match(text)):
        region, text = region + m[0], text[m.end() :]
    if "区" in text or "县" in text:
        m = _DISTRICT.match(text)
        if m and not m[0].endswith(_NOT_A_DISTRICT):
            region += m[0]
            district = m[0]
            text = text[m.end() :]
    return region, district, text


def normalise_address(raw: object) -> AddressParts:
    """Split a typed address into its parts; never raises, whatever the text."""
    text = clean_address(raw)
    return _whole_door(text) or _parse(text)


def _whole_door(text: str) -> AddressParts | None:
    """The parts of "天生路12号3栋2单元501" (or …12号3-2-501) in one regex, or None."""
    m = _WHOLE_DOOR.fullmatch(text)
    if m is None:
        return None
    # a place word anywhere (the general parse would take it off the front): not this shape
    if (
        "区" in text
        or "市" in text
        or "县" in text
        or "省" in text
        or "镇" in text
        or "村" in text
        or "街道" in text
        or "居委会" in text
    ):
        return None
    road, number, building, unit, room, d_building, d_unit, d_room = m.groups()
    if building is None:
        building, unit, room = d_building, d_unit, d_room
    return AddressParts(
        text,
        "",
        "",
        "",
        "",
        road,
        _strip_zeros(number),
        _strip_zeros(building),
        _strip_zeros(unit),
        _strip_zeros(room),
        "",
    )


def _parse(text: str) -> AddressParts:
    """The general parse of a cleaned address."""
    region, district, rest = _take_region(text)
    street = ""
    if ("街道" in rest or "镇" in rest) and (m := _STREET_WORD.match(rest)):
        street, rest = m[0], rest[m.end() :]
    community = ""
    if ("社区" in rest or "居委会" in rest or "村" in rest) and (m := _COMMUNITY_WORD.search(rest)):
        # "状元社区天生路12号": the community, and what follows it
        community = m[0]
        before, after = rest[: m.start()], rest[m.end() :]
        rest = before + after if not _ROAD_NUMBER.search(after) else after
    road = number = ""
    door_text = rest
    if (m := _ROAD_NUMBER.search(rest)) or (m := _NAME_NUMBER.search(rest)):
        road, number = m[1], m[2]
        door_text = rest[m.end() :]
        rest = rest[: m.start()]
    building = unit = room = ""
    if "-" in door_text and (m := _DASHED.search(door_text)):
        building, unit, room = m[1], m[2], m[3]
    else:
        if m := _BUILDING.search(door_text):
            building = m[1]
            door_text = door_text[m.end() :]
        if m := _UNIT.search(door_text):
            unit = m[1]
            door_text = door_text[m.end() :]
        if m := _ROOM.search(door_text):
            room = m[1]
        elif m := _FLOOR_ROOM.search(door_text):
            room = f"{int(m[1])}{int(m[2]):02d}"
    return AddressParts(
        text=text,
        region=region,
        district=district,
        street=street,
        community=community,
        road=road,
        number=_strip_zeros(number),
        building=_strip_zeros(building),
        unit=_strip_zeros(unit),
        room=_strip_zeros(room),
        rest=rest,
    )


def _strip_zeros(value: str) -> str:
    if not value or (value[0] != "0" and "-" not in value):
        return value
    return "-".join(part.lstrip("0") or "0" for part in value.split("-")) if value else ""


def community_base(name: str) -> str:
    """状元社区 → 状元, 蔡家村 → 蔡家; the part people keep when they shorten it."""
    for suffix in ("社区居委会", "社区居委", "居委会", "村委会", "社区", "村"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def street_base(name: str) -> str:
    for suffix in ("街道办事处", "街道办", "街道", "镇", "乡"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def district_base(name: str) -> str:
    for suffix in ("区", "县"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name
