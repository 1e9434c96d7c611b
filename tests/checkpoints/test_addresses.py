"""The address normaliser (property tests) and the matcher on a small index."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from doorstep.checkpoints.addresses import (
    _parse,
    _whole_door,
    chinese_number,
    clean_address,
    normalise_address,
)
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
            ("双元大道", "34号", "2", "2", "702", 106, 2),
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
        # the road's own word typed as it sounds (大道 → 大到): heard, not lost
        ("双元大到34号2栋2单元702", "matched", "pinyin_door", 2, 106),
        ("状元12号", "matched", "area_name", 1, None),  # a community's name and a number
        ("中山路8号", "matched", "roster_road", 3, None),
        ("中山路社区", "matched", "area_name", 3, None),
        # a typo, one character off, and the number lies in one community: matched
        ("天牛路12号", "matched", "fuzzy_road", 1, None),
        # a typo, and number, building, unit and room pin one household on the road
        ("天牛路12号3栋2单元501", "matched", "fuzzy_door", 1, 100),
        ("生路12号3-2-502", "matched", "fuzzy_door", 1, 101),  # a character left out
        ("北碚天牛路12号3栋2单元501", "matched", "fuzzy_door", 1, 100),
        # a typo and a number the road does not have: candidates shown
        ("天牛路99号", "uncertain", "fuzzy_road", None, None),
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


# -- the one-pass reading of the common shape answers as the general parse ------------------
door_shapes = st.builds(
    lambda front, road, number, building, word, unit, unit_word, room, room_word, dashed: (
        f"{front}{road}{number}号"
        + (f"{building}-{unit}-{room}" if dashed else f"{building}{word}{unit}{unit_word}{room}")
        + room_word
    ),
    st.sampled_from(["", "北碚", "重庆市北碚区", "天生街道", "状元社区", "新村", "城南镇", "x"]),
    st.sampled_from(["天生路", "双元大道", "正码头路", "北京路", "大道路", "新区路", "解放大街"]),
    st.sampled_from(["12", "012", "0", "7", "120"]),
    st.sampled_from(["3", "03", "0", "12"]),
    st.sampled_from(["栋", "幢", "号楼", "座", "号", "#"]),
    st.sampled_from(["2", "02", "0"]),
    st.sampled_from(["单元", "单", ""]),
    st.sampled_from(["501", "0501", "50", "12345", "1201"]),
    st.sampled_from(["", "室", "号", "房"]),
    st.booleans(),
)


@given(st.one_of(door_shapes, st.text(alphabet="天生路大道号栋单元室区村-0123456789", max_size=30)))
@example("天生路12号3栋2单元501")
@example("天生路12号3-2-501室")
def test_the_whole_door_reading_agrees_with_the_general_parse(written):
    text = clean_address(written)
    fast = _whole_door(text)
    assert fast is None or fast == _parse(text)
    assert normalise_address(written) == _parse(text)


def test_the_common_shapes_take_the_one_pass_reading():
    for written in ("天生路12号3栋2单元501", "双元大道34号2-2-702", "天生路12号3号楼2单元501室"):
        assert _whole_door(clean_address(written)) is not None


# -- typos: matched only where one reading is clearly the one -----------------------------
@pytest.fixture(scope="module")
def close_roads():
    """天生路 (community 1) and 天山路 (community 2), one character apart, share a door;
    文星路 (community 3) has door 7 only."""
    return DestinationIndex.build(
        district_name="北碚区",
        streets=[],
        communities=[(1, "状元社区"), (2, "碚峡社区"), (3, "文星社区")],
        households=[
            ("天生路", "12号", "3", "2", "501", 100, 1),
            ("天山路", "12号", "3", "2", "501", 200, 2),
            ("天山路", "30号", "1", "1", "101", 201, 2),
            ("文星路", "7号", "1", "1", "101", 300, 3),
        ],
    )


def test_a_typo_between_two_close_communities_stays_uncertain_with_both(close_roads):
    # "天乙路" is one character from 天生路 and from 天山路, and the door is on both
    match = close_roads.match("天乙路12号3栋2单元501")
    assert match.status == "uncertain" and match.community_id is None
    assert {c.community_id for c in match.candidates} == {1, 2}
    assert match.confidence < 0.85


def test_a_typo_whose_door_is_on_one_of_two_close_roads_is_matched_there(close_roads):
    # 30号 is on 天山路 only: the rest of the address decides
    match = close_roads.match("天乙路30号1栋1单元101")
    assert (match.status, match.method) == ("matched", "fuzzy_door")
    assert (match.community_id, match.household_id) == (2, 201)


def test_a_typo_never_outweighs_a_community_named_otherwise(close_roads):
    # the door reads as 天山路 (community 2) but the address names 文星社区: both shown
    match = close_roads.match("文星社区天乙路30号1栋1单元101")
    assert match.status == "uncertain"
    assert {c.community_id for c in match.candidates} == {2, 3}


ROADS = ["天生路", "中山路", "北京路", "云清路", "嘉陵路", "正码头路", "双元大道", "同兴路"]
ROADS += ["蔡家大道", "歇马路", "金华路", "澄江路", "缙云大道", "龙凤大道", "碚峡路", "文星路"]


@pytest.fixture(scope="module")
def demo_roads():
    """The demo's roads, five numbers each, each number a household of its own community."""
    households = []
    for r, road in enumerate(ROADS):
        for number in range(10, 15):
            pk = r * 100 + number
            households.append((road, f"{number}号", "1", "1", "101", pk, (r * 5 + number) % 7 + 1))
    return DestinationIndex.build(
        district_name="北碚区",
        streets=[],
        communities=[(pk, f"社区{pk}") for pk in range(1, 8)],
        households=households,
    )


@given(
    road=st.sampled_from(ROADS),
    number=st.integers(min_value=10, max_value=14),
    where=st.integers(min_value=0, max_value=3),
    typed=st.sampled_from(["", "乙", "犇", "龘"]),
    door=st.booleans(),
)
def test_a_typo_in_the_road_is_never_matched_elsewhere(
    demo_roads, road, number, where, typed, door
):
    # one character of the road's name left out ("") or mistyped, never its road word
    i = where % (len(road) - 1)
    written = road[:i] + typed + road[i + 1 :] + f"{number}号" + ("1栋1单元101" if door else "")
    expected = (ROADS.index(road) * 5 + number) % 7 + 1
    match = demo_roads.match(written)
    if match.status == "matched":
        assert match.community_id == expected, written
        if door:
            assert match.household_id == ROADS.index(road) * 100 + number
    else:
        assert match.status == "uncertain", written
        assert expected in {c.community_id for c in match.candidates}, written


def test_the_road_word_alone_makes_no_rival(demo_roads):
    # "蔡乙大道": 蔡家大道 one character off; the other 大道 share only the road word, and the
    # tail "大道" alone once made each of them a rival (uncertain)
    match = demo_roads.match("蔡乙大道10号1栋1单元101")
    assert (match.status, match.method) == ("matched", "fuzzy_door")
    assert match.household_id == ROADS.index("蔡家大道") * 100 + 10


@given(
    st.one_of(
        door_shapes, st.text(alphabet="天生路北京中山滨江号栋单元室区-0123456789", max_size=30)
    )
)
@example("天生路12号3栋2单元501")
@example("滨江路9号2栋1单元101")
def test_the_short_way_to_a_known_door_answers_as_the_general_path(index, written):
    assert index.match(written) == index._match_parts(normalise_address(written))
