"""The address normaliser (property tests) and the matcher on a small index."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from doorstep.checkpoints.addresses import chinese_number, clean_address, normalise_address
from doorstep.checkpoints.matching import DestinationIndex

DIGITS = "零一二三四五六七八九"


def _chinese(n: int) -> str:
    """12 → 十二, 20 → 二十, 105 → 一百零五 (the way people write house numbers)."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return "十" + (DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return DIGITS[n // 10] + "十" + (DIGITS[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + DIGITS[rest] if rest < 10 else _chinese(rest))
    if 10 <= rest < 20:
        tail = "一" + _chinese(rest)
    return DIGITS[n // 100] + "百" + tail


@given(st.integers(min_value=0, max_value=999))
def test_chinese_numbers_read_back(n):
    assert chinese_number(_chinese(n)) == n


roads = st.sampled_from(["天生路", "双元大道", "中山路", "正码头路", "北京路"])
numbers = st.integers(min_value=1, max_value=299)
buildings = st.integers(min_value=1, max_value=30)
units = st.integers(min_value=1, max_value=6)
rooms = st.integers(min_value=1, max_value=33).flatmap(
    lambda floor: st.integers(min_value=1, max_value=4).map(lambda door: floor * 100 + door)
)
building_words = st.sampled_from(["栋", "幢", "号楼", "座"])
room_words = st.sampled_from(["", "室", "号"])
prefixes = st.sampled_from(
    ["", "重庆市", "重庆市北碚区", "北碚区", "北碚区天生街道", "重庆市北碚区天生街道状元社区"]
)


@given(prefixes, roads, numbers, buildings, units, rooms, building_words, room_words, st.booleans())
def test_every_spelling_of_a_door_gives_the_same_parts(
    prefix, road, number, building, unit, room, building_word, room_word, in_chinese
):
    number_text = _chinese(number) if in_chinese else str(number)
    building_text = _chinese(building) if in_chinese else str(building)
    door = f"{building_text}{building_word}{unit}单元{room}{room_word}"
    written = f"{prefix}{road}{number_text}号{door}"
    parts = normalise_address(written)
    assert (parts.road, parts.number) == (road, str(number))
    assert parts.door == (str(building), str(unit), str(room))
    dashed = normalise_address(f"{prefix}{road}{number}号{building}-{unit}-{room}")
    assert dashed.door == parts.door and dashed.road == road


@given(st.text(max_size=80))
@example("0\x1f。")  # a control character left at the end once the punctuation went
def test_any_text_normalises_without_error(text):
    parts = normalise_address(text)
    assert isinstance(parts.road, str)
    # normalising the cleaned text again changes nothing
    assert normalise_address(parts.text) == parts


@given(st.text(alphabet="天生路号栋单元室 0123456789-一二三十", max_size=40))
def test_cleaning_is_idempotent(text):
    once = clean_address(text)
    assert clean_address(once) == once


@pytest.fixture(scope="module")
def index():
    return DestinationIndex.build(
        district_name="北碚区",
        streets=["天生街道"],
        communities=[(1, "状元社区"), (2, "碚峡社区"), (3, "中山路社区")],
        households=[
            ("天生路", "12号", "3", "2", "501", 100, 1),
            ("天生路", "12号", "3", "2", "502", 101, 1),
            ("北京路", "5号", "1", "1", "101", 102, 2),
            ("中山路", "8号", "1", "1", "101", 103, 3),
            ("滨江路", "9号", "1", "1", "101", 104, 1),
            ("滨江路", "9号", "2", "1", "101", 105, 2),
        ],
    )


@pytest.mark.parametrize(
    ("address", "status", "method", "community", "household"),
    [
        ("重庆市北碚区天生街道状元社区天生路12号3栋2单元501室", "matched", "roster_door", 1, 100),
        ("天生路十二号三幢二单元502", "matched", "roster_door", 1, 101),
        ("北碚天生路12号3号楼2单元501号", "matched", "roster_door", 1, 100),
        ("天声路12号3-2-501", "matched", "pinyin_door", 1, 100),  # same-sounding character
        ("状圆社区", "matched", "area_pinyin", 1, None),
        ("中山路8号", "matched", "roster_road", 3, None),
        ("中山路社区", "matched", "area_name", 3, None),
        ("天牛路12号", "uncertain", "fuzzy_road", None, None),  # a typo: candidates shown
        ("碚峡社区天生路12号", "uncertain", "disagree", None, None),
        ("滨江路9号", "uncertain", "roster_ambiguous", None, None),
        ("滨江路9号2栋1单元101", "matched", "roster_door", 2, 105),
        ("江北区观音桥", "outside", "district_name", None, None),
        ("四川省成都市锦江区春熙路", "outside", "district_name", None, None),
        ("成都市春熙路", "outside", "region_name", None, None),
        ("不知道", "unmatched", "none", None, None),
    ],
)
def test_matches_carry_their_method(index, address, status, method, community, household):
    match = index.match(address)
    assert (match.status, match.method) == (status, method)
    assert match.community_id == community and match.household_id == household
    if status == "uncertain":
        assert match.candidates and 0.5 <= match.confidence < 0.85
    if status == "matched":
        assert match.confidence >= 0.85
