"""Destination matching: a typed address → a community of the district (and where the roster
knows the door, its household).

Two sources, both of the district only: the area tree's names (streets, communities) and the
addresses the roster holds (road, number, building, unit, room of every household). The
address is normalised first (addresses.py); then, in order of trust:

1. the roster's door: road + number (+ building/unit/room) found as typed → that household's
   community (method `roster_door`, or `roster_road` when only road and number are known);
2. the same with a road that sounds the same (pypinyin: 天声路 → 天生路, method `pinyin`) or is
   a typo away (rapidfuzz, method `fuzzy`);
3. the community's name in the address (exact, same-sounding or a typo away: `area_name`,
   `area_pinyin`, `area_fuzzy`).

Each result carries its method and a confidence in [0, 1]. At or above MATCHED_AT it is a
match; between UNCERTAIN_AT and MATCHED_AT it is uncertain and lists its candidates (best
first), which the command staff choose from; below, nothing matched. When the road and the
named community disagree the answer is uncertain with both.

The index is built from the database once per district and process and rebuilt when the roster
changes (checked at most every INDEX_TTL seconds); `DestinationIndex.build` takes plain rows, so
benches and tests build one from generated data.
"""

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.db.models import Count, Max
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import prefix_q
from doorstep.registry.models import Household

from .addresses import (
    AddressParts,
    community_base,
    district_base,
    normalise_address,
    street_base,
)

MATCHED_AT = 0.85
ROAD_WORDS = ("大道", "大街", "路", "街", "巷", "道", "弄")
UNCERTAIN_AT = 0.5
INDEX_TTL = 60.0
# Roads at least this similar (rapidfuzz ratio, 0-100) to the typed one are read as typos of it
FUZZY_CUTOFF = 60
# Another reading this close (similarity) to the best keeps a typo uncertain
CLOSE_BY = 0.2


class Candidate(NamedTuple):
    community_id: int
    name: str
    score: float


class Match(NamedTuple):
    # Tuples, not frozen dataclasses: one or two are made for every address matched.
    status: str  # matched | uncertain | unmatched | outside
    method: str
    confidence: float
    community_id: int | None = None
    household_id: int | None = None
    candidates: tuple[Candidate, ...] = ()

    def candidates_json(self) -> list[dict[str, object]]:
        return [
            {"community": c.community_id, "name": c.name, "score": round(c.score, 3)}
            for c in self.candidates
        ]


@lru_cache(maxsize=65536)
def sound_of(text: str) -> str:
    """The pinyin of a name without tones: 天声路 and 天生路 both sound "tianshenglu"."""
    return "".join(lazy_pinyin(text, style=Style.NORMAL, errors="ignore"))


@dataclass
class _Door:
    """One road number: its households ("building/unit/room" → (household, community))."""

    households: dict[str, tuple[int, int]] = field(default_factory=dict)
    communities: set[int] = field(default_factory=set)


