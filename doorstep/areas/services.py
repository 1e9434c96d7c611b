"""Writes to the area tree: one area at a time, or a whole tree from a sheet."""

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from doorstep.core.sheets.headers import header_columns
from doorstep.core.sheets.reading import UnreadableFile, open_sheet, small_sheet_limits
from doorstep.core.text import clean_text, compact_text

from .models import Area, AreaLevel

AREA_COLUMNS = {
    "code": ("代码", "编码", "区划代码", "区域代码", "code"),
    "name": ("名称", "区域名称", "name"),
    "level": ("级别", "层级", "类型", "level"),
    "parent_code": ("上级代码", "上级编码", "父级代码", "上级区域代码", "parent_code", "parent"),
}
LEVEL_WORDS = {
    AreaLevel.DISTRICT: ("区", "县", "区县", "district", "1"),
    AreaLevel.STREET: ("街道", "镇", "乡", "street", "town", "2"),
    AreaLevel.COMMUNITY: ("社区", "村", "community", "village", "3"),
    AreaLevel.GRID: ("网格", "grid", "4"),
}


def parse_level(text: str) -> int | None:
    text = text.strip().lower()
    for level, words in LEVEL_WORDS.items():
        if text in words:
            return level
    return None


@transaction.atomic
def area_create(*, code: str, name: str, level: int, parent: Area | None) -> Area:
    if level != AreaLevel.DISTRICT and (parent is None or parent.level != level - 1):
        raise ValueError(_("an area must sit directly under an area one level up"))
    return Area.objects.create(
        code=code,
        name=name,
        level=level,
        parent=parent,
        path=Area.path_for(parent=parent, code=code),
    )


@dataclass
class AreaImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)

    def summary_line(self) -> str:
        return (
            f"created={self.created} updated={self.updated} unchanged={self.unchanged} "
            f"rejected={len(self.rejected)}"
        )


def areas_import(*, path: Path) -> AreaImportResult:
    """Import an area tree (code, name, level, parent code), parents before or after children.

    Existing codes are updated (name); a code whose level or parent would change is rejected,
    since households and users hang below it.
    """
    source = open_sheet(path, limits=small_sheet_limits())
    rows = list(source.rows())
    found = header_columns([row.cells for row in rows], AREA_COLUMNS, {"code", "name", "level"})
    if found is None:
        raise UnreadableFile(_("no header row with code, name and level found"))
    header_index, columns = found
    result = AreaImportResult()
    pending: dict[str, tuple[int, str, int, str]] = {}
    for row_number, cells, problem in rows[header_index + 1 :]:

        def cell(name, cells=cells):
            i = columns.get(name)
            return cells[i] if i is not None and i < len(cells) else ""

        if problem:  # the sheet reader's reason (a cell too long, not text)
            result.rejected.append((row_number, problem))
            continue
        code, name = compact_text(cell("code")), clean_text(cell("name"))
        level = parse_level(clean_text(cell("level")))
        parent_code = compact_text(cell("parent_code"))
        if not code and not name:
            continue
        if not code or not name:
            result.rejected.append((row_number, _("code and name are required")))
        elif level is None:
            result.rejected.append((row_number, _("unknown level “%(v)s”") % {"v": cell("level")}))
        elif code in pending:
            result.rejected.append(
                (
                    row_number,
                    _("code %(code)s repeats row %(row)d")
                    % {"code": code, "row": pending[code][0]},
                )
            )
        else:
            pending[code] = (row_number, name, level, parent_code)
    with transaction.atomic():
        existing = {a.code: a for a in Area.objects.all()}
        # Parents first: sort by level so every parent exists before its children.
        for code, (row_number, name, level, parent_code) in sorted(
            pending.items(), key=lambda item: item[1][2]
        ):
            parent = existing.get(parent_code) if parent_code else None
            if level != AreaLevel.DISTRICT and parent is None:
                result.rejected.append(
                    (row_number, _("parent code %(code)s does not exist") % {"code": parent_code})
                )
                continue
            if parent is not None and parent.level != level - 1:
                result.rejected.append((row_number, _("level does not fit under the parent")))
                continue
            area = existing.get(code)
            if area is None:
                existing[code] = area_create(code=code, name=name, level=level, parent=parent)
                result.created += 1
            elif area.level != level or area.parent_id != (parent.pk if parent else None):
                result.rejected.append(
                    (
                        row_number,
                        _("area %(code)s exists with another level or parent") % {"code": code},
                    )
                )
            elif area.name != name:
                area.name = name
                area.save(update_fields=["name"])
                result.updated += 1
            else:
                result.unchanged += 1
    result.rejected.sort()
    return result
