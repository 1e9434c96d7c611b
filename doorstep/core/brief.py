"""What a domain's daily-brief section is made of (DESIGN.md §7).

The types live in the frame (core) so that a domain's `brief.py` describes its section without
importing the command app: command reads every domain, and nothing reads command. A provider
computes its sections for one area and one day as known at one moment, twice over: the fast way
(the stored progress, the database's fold) and from the raw records (`sections_raw`, which
`verify_brief` compares figure by figure).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Protocol

from django.utils import timezone
from django.utils.translation import get_language, gettext

from doorstep.areas.models import Area

# A figure is a count, or a moment ("last record at") written as ISO text, or nothing.
FigureValue = int | str | None


def path_prefixes(path: str) -> list[str]:
    """The paths of an area and of every area above it ("/D/S1/C1/" → "/D/", "/D/S1/",
    "/D/S1/C1/"): the areas whose figures a record there adds to. Rolling per-community tallies
    up with it costs the depth of the tree per community, where testing every area's path
    against every community costs areas × communities (10,000 × thousands at the freeze)."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


_TRANSLATED: dict[tuple[str | None, str], str] = {}


class Texts:
    """`gettext` for the language active when made, each message looked up once per process:
    the evening freeze writes 10,000 areas' sections, and the labels' gettext calls (each
    reading the active language through a context-local) took a third of its time. A section
    builder says `_ = Texts()` and keeps writing `_("…")` (makemessages still finds them)."""

    def __init__(self) -> None:
        self.language = get_language()

    def __call__(self, message: str) -> str:
        key = (self.language, message)
        found = _TRANSLATED.get(key)
        if found is None:
            found = _TRANSLATED[key] = gettext(message)
        return found


@dataclass(frozen=True)
class BriefQuery:
    """One area on one day (Asia/Shanghai), as the records stood at `known_at`.

    A record counts when it was typed by `known_at` (`entered_at`) and happened before the end
    of the day (`visited_at`); for today `known_at` is now, for a snapshot the day's cut-off.
    """

    area: Area
    day: datetime.date
    day_start: datetime.datetime
    day_end: datetime.datetime
    known_at: datetime.datetime

    @property
    def until(self) -> datetime.datetime:
        """Records that happened before this moment count."""
        return min(self.day_end, self.known_at)

    @property
    def is_live(self) -> bool:
        """Today as now known: every record on file counts, so a domain's stored figures (the
        progress rows, the monitorings' check tally: folds of those very records, which the
        recompute commands hold equal) answer for them."""
        return self.known_at >= timezone.now() - datetime.timedelta(seconds=5) and (
            self.day == timezone.localdate()
        )


@dataclass
class ProblemList:
    """An open problem of the section: a figure whose list names records to act on."""

    key: str  # the list's key, as `list_rows` takes it
    label: str
    figure: str  # the figure that counts it


@dataclass
class Table:
    """Rows of figures for display (a ranking, the freshness of each community)."""

    key: str
    title: str
    columns: list[tuple[str, str]]  # (suffix of the figure key, label)
    rows: list[tuple[str, str]]  # (figure key prefix, row label)


@dataclass
class Section:
    key: str  # unique in the brief, e.g. "sweep.12"
    title: str
    figures: dict[str, FigureValue] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # figure key → label
    lists: dict[str, str] = field(default_factory=dict)  # figure key → list key behind it
    trend: list[str] = field(default_factory=list)  # figures compared with the day before
    tables: list[Table] = field(default_factory=list)
    problems: list[ProblemList] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. the campaign's dates


@dataclass(frozen=True)
class ListRow:
    """One record behind a number: its label and the page that opens it."""

    label: str
    detail: str
    url: str


class SectionProvider(Protocol):
    """A domain's contribution to the brief; command lists the providers in
    `doorstep/command/sections.py`."""

    key: str

    def first_day(self, area: Area) -> datetime.date | None:
        """The first day this domain has anything to say about `area` (its campaign's start)."""
        ...

    def sections(self, query: BriefQuery) -> list[Section]: ...

    def sections_raw(self, query: BriefQuery) -> list[Section]: ...

    def sections_for_areas(self, query: BriefQuery, areas: list[Area]) -> dict[int, list[Section]]:
        """Every area under `query.area` at once (the evening freeze)."""
        ...

    def list_rows(self, query: BriefQuery, section_key: str, list_key: str) -> list[ListRow]:
        """The records behind a figure; the caller has checked the area is the user's."""
        ...
