"""Recognising roster columns from the headers people actually write."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from doorstep.core.sheets.headers import normalize_header

# field → header variants, most specific first. Matching is on the header with spaces, asterisks
# (required markers) and bracketed notes removed (core.sheets.headers.normalize_header).
ROSTER_FIELDS: dict[str, tuple[str, ...]] = {
    "household_number": (
        "户号",
        "户编号",
        "户籍号",
        "户口编号",
        "户编码",
        "家庭编号",
        "户口号",
        "household_number",
        "household no",
    ),
    "name": ("姓名", "居民姓名", "人员姓名", "名字", "name"),
    "id_type": ("证件类型", "证件种类", "id_type"),
    "id_number": (
        "公民身份号码",
        "身份证号码",
        "身份证号",
        "证件号码",
        "证件号",
        "身份证",
        "id_number",
        "id no",
    ),
    "phone": ("联系电话", "手机号码", "手机号", "电话号码", "联系方式", "电话", "手机", "phone"),
    "relation": ("与户主关系", "家庭关系", "关系", "relation"),
    "sex": ("性别", "sex"),
    "birth_date": ("出生日期", "出生年月", "生日", "birth_date"),
    "address": (
        "现居住地址",
        "现住址",
        "居住地址",
        "家庭住址",
        "详细地址",
        "住址",
        "地址",
        "address",
    ),
    "road": ("街路巷", "道路", "road"),
    "house_number": ("门牌号", "门牌", "house_number"),
    "building": ("楼栋号", "楼栋", "楼号", "栋", "幢", "building"),
    "unit": ("单元号", "单元", "unit"),
    "room": ("房间号", "房号", "室号", "门号", "room"),
    "grid": ("所属网格", "网格编码", "网格名称", "网格", "grid"),
    "community": ("所属社区", "社区/村", "村/社区", "社区", "村", "community"),
    "household_kind": ("住户类型", "户类型", "户别", "户籍类型", "household_kind"),
    "residency": ("居住类型", "常住类型", "人员类别", "人员类型", "residency"),
}

FIELD_LABELS = {
    "household_number": _("household number"),
    "name": _("name"),
    "id_type": _("ID type"),
    "id_number": _("ID number"),
    "phone": _("phone"),
    "relation": _("relation to head"),
    "sex": _("sex"),
    "birth_date": _("birth date"),
    "address": _("address"),
    "road": _("road"),
    "house_number": _("house number"),
    "building": _("building"),
    "unit": _("unit"),
    "room": _("room"),
    "grid": _("grid"),
    "community": _("community"),
    "household_kind": _("household kind"),
    "residency": _("residency"),
}


def field_for_header(cell: object) -> str | None:
    header = normalize_header(cell)
    if not header:
        return None
    for field, variants in ROSTER_FIELDS.items():
        if header in variants:
            return field
    # Longer variants first, so "身份证号码" wins over "身份证" inside "居民身份证号码".
    candidates = sorted(
        ((v, f) for f, vs in ROSTER_FIELDS.items() for v in vs if len(v) >= 2),
        key=lambda pair: -len(pair[0]),
    )
    for variant, field in candidates:
        if variant in header:
            return field
    return None


def propose_mapping(header: list) -> dict[int, str]:
    """Column index → field for each recognised column; the first column wins a field."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for index, cell in enumerate(header):
        field = field_for_header(cell)
        if field and field not in taken:
            mapping[index] = field
            taken.add(field)
    return mapping


@dataclass
class HeaderGuess:
    row_index: int  # 0-based index of the header row among the rows read
    mapping: dict[int, str]


def find_header(rows: list[list], max_scan: int = 10) -> HeaderGuess | None:
    """The row that looks most like a roster header: titles and merged banners above it skipped."""
    best: HeaderGuess | None = None
    for index, row in enumerate(rows[:max_scan]):
        mapping = propose_mapping(row)
        if "name" not in mapping.values() or len(mapping) < 2:
            continue
        if best is None or len(mapping) > len(best.mapping):
            best = HeaderGuess(row_index=index, mapping=mapping)
    return best


def missing_required(mapping: dict[int, str], *, needs_grid: bool) -> list[str]:
    """Required fields that no column is mapped to, as field names."""
    fields = set(mapping.values())
    missing = [f for f in ("name", "id_number") if f not in fields]
    if "household_number" not in fields and "address" not in fields:
        missing.append("household_number")
    if needs_grid and "grid" not in fields:
        missing.append("grid")
    return missing
