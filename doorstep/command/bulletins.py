"""The public bulletin (信息发布): drafted from the day's figures and a text template, edited by
command staff, approved by a second command user, published; a correction is a new version.

Figures: the district, its streets and communities, from the day's snapshots (the figures of the
meeting) or, for a day not frozen, as now known. Disclosure control (disclosure.py) runs when the
draft is made and again on each edit of k, and its log is stored with the bulletin.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.areas.selectors import area_subtree
from doorstep.core.services import audit_write

from . import disclosure
from .brief import BriefDateError, check_day, sections_from_json
from .models import BriefSnapshot, Bulletin, BulletinStatus
from .services import _sections_for_areas

# The published measures: (figure key summed over the sweep sections, label)
MEASURES = [
    ("persons_seen", "persons screened"),
    ("households_closed", "households screened"),
    ("persons_flagged", "persons flagged"),
]
DEFAULT_TEMPLATE = (
    "{date}，{district}累计完成摸排{households_closed}户、{persons_seen}人，"
    "发现需关注人员{persons_flagged}人。各街道、社区情况见下表。"
)


class BulletinRefused(ValueError):
    """A bulletin action that the rules do not allow (said in the message)."""


def measure_labels() -> dict[str, str]:
    return {
        "persons_seen": _("Persons screened"),
        "households_closed": _("Households screened"),
        "persons_flagged": _("Persons flagged"),
    }


def figures_by_area(
    district: Area, day: datetime.date, keys: list[str] | None = None
) -> tuple[list[Area], dict[int, dict[str, int]]]:
    """(district, streets and communities in tree order, {area id: {figure: count}}): the sweep
    sections' figures summed, from the day's snapshots or, for a day not frozen, as now known."""
    areas = [
        a
        for a in area_subtree(district).order_by("path")
        if a.level in (AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY)
    ]
    snapshots = {
        s.area_id: sections_from_json(s.sections)
        for s in BriefSnapshot.objects.filter(day=day, area__in=areas)
    }
    missing = [a for a in areas if a.pk not in snapshots]
    if missing:
        snapshots.update(_sections_for_areas(district, day, timezone.now(), missing))
    values: dict[int, dict[str, int]] = {}
    for area in areas:
        totals = dict.fromkeys(keys or [m for m, _label in MEASURES], 0)
        for section in snapshots.get(area.pk, []):
            if section.key.startswith("sweep."):
                for measure in totals:
                    value = section.figures.get(measure)
                    totals[measure] += value if isinstance(value, int) else 0
        values[area.pk] = totals
    return areas, values


def _suppressed_table(
    district: Area, day: datetime.date, k: int
) -> tuple[list[Area], dict[str, disclosure.Suppressed], dict[int, dict[str, int]]]:
    areas, values = figures_by_area(district, day)
    by_id = {a.pk: a for a in areas}
    tables = {}
    for measure, _label in MEASURES:
        cells = {
            a.code: disclosure.Cell(
                code=a.code,
                parent=by_id[a.parent_id].code if a.parent_id in by_id else None,
                value=values[a.pk][measure],
            )
            for a in areas
        }
        tables[measure] = disclosure.suppress(cells, root=district.code, k=k)
    return areas, tables, values


def build_table(
    district: Area, day: datetime.date, k: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, int]]:
    """(published rows, suppression log, the district's exact totals); refused when a hidden
    count of the day cannot be protected."""
    areas, today, values = _suppressed_table(district, day, k)
    _refuse_unprotected(
        areas, {m: table.unprotectable for m, table in today.items() if table.unprotectable}
    )
    first = day - datetime.timedelta(days=1)
    try:
        check_day(district, first)
        _areas, before, _values = _suppressed_table(district, first, k)
    except BriefDateError:
        before = {}
    rows: list[dict[str, Any]] = []
    log: list[dict[str, Any]] = []
    deltas = {}
    for measure, _label in MEASURES:
        shown, change_log = disclosure.changes(today[measure], before.get(measure), k=k)
        deltas[measure] = shown
        log += [{"measure": measure, **entry} for entry in today[measure].log]
        log += [{"measure": measure, **entry} for entry in change_log]
    for area in areas:
        rows.append(
            {
                "code": area.code,
                "name": area.name,
                "level": area.level,
                "cells": {
                    m: {
                        "shown": today[m].shown(area.code, k),
                        "change": deltas[m].get(area.code),
                    }
                    for m, _label in MEASURES
                },
            }
        )
    totals = values[areas[0].pk] if areas else {}
    return rows, log, totals


def _refuse_unprotected(areas: list[Area], pinned: dict[str, list[str]]) -> None:
    """Refuse a table in which these hidden counts (measure → area codes) can be worked out."""
    if not pinned:
        return
    names = {a.code: a.name for a in areas}
    labels = measure_labels()
    cells = "; ".join(
        f"{labels.get(m, m)}: {', '.join(names.get(c, c) for c in codes)}"
        for m, codes in pinned.items()
    )
    raise BulletinRefused(
        _(
            "the table cannot be published: a hidden count could be worked out from the "
            "published figures (%(cells)s); choose another k or another day"
        )
        % {"cells": cells}
    )


def _pinned_in_stored_table(bulletin: Bulletin) -> tuple[list[Area], dict[str, list[str]]]:
    """What an attacker works out from the table as it would be published: its shown values,
    its markers ("<k" 1..k−1, "×" at least k) and the area tree."""
    areas = [
        a
        for a in area_subtree(bulletin.district).order_by("path")
        if a.level in (AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY)
    ]
    by_id = {a.pk: a for a in areas}
    parents = {
        a.code: disclosure.Cell(
            code=a.code,
            parent=by_id[a.parent_id].code if a.parent_id in by_id else None,
            value=0,
        )
        for a in areas
    }
    rows = [r for r in bulletin.table if r.get("code") in parents]
    equations = disclosure.groups({r["code"]: parents[r["code"]] for r in rows})
    pinned: dict[str, list[str]] = {}
    for measure, _label in MEASURES:
        published: dict[str, int | None] = {}
        hidden: dict[str, str] = {}
        for row in rows:
            shown = str(row["cells"].get(measure, {}).get("shown", ""))
            if shown.isdigit():
                published[row["code"]] = int(shown)
            else:
                published[row["code"]] = None
                primary = shown.startswith("<")
                hidden[row["code"]] = disclosure.PRIMARY if primary else disclosure.COMPLEMENTARY
        found = disclosure.pinned(published, hidden, bulletin.k, equations)
        if found:
            pinned[measure] = found
    return areas, pinned


def _check_k(k: int) -> int:
    if not 3 <= k <= 11:
        raise BulletinRefused(_("k must be between 3 and 11"))
    return k


def _require_command(user: User) -> Area:
    area = user.jurisdiction_area
    if user.role != Role.COMMAND or area is None or area.level != AreaLevel.DISTRICT:
        raise BulletinRefused(_("only command staff of a district make bulletins"))
    return area


@transaction.atomic
def bulletin_draft(
    *,
    user: User,
    day: datetime.date,
    k: int | None = None,
    corrects: Bulletin | None = None,
    correction_note: str = "",
    request: HttpRequest | None = None,
) -> Bulletin:
    district = _require_command(user)
    try:
        check_day(district, day)
    except BriefDateError as error:
        raise BulletinRefused(str(error)) from None
    k = _check_k(k or settings.DOORSTEP_BULLETIN_K)
    if corrects is not None:
        if corrects.status != BulletinStatus.PUBLISHED:
            raise BulletinRefused(_("only a published bulletin is corrected"))
        if Bulletin.objects.filter(corrects=corrects).exists():
            raise BulletinRefused(_("this bulletin already has a correction"))
        if not correction_note.strip():
            raise BulletinRefused(_("say what the correction changes"))
        day = corrects.day
    rows, log, totals = build_table(district, day, k)
    version = (
        Bulletin.objects.filter(district=district, day=day).aggregate(v=Max("version"))["v"] or 0
    ) + 1
    body = DEFAULT_TEMPLATE.format(
        date=day.strftime("%Y年%m月%d日").replace("年0", "年").replace("月0", "月"),
        district=district.name,
        **{m: totals.get(m, 0) for m, _label in MEASURES},
    )
    bulletin = Bulletin.objects.create(
        district=district,
        day=day,
        version=version,
        corrects=corrects,
        correction_note=correction_note.strip(),
        title=_("Epidemic screening bulletin of %(district)s, %(day)s")
        % {"district": district.name, "day": day.isoformat()},
        body=body,
        k=k,
        table=rows,
        suppression_log=log,
        author=user,
    )
    audit_write(user=user, action="bulletin.draft", obj=bulletin, request=request)
    return bulletin


@transaction.atomic
def bulletin_edit(
    *,
    user: User,
    bulletin: Bulletin,
    title: str,
    body: str,
    k: int | None = None,
    request: HttpRequest | None = None,
) -> Bulletin:
    """Edit a draft (or an approved bulletin not yet published: that takes the approval back)."""
    _require_command(user)
    locked = Bulletin.objects.select_for_update().get(pk=bulletin.pk)
    if locked.status == BulletinStatus.PUBLISHED:
        raise BulletinRefused(_("a published bulletin is never edited: make a correction"))
    title, body = title.strip()[:200], body.strip()
    if not title or not body:
        raise BulletinRefused(_("title and text are required"))
    fields: dict[str, Any] = {"title": title, "body": body, "status": BulletinStatus.DRAFT}
    fields.update(approved_by=None, approved_at=None)
    if k is not None and _check_k(k) != locked.k:
        rows, log, _totals = build_table(locked.district, locked.day, k)
        fields.update(k=k, table=rows, suppression_log=log)
    Bulletin.objects.filter(pk=locked.pk).update(updated_at=timezone.now(), **fields)
    audit_write(user=user, action="bulletin.edit", obj=locked, request=request)
    locked.refresh_from_db()
    return locked


@transaction.atomic
def bulletin_approve(
    *, user: User, bulletin: Bulletin, request: HttpRequest | None = None
) -> Bulletin:
    """The second person's approval: never the author; two approvals at once make one (the
    UPDATE only takes a draft)."""
    _require_command(user)
    if bulletin.author_id == user.pk:
        raise BulletinRefused(_("the author cannot approve their own bulletin"))
    taken = (
        Bulletin.objects.filter(pk=bulletin.pk, status=BulletinStatus.DRAFT)
        .exclude(author=user)
        .update(status=BulletinStatus.APPROVED, approved_by=user, approved_at=timezone.now())
    )
    if not taken:
        raise BulletinRefused(_("this bulletin is not a draft waiting for approval"))
    audit_write(user=user, action="bulletin.approve", obj=bulletin, request=request)
    bulletin.refresh_from_db()
    return bulletin


@transaction.atomic
def bulletin_publish(
    *, user: User, bulletin: Bulletin, request: HttpRequest | None = None
) -> Bulletin:
    _require_command(user)
    # the table as stored is what goes out: check it once more against the attacker
    _refuse_unprotected(*_pinned_in_stored_table(bulletin))
    taken = Bulletin.objects.filter(pk=bulletin.pk, status=BulletinStatus.APPROVED).update(
        status=BulletinStatus.PUBLISHED, published_at=timezone.now()
    )
    if not taken:
        raise BulletinRefused(_("only an approved bulletin is published"))
    audit_write(user=user, action="bulletin.publish", obj=bulletin, request=request)
    bulletin.refresh_from_db()
    return bulletin