@dataclass
class DestinationIndex:
    district_names: tuple[str, ...]  # 北碚区, 北碚
    home_regions: tuple[str, ...]  # the province/city in front of our addresses (重庆市)
    communities: dict[int, str]  # id → name
    community_by_name: dict[str, int]  # full and base names → id
    community_by_sound: dict[str, int]
    street_names: tuple[str, ...]
    # road → number → door; roads by sound
    roads: dict[str, dict[str, _Door]]
    road_by_sound: dict[str, str]
    road_names: list[str]
    # Communities whose roster holds a road (for an address that gives no number)
    road_communities: dict[str, set[int]]

    @classmethod
    def build(
        cls,
        *,
        district_name: str,
        streets: Iterable[str],
        communities: Iterable[tuple[int, str]],
        households: Iterable[tuple[str, str, str, str, str, int, int]],
        home_regions: Iterable[str] = ("重庆市", "重庆"),
    ) -> "DestinationIndex":
        """`households`: (road, house_number, building, unit, room, household id, community id)."""
        names = dict(communities)
        by_name: dict[str, int] = {}
        by_sound: dict[str, int] = {}
        for pk, name in names.items():
            for key in {name, community_base(name)}:
                by_name.setdefault(key, pk)
                by_sound.setdefault(sound_of(key), pk)
        roads: dict[str, dict[str, _Door]] = {}
        road_communities: dict[str, set[int]] = {}
        for road, number, building, unit, room, household_id, community_id in households:
            parts = normalise_address(f"{road}{number}号")
            road_key = parts.road or road
            number_key = parts.number or number
            if not road_key:
                continue
            door = roads.setdefault(road_key, {}).get(number_key)
            if door is None:
                door = roads[road_key][number_key] = _Door()
            door.households[_door_key(building, unit, room)] = (household_id, community_id)
            door.communities.add(community_id)
            road_communities.setdefault(road_key, set()).add(community_id)
        return cls(
            district_names=(district_name, district_base(district_name)),
            home_regions=tuple(home_regions),
            communities=names,
            community_by_name=by_name,
            community_by_sound=by_sound,
            street_names=tuple(sorted(set(streets) | {street_base(s) for s in streets}, key=len)),
            roads=roads,
            road_by_sound={sound_of(r): r for r in roads},
            road_names=sorted(roads, key=len, reverse=True),
            road_communities=road_communities,
        )

    # -- matching ---------------------------------------------------------------------------
    def match(self, address: str, *, outside: bool = False) -> Match:
        if outside:
            return Match("outside", "declared", 1.0)
        parts = normalise_address(address)
        if parts.number and not (parts.region or parts.community or parts.rest):
            # the common case, a known road's door and nothing else: the answer of the general
            # path (`_match_parts`), without its steps
            door = self.roads.get(parts.road, {}).get(parts.number)
            found = self._household_at(door, parts) if door is not None else None
            if found is not None:
                return Match("matched", "roster_door", 1.0, found[1], found[0])
        return self._match_parts(parts)

    def _match_parts(self, parts: AddressParts) -> Match:
        if not parts.text:
            return Match("unmatched", "empty", 0.0)
        if parts.district and not parts.district.endswith(self.district_names):
            return Match("outside", "district_name", 1.0)
        in_front = parts.region[: len(parts.region) - len(parts.district)]
        if in_front and not any(in_front.startswith(r) for r in self.home_regions):
            return Match("outside", "region_name", 1.0)
        by_door = self._by_door(parts)
        by_name = self._by_community_name(parts)
        if (
            by_door is None
            and by_name is None
            and parts.road
            and not parts.road.endswith(ROAD_WORDS)
        ):
            # a name and a number that no road answers to may be a community's ("状元12号")
            by_name = self._by_community_name(parts._replace(rest=parts.rest + parts.road))
        if by_door and by_door.community_id is None:
            if by_name and by_name.community_id in {c.community_id for c in by_door.candidates}:
                return self._finish(by_name._replace(confidence=MATCHED_AT))
            return by_door._replace(status="uncertain")
        if by_door and by_name and by_door.community_id != by_name.community_id:
            best = sorted((by_door, by_name), key=lambda m: -m.confidence)
            return Match(
                "uncertain",
                "disagree",
                min(best[0].confidence, MATCHED_AT - 0.05),
                candidates=tuple(self._candidate(m) for m in best),
            )
        found = by_door or by_name
        if found is None:
            return self._unmatched(parts)
        if by_door and by_name and found.confidence < MATCHED_AT:
            # the road was a guess, and the community's name agrees: believe both
            found = found._replace(confidence=MATCHED_AT)
        return self._finish(found)

    def _finish(self, found: Match) -> Match:
        if found.confidence >= MATCHED_AT:
            return Match(
                "matched", found.method, found.confidence, found.community_id, found.household_id
            )
        candidate = self._candidate(found)
        if found.confidence >= UNCERTAIN_AT:
            return Match("uncertain", found.method, found.confidence, candidates=(candidate,))
        return Match("unmatched", found.method, found.confidence, candidates=(candidate,))

    def _candidate(self, found: Match) -> Candidate:
        pk = found.community_id or 0
        return Candidate(pk, self.communities.get(pk, ""), found.confidence)

    def _unmatched(self, parts: AddressParts) -> Match:
        return Match("unmatched", "none", 0.0)

    def _road(self, parts: AddressParts) -> tuple[str, str, float] | None:
        """(known road, method, confidence) for the typed road as written or as it sounds, or
        None (a typo is `_by_fuzzy_door`'s)."""
        typed = parts.road
        if not typed:
            return None
        if typed in self.roads:
            return typed, "roster", 1.0
        for road in self.road_names:  # "北碚天生路": a known road at the end of the token
            if typed.endswith(road):
                return road, "roster", 1.0
        for start in range(len(typed) - 1):
            by_sound = self.road_by_sound.get(sound_of(typed[start:]))
            if by_sound is not None:
                return by_sound, "pinyin", 0.92
        return None

    def _fuzzy_roads(self, typed: str) -> list[tuple[str, float, int]]:
        """Known roads a typo away from the typed one: (road, similarity in [0, 1], edits),
        best first. The typed token may carry a place name in front ("北碚天牛路"): each
        road is scored against the best of the token's tails."""
        found = process.extract(
            typed, self.road_names, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=8
        )
        # tails of three characters or more: "大道" or "路" alone is every road's word
        tails = [typed[start:] for start in range(1, len(typed) - 2)]
        for tail in tails:
            found += process.extract(
                tail, self.road_names, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=8
            )
        best: dict[str, tuple[float, int]] = {}
        for road, score, _i in found:
            edits = min(Levenshtein.distance(t, road) for t in (typed, *tails))
            known = best.get(road)
            if known is None or score / 100 > known[0]:
                best[road] = (score / 100, edits)
        return sorted(
            ((road, score, edits) for road, (score, edits) in best.items()),
            key=lambda r: (-r[1], r[2], r[0]),
        )

    def _household_at(self, door: _Door, parts: AddressParts) -> tuple[int, int] | None:
        """(household, community) that building/unit/room name at this number, or None."""
        if not (parts.building or parts.room):
            return None
        found = door.households.get(_door_key(parts.building, parts.unit, parts.room))
        if found is None and not parts.unit:
            hits = [
                hit
                for key, hit in door.households.items()
                if key.startswith(f"{parts.building}/") and key.endswith(f"/{parts.room}")
            ]
            found = hits[0] if len(hits) == 1 else None
        return found

    def _by_door(self, parts: AddressParts) -> Match | None:
        known = self._road(parts)
        if known is None:
            return self._by_fuzzy_door(parts)
        road, how, confidence = known
        numbers = self.roads[road]
        door = numbers.get(parts.number) if parts.number else None
        if door is None:
            communities = self.road_communities.get(road, set())
            if len(communities) == 1:
                (only,) = communities
                return Match("", f"{how}_road", confidence * 0.9, only)
            return None
        method = f"{how}_road"
        found = self._household_at(door, parts)
        if found is not None:
            return Match("", f"{how}_door", confidence, found[1], found[0])
        if len(door.communities) == 1:
            (only,) = door.communities
            return Match("", method, confidence, only)
        # one number, several communities (a big estate): the door decides, and it is unknown
        return Match(
            "",
            f"{how}_ambiguous",
            min(confidence, MATCHED_AT - 0.1),
            None,
            None,
            tuple(
                Candidate(pk, self.communities.get(pk, ""), MATCHED_AT - 0.1)
                for pk in sorted(door.communities)
            ),
        )

    def _by_fuzzy_door(self, parts: AddressParts) -> Match | None:
        """A road a typo away. It is a match only where one reading is clearly the one: the
        road is one character off and its number lies in one community, or the rest of the
        address (number, building, unit, room) pins a single household on it; and no other
        road as close (or closer, without that door) leads elsewhere. Otherwise the roads'
        communities are the candidates."""
        typed = parts.road
        if not typed:
            return None
        roads = self._fuzzy_roads(typed)
        if not roads:
            return None
        readings = []  # (road, score, edits, communities at the number, household)
        for road, score, edits in roads:
            door = self.roads[road].get(parts.number) if parts.number else None
            if door is not None:
                readings.append(
                    (road, score, edits, door.communities, self._household_at(door, parts))
                )
        if not readings:
            road, score, _edits = roads[0]
            communities = self.road_communities.get(road, set())
            if len(communities) != 1:
                return None
            (only,) = communities
            return Match("", "fuzzy_road", score * 0.95 * 0.9, only)
        top = max(readings, key=lambda r: (r[4] is not None, r[1], -r[2]))
        road, score, edits, communities, household = top
        pinned = {household[1]} if household is not None else communities
        rivals = [
            r for r in readings if r is not top and r[3] - pinned and r[1] >= score - CLOSE_BY
        ]
        # a road closer to what was typed, without this number, may be the right one too
        closer = [r for r in roads if r[1] > score + 0.05 and r[0] != road]
        sure = not rivals and not closer and len(pinned) == 1
        if sure and household is not None and edits <= 2:
            return Match("", "fuzzy_door", 0.9 if edits <= 1 else 0.86, household[1], household[0])
        if sure and edits <= 1:
            (only,) = pinned
            return Match("", "fuzzy_road", 0.86, only)
        guess = min(score * 0.95, MATCHED_AT - 0.05)
        if not rivals and len(pinned) == 1:
            (only,) = pinned
            return Match("", "fuzzy_road", guess, only)
        scores: dict[int, float] = {}
        for _road, r_score, _edits, r_communities, r_household in (top, *rivals):
            for pk in {r_household[1]} if r_household else r_communities:
                scores[pk] = max(scores.get(pk, 0.0), min(r_score * 0.95, guess))
        return Match(
            "",
            "fuzzy_ambiguous",
            guess,
            None,
            None,
            tuple(
                Candidate(pk, self.communities.get(pk, ""), s)
                for pk, s in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
            ),
        )

    def _by_community_name(self, parts: AddressParts) -> Match | None:
        typed = parts.community
        if not typed:
            # the base name alone, where it is not part of a road ("状元天生路12号")
            head = parts.rest
            if len(head) < 2:
                return None
            for name, pk in self.community_by_name.items():
                if len(name) >= 2 and name in head:
                    return Match("", "area_name", 0.9, pk)
            return None
        for start in range(len(typed) - 1):
            tail = typed[start:]
            named = self.community_by_name.get(tail) or self.community_by_name.get(
                community_base(tail)
            )
            if named is not None:
                return Match("", "area_name", 0.95, named)
        for start in range(len(typed) - 1):
            tail = community_base(typed[start:])
            sounded = self.community_by_sound.get(sound_of(tail))
            if sounded is not None and len(tail) >= 2:
                return Match("", "area_pinyin", 0.88, sounded)
        best = process.extractOne(
            community_base(typed), list(self.community_by_name), scorer=fuzz.ratio, score_cutoff=60
        )
        if best is None:
            return None
        return Match("", "area_fuzzy", best[1] / 100 * 0.9, self.community_by_name[best[0]])


