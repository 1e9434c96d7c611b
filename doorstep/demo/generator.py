"""A synthetic Beibei-like district: real street/town names, invented people.

Deterministic for a seed: the same seed and size give byte-identical rosters. Every ID number is
valid (region code, birth date, check digit by python-stdnum) and every phone a valid mobile.
Nobody in it exists.
"""

import csv
import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from stdnum.cn import ric

DISTRICT = ("500109", "北碚区")
# The 17 streets and towns of Beibei district. Codes are sequential demo codes under 500109.
STREETS = [
    "天生街道",
    "朝阳街道",
    "北温泉街道",
    "东阳街道",
    "龙凤桥街道",
    "歇马街道",
    "蔡家岗街道",
    "童家溪街道",
    "水土街道",
    "复兴街道",
    "澄江镇",
    "天府镇",
    "施家梁镇",
    "静观镇",
    "柳荫镇",
    "三圣镇",
    "金刀峡镇",
]
COMMUNITY_NAMES = [
    "状元",
    "碚峡",
    "中山路",
    "新华",
    "文星湾",
    "云泉",
    "梨园",
    "嘉陵",
    "滨江",
    "缙云",
    "双元",
    "毛背沱",
    "龙车寺",
    "蔡家",
    "同兴",
    "翠云",
    "金华",
    "澄江",
    "静观",
    "柳荫",
    "三圣",
    "东升",
    "凤凰",
    "和平",
    "胜利",
    "红岩",
    "紫云",
    "西山",
    "天奇",
    "朝阳",
]
ROADS = [
    "天生路",
    "中山路",
    "北京路",
    "云清路",
    "嘉陵路",
    "正码头路",
    "双元大道",
    "同兴路",
    "蔡家大道",
    "歇马路",
    "金华路",
    "澄江路",
    "缙云大道",
    "龙凤大道",
    "碚峡路",
    "朝阳路",
    "滨江路",
    "文星路",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰志强海燕金凤晓东俊宇欣怡子涵浩然梓萱雨轩思远嘉怡文博佳琪"  # noqa: E501
MOBILE_PREFIXES = [
    "138",
    "139",
    "135",
    "136",
    "137",
    "150",
    "151",
    "152",
    "158",
    "159",
    "182",
    "183",
    "187",
    "188",
    "130",
    "131",
    "132",
    "155",
    "156",
    "185",
    "186",
    "133",
    "153",
    "180",
    "189",
    "177",
    "173",
    "199",
    "166",
]
# Birth regions: mostly Beibei and Chongqing, some migrants (Sichuan, Hubei, Guizhou).
REGIONS = ["500109"] * 14 + ["500103", "500106", "500112", "510104", "420102", "520102"]
HEADER = [
    "社区",
    "网格",
    "户号",
    "地址",
    "姓名",
    "身份证号",
    "联系电话",
    "与户主关系",
    "住户类型",
    "居住类型",
]


@dataclass(frozen=True)
class GridSpec:
    code: str
    name: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str


def plan_areas(persons: int) -> list[GridSpec]:
    """Streets → communities → grids sized so a community holds a few thousand households."""
    households = max(1, persons // 3)
    per_street = households / len(STREETS)
    communities_per_street = max(1, round(per_street / 3000))
    grids_per_community = max(2, round(per_street / communities_per_street / 300))
    grids: list[GridSpec] = []
    community_index = 0
    for s_index, street in enumerate(STREETS, start=1):
        street_code = f"{DISTRICT[0]}{s_index:03d}"
        for c_index in range(1, communities_per_street + 1):
            base = COMMUNITY_NAMES[community_index % len(COMMUNITY_NAMES)]
            if community_index >= len(COMMUNITY_NAMES):  # names stay unique in the district
                base += str(community_index // len(COMMUNITY_NAMES) + 1)
            community_index += 1
            suffix = "村" if street.endswith("镇") and c_index % 2 == 0 else "社区"
            community = f"{base}{suffix}"
            community_code = f"{street_code}{c_index:03d}"
            for g_index in range(1, grids_per_community + 1):
                grids.append(
                    GridSpec(
                        code=f"{community_code}{g_index:02d}",
                        name=f"第{g_index}网格",
                        community_code=community_code,
                        community_name=community,
                        street_code=street_code,
                        street_name=street,
                    )
                )
    return grids


class RosterGenerator:
    def __init__(self, *, persons: int, seed: int):
        self.persons = persons
        self.random = random.Random(seed)
        self.grids = plan_areas(persons)
        self.today = datetime.date(2026, 11, 1)
        self.used_ids: set[str] = set()

    def _id_number(self, *, birth: datetime.date, male: bool) -> str:
        while True:  # one ID number per person in the whole district
            region = self.random.choice(REGIONS)
            order = self.random.randrange(0, 500) * 2 + (1 if male else 0)
            body = f"{region}{birth:%Y%m%d}{order:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def _birth(self, age_low: int, age_high: int) -> datetime.date:
        age_days = self.random.randrange(age_low * 365, age_high * 365 + 364)
        return self.today - datetime.timedelta(days=age_days)

    def _name(self, surname: str | None = None) -> str:
        given = "".join(self.random.choice(GIVEN) for _ in range(self.random.choice((1, 2, 2))))
        return (surname or self.random.choice(SURNAMES)) + given

    def _phone(self) -> str:
        return self.random.choice(MOBILE_PREFIXES) + f"{self.random.randrange(10**8):08d}"

    def _members(self) -> list[tuple[str, str, bool, datetime.date]]:
        """(name, relation, male, birth) of one household, head first."""
        rnd = self.random
        size = rnd.choices([1, 2, 3, 4, 5, 6], weights=[14, 27, 28, 17, 9, 5])[0]
        head_male = rnd.random() < 0.7
        surname = rnd.choice(SURNAMES)
        head_birth = self._birth(25, 85)
        members = [(self._name(surname), "户主", head_male, head_birth)]
        if size >= 2:
            members.append((self._name(), "配偶", not head_male, self._birth(23, 83)))
        head_age = (self.today - head_birth).days // 365
        for _ in range(size - len(members)):
            if head_age > 50 and rnd.random() < 0.4:
                male = rnd.random() < 0.5
                members.append(
                    (self._name(surname), "孙子" if male else "孙女", male, self._birth(0, 20))
                )
            elif head_age < 55 and rnd.random() < 0.3:
                male = rnd.random() < 0.5
                members.append(
                    (
                        self._name(surname),
                        "父亲" if male else "母亲",
                        male,
                        self._birth(head_age + 20, min(head_age + 35, 99)),
                    )
                )
            else:
                male = rnd.random() < 0.5
                members.append(
                    (
                        self._name(surname),
                        "子" if male else "女",
                        male,
                        self._birth(0, max(1, head_age - 20)),
                    )
                )
        return members

    def rows(self) -> Iterator[list[str]]:
        """Roster rows in HEADER order, grid by grid, until `persons` persons are written."""
        rnd = self.random
        written = 0
        per_grid = max(1, self.persons // len(self.grids))
        for g_index, grid in enumerate(self.grids):
            quota = per_grid if g_index < len(self.grids) - 1 else self.persons - written
            road = ROADS[g_index % len(ROADS)]
            house_no = 10 + g_index % 190
            building, unit, floor, door = 1, 1, 1, 1
            grid_written = 0
            household_seq = 0
            while grid_written < quota:
                household_seq += 1
                members = self._members()[: quota - grid_written]
                kind = rnd.choices(["户籍", "租住", "集体"], weights=[75, 22, 3])[0]
                residency = "暂住" if kind == "租住" else "常住"
                address = f"{road}{house_no}号{building}栋{unit}单元{floor}{door:02d}"
                number = f"{grid.code}{household_seq:04d}"
                for name, relation, male, birth in members:
                    age = (self.today - birth).days // 365
                    id_number = (
                        self._id_number(birth=birth, male=male)
                        if age >= 1 or rnd.random() < 0.6
                        else ""
                    )
                    phone = self._phone() if age >= 14 else ""
                    yield [
                        grid.community_name,
                        grid.name,
                        number,
                        address,
                        name,
                        id_number,
                        phone,
                        relation,
                        kind,
                        residency,
                    ]
                grid_written += len(members)
                written += len(members)
                door += 1
                if door > 2:
                    door, floor = 1, floor + 1
                if floor > 8:  # walk-ups: eight floors, then the next unit, then the next building
                    floor, unit = 1, unit + 1
                if unit > 4:
                    unit, building = 1, building + 1


def write_roster_csv(path: Path, *, persons: int, seed: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in RosterGenerator(persons=persons, seed=seed).rows():
            writer.writerow(row)
            count += 1
    return count