def _door_key(building: str, unit: str, room: str) -> str:
    return f"{building.lstrip('0')}/{unit.lstrip('0')}/{room.lstrip('0')}"


# -- the index of a district, from the database -------------------------------------------------
HOUSEHOLD_FIELDS = ("road", "house_number", "building", "unit", "room", "pk", "grid__parent_id")
_lock = threading.Lock()
_indexes: dict[int, tuple[float, tuple[int, object], DestinationIndex]] = {}


def _signature(district_path: str) -> tuple[int, object]:
    row = Household.objects.filter(prefix_q("grid__path", district_path)).aggregate(
        n=Count("pk"), at=Max("updated_at")
    )
    return (row["n"], row["at"])


def index_for_district(district: Area) -> DestinationIndex:
    """The district's index: built once per process, rebuilt when the roster has changed."""
    now = time.monotonic()
    cached = _indexes.get(district.pk)
    if cached is not None and now - cached[0] < INDEX_TTL:
        return cached[2]
    signature = _signature(district.path)
    if cached is not None and cached[1] == signature:
        _indexes[district.pk] = (now, signature, cached[2])
        return cached[2]
    with _lock:
        below = Area.objects.filter(prefix_q("path", district.path))
        index = DestinationIndex.build(
            district_name=district.name,
            home_regions=settings.DOORSTEP_CHECKPOINT_HOME_REGIONS,
            streets=below.filter(level=AreaLevel.STREET).values_list("name", flat=True),
            communities=below.filter(level=AreaLevel.COMMUNITY).values_list("pk", "name"),
            households=Household.objects.filter(prefix_q("grid__path", district.path))
            .values_list(*HOUSEHOLD_FIELDS)
            .iterator(chunk_size=5000),
        )
        _indexes[district.pk] = (now, signature, index)
    return index


def forget_indexes() -> None:
    """Tests build rosters and match against them at once."""
    _indexes.clear()
