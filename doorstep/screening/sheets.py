"""The visit sheet of an assignment (包片入户登记表): an XLSX written for the paper round and
read back when it comes in filled.

The sheet is an exchange format, so its headers and drop-down values are fixed Chinese words
(like the roster's 户号 / 姓名 columns), whatever the UI language. One row per member of each
household; a row with the 户号 and a name but no 人员编号 is a person found at the door. Rows are
grouped per household into one visit each; the visit's client UUID is derived from campaign,
household, the assignment's worker and visit time with a server-side key (`sheet_visit_uuid`),
so uploading the same file twice records nothing new, and nobody can compute (and pre-empt) the
UUID of another worker's sheet row.

Every row of an upload ends in the report: recorded, already recorded, not recorded (with the
reason), or not filled in.
"""

import datetime
import io
import tempfile
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from doorstep.core.sheets.reading import UnreadableFile, open_sheet, small_sheet_limits
from doorstep.core.sheets.writing import new_workbook, write_cell, write_cells
from doorstep.registry.models import Person

from .forms import parse_visited_at
from .models import Assignment, Campaign, Presence, Visit, VisitOutcome, VisitSource
from .rules import PersonCheckInput, split_not_measured
from .services import BatchItemResult, VisitInput

COLUMNS = [
    "户号",
    "地址",
    "姓名",
    "与户主关系",
    "结果",
    "走访时间",
    "体温",
    "症状",
    "是否在家/去向",
    "备注",
    "人员编号",
]
OUTCOME_WORDS = {
    "已排查": VisitOutcome.SCREENED,
    "无人在家": VisitOutcome.NOT_HOME,
    "拒绝": VisitOutcome.REFUSED,
    "空置": VisitOutcome.VACANT,
    "已搬离": VisitOutcome.MOVED,
}
PRESENCE_WORDS = {
    "在家": Presence.PRESENT,
    "区内": Presence.IN_DISTRICT,
    "外地": Presence.OUT_OF_TOWN,
    "已搬离": Presence.MOVED_OUT,
    "搬离": Presence.MOVED_OUT,
    "不详": Presence.UNKNOWN,
}
SYMPTOM_WORDS = {
    "发热": "fever",
    "发烧": "fever",
    "咳嗽": "cough",
    "乏力": "fatigue",
    "气促": "short_breath",
    "呼吸困难": "short_breath",
    "咽痛": "sore_throat",
    "腹泻": "diarrhea",
    "嗅觉味觉减退": "taste_smell",
    "味觉嗅觉减退": "taste_smell",
}
# The UUIDs of sheets read before the key (`legacy_sheet_visit_uuid`): a sheet uploaded again
# after the change must still find its visits.
SHEET_NAMESPACE = uuid.UUID("6f1f7d0e-3c47-4f4e-9a55-1f3a4a2b7d10")


def sheet_visit_uuid(
    *, campaign_id: int, household_id: int, worker_id: int, visited_at: datetime.datetime
) -> uuid.UUID:
    """The client UUID of a sheet's visit: the same file gives the same UUIDs (a second upload
    records nothing new), another worker's sheet other ones, and without the server's key
    (DOORSTEP_SHEET_UUID_KEY) nobody can compute them."""
    moment = visited_at.astimezone(datetime.UTC).isoformat()  # one instant, one text
    key = f"{campaign_id}:{household_id}:{worker_id}:{moment}"
    digest = salted_hmac(
        "doorstep.screening.sheets.visit", key, secret=settings.DOORSTEP_SHEET_UUID_KEY
    ).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


def legacy_sheet_visit_uuid(
    *, campaign_id: int, household_id: int, visited_at: datetime.datetime
) -> uuid.UUID:
    return uuid.uuid5(SHEET_NAMESPACE, f"{campaign_id}:{household_id}:{visited_at.isoformat()}")


# -- the template -----------------------------------------------------------------------------
def assignment_rows(
    assignment: Assignment, progress_rows, members: dict[int, list[Person]]
) -> list[list]:
    """One row per active member of each household, in walking order (`progress_rows` are the
    assignment's progress rows with households, `members` their active members by household,
    both read through the access layer by the caller)."""
    households = [p.household for p in progress_rows]
    rows = []
    for household in households:
        people = members.get(household.pk) or [None]
        for person in people:
            rows.append(
                [
                    household.household_number,
                    household.address_display,
                    person.name if person else "",
                    person.relation if person else "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    person.pk if person else "",
                ]
            )
    return rows


def template_workbook(assignment: Assignment, rows: list[list]) -> bytes:
    output = io.BytesIO()
    workbook = new_workbook(output)
    sheet = workbook.add_worksheet("入户登记")
    head = workbook.add_format({"bold": True, "bg_color": "#EEF2F6", "border": 1})
    text = workbook.add_format({"num_format": "@"})
    write_cells(sheet, 0, COLUMNS, head)
    for index, row in enumerate(rows, start=1):
        for column, value in enumerate(row):
            write_cell(sheet, index, column, value, None if isinstance(value, int) else text)
    widths = [14, 28, 10, 10, 11, 17, 7, 16, 14, 20, 10]
    for column, width in enumerate(widths):
        sheet.set_column(column, column, width, text if column in (0, 5) else None)
    sheet.set_column(10, 10, 10, None, {"hidden": True})
    last = max(len(rows) + 200, 500)
    sheet.data_validation(
        1,
        4,
        last,
        4,
        {
            "validate": "list",
            "source": list(OUTCOME_WORDS),
            "error_title": "结果",
            "error_message": "请选择：" + "、".join(OUTCOME_WORDS),
        },
    )
    sheet.data_validation(
        1,
        8,
        last,
        8,
        {
            "validate": "list",
            "source": ["在家", "区内", "外地", "已搬离", "不详"],
            "show_error": False,  # "外地:武汉" is allowed: where they are, after the colon
        },
    )
    sheet.freeze_panes(1, 3)
    notes = workbook.add_worksheet("填写说明")
    for line, value in enumerate(
        [
            f"{assignment}：每户一个结果和走访时间（如 2020-02-03 09:30），填在该户任一行即可。",
            "结果：" + "、".join(OUTCOME_WORDS) + "。",
            "体温：摄氏度，如 36.5；在家的人未测体温请写 未测:原因（如 未测:拒绝）。症状："
            + "、".join(list(SYMPTOM_WORDS)[:8])
            + "，无则留空。",
            "是否在家/去向：在家（默认）、区内、外地:去向、已搬离、不详。",
            "上门发现的新人员：插入一行，填户号和姓名，人员编号留空。",
            "未走访的户请留空结果，上传时会跳过。",
        ]
    ):
        notes.write_string(line, 0, value)
    notes.set_column(0, 0, 90)
    workbook.close()
    return output.getvalue()


# -- reading an upload ------------------------------------------------------------------------
@dataclass
class SheetRow:
    number: int  # row number in the file, 1-based as Excel shows it
    values: dict[str, str]
    problem: str = ""  # why the reader could not use the row (a cell too long, not text)

    def get(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass
class RowReport:
    number: int
    household_number: str
    name: str
    status: str  # accepted | duplicate | rejected | skipped
    reason: str = ""


@dataclass
class HouseholdGroup:
    household_number: str
    rows: list[SheetRow] = field(default_factory=list)
    check_rows: list[SheetRow] = field(default_factory=list)  # parallel to the visit's checks
    visit: VisitInput | None = None
    error: str = ""
    error_row: int | None = None
    skipped: bool = False


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    return str(value).strip()


def read_sheet_rows(path: Path) -> list[SheetRow]:
    """The rows below the header row, keyed by column name; UnreadableFile when the file is
    not a visit sheet (or the sheet reader refuses it)."""
    source = open_sheet(path, limits=small_sheet_limits())
    header, rows = None, []
    for number, raw, problem in source.rows():
        cells = [_cell(c) for c in raw]
        if header is None:
            if "户号" in cells and "姓名" in cells:
                header = {name: cells.index(name) for name in COLUMNS if name in cells}
            elif number > 10:
                break
            continue
        if not any(cells) and not problem:
            continue
        values = {name: cells[i] if i < len(cells) else "" for name, i in header.items()}
        rows.append(SheetRow(number=number, values=values, problem=problem or ""))
    if header is None:
        raise UnreadableFile(_("this is not a visit sheet: no header row with 户号 and 姓名"))
    missing = [c for c in ("结果", "走访时间") if c not in header]
    if missing:
        raise UnreadableFile(_("the sheet lacks the columns %(c)s") % {"c": "、".join(missing)})
    return rows


def _presence(text: str) -> tuple[str, str]:
    text = text.strip()
    if not text:
        return Presence.PRESENT, ""
    word, _sep, where = text.replace("：", ":").partition(":")
    if word.strip() in PRESENCE_WORDS:
        return PRESENCE_WORDS[word.strip()], where.strip()
    return Presence.OUT_OF_TOWN, text  # a place name alone: away, there


def _symptoms(text: str) -> list[str]:
    text = text.strip()
    if text in ("", "无", "-", "否"):
        return []
    parts = [p for p in text.replace("，", ",").replace("、", ",").replace(" ", ",").split(",")]
    return [SYMPTOM_WORDS.get(p, p) for p in parts if p]


def _reject(group: HouseholdGroup, message: str, row: SheetRow | None = None) -> HouseholdGroup:
    group.error, group.error_row = message, row.number if row else None
    return group


def _group_visit(
    campaign: Campaign, group: HouseholdGroup, household: dict, worker_id: int
) -> HouseholdGroup:
    outcomes = {r.get("结果") for r in group.rows if r.get("结果")}
    times = {r.get("走访时间") for r in group.rows if r.get("走访时间")}
    if not outcomes and not times:
        group.skipped = True
        return group
    if len(outcomes) > 1:
        return _reject(group, _("the rows of this household give different outcomes"))
    if len(times) > 1:
        return _reject(group, _("the rows of this household give different visit times"))
    if not outcomes:
        return _reject(group, _("the outcome (结果) is missing"))
    if not times:
        return _reject(group, _("the visit time (走访时间) is missing"))
    word = outcomes.pop()
    outcome = OUTCOME_WORDS.get(word, word if word in VisitOutcome.values else None)
    if outcome is None:
        return _reject(group, _("unknown outcome “%(v)s”") % {"v": word})
    try:
        visited_at = parse_visited_at(times.pop())
    except ValueError as error:
        return _reject(group, str(error))
    checks = []
    for row in group.rows:
        person_ref, name = row.get("人员编号"), row.get("姓名")
        answers = any(row.get(k) for k in ("体温", "症状", "是否在家/去向", "备注"))
        if not person_ref and not name:
            if answers:  # answers nobody can be matched to are not dropped silently
                return _reject(group, _("a row has answers but no name"), row)
            continue
        presence, where = _presence(row.get("是否在家/去向"))
        if outcome != VisitOutcome.SCREENED and (row.get("体温") or row.get("症状")):
            return _reject(
                group, _("a temperature or symptoms are given but the outcome is not 已排查"), row
            )
        if outcome != VisitOutcome.SCREENED and presence == Presence.PRESENT:
            continue  # the door stayed shut: nobody was seen
        # "未测:拒绝" in the temperature cell: not measured, with the reason.
        temperature, not_measured = split_not_measured(row.get("体温"))
        check = PersonCheckInput(
            presence=presence,
            whereabouts=where,
            temperature=temperature or None if outcome == VisitOutcome.SCREENED else None,
            temperature_not_measured=not_measured,
            symptoms=_symptoms(row.get("症状")) if outcome == VisitOutcome.SCREENED else [],
            notes=row.get("备注")[:300],
        )
        if person_ref:
            try:
                check.person_id = int(person_ref)
            except ValueError:
                return _reject(
                    group, _("person number “%(v)s” is not a number") % {"v": person_ref}, row
                )
            if check.person_id not in household["members"]:
                return _reject(group, _("this person is not a member of the household"), row)
        else:
            check.new_person = {"name": name, "relation": row.get("与户主关系")}
        checks.append(check)
        group.check_rows.append(row)
    group.visit = VisitInput(
        household_id=household["id"],
        outcome=outcome,
        visited_at=visited_at,
        client_uuid=sheet_visit_uuid(
            campaign_id=campaign.pk,
            household_id=household["id"],
            worker_id=worker_id,
            visited_at=visited_at,
        ),
        person_checks=checks,
        source=VisitSource.SHEET,
    )
    return group


def visits_from_rows(
    campaign: Campaign, rows: list[SheetRow], households: dict[str, dict], *, worker_id: int
) -> list[HouseholdGroup]:
    """Rows grouped per household (in file order) with the visit each group makes.
    `households` maps 户号 → {"id": household id, "members": set of person ids} for the
    households of the assignment (whose worker is `worker_id`): anything else is refused."""
    groups: OrderedDict[str, HouseholdGroup] = OrderedDict()
    for row in rows:
        number = row.get("户号")
        groups.setdefault(number, HouseholdGroup(household_number=number)).rows.append(row)
    for number, group in groups.items():
        unreadable = next((row for row in group.rows if row.problem), None)
        if unreadable is not None:
            _reject(group, unreadable.problem, unreadable)
        elif not number:
            _reject(group, _("the household number (户号) is missing"))
        elif number not in households:
            _reject(group, _("household %(n)s is not in this assignment") % {"n": number})
        else:
            _group_visit(campaign, group, households[number], worker_id)
    _keep_legacy_uuids(campaign, [g for g in groups.values() if g.visit and not g.error])
    return list(groups.values())


def _keep_legacy_uuids(campaign: Campaign, groups: list[HouseholdGroup]) -> None:
    """A group already recorded under its old (keyless) UUID, for the same household, keeps
    that UUID: the service then answers "already recorded" instead of recording it again."""
    legacy = {
        legacy_sheet_visit_uuid(
            campaign_id=campaign.pk,
            household_id=g.visit.household_id,
            visited_at=g.visit.visited_at,
        ): g
        for g in groups
    }
    found = Visit.objects.filter(
        campaign=campaign, source=VisitSource.SHEET, client_uuid__in=list(legacy)
    ).values_list("client_uuid", "household_id")
    for client_uuid, household_id in found:
        group = legacy[client_uuid]
        if group.visit.household_id == household_id:
            group.visit.client_uuid = client_uuid


def _row_index(field_path: str) -> int | None:
    if field_path.startswith("person_checks[") and "]" in field_path:
        try:
            return int(field_path[len("person_checks[") : field_path.index("]")])
        except ValueError:
            return None
    return None


def row_reports(groups: list[HouseholdGroup], results: list[BatchItemResult]) -> list[RowReport]:
    """Every row of the file, with what became of it; `results` are the batch results of the
    groups that made a visit, in order."""
    by_group = iter(results)
    reports = []
    for group in groups:
        status, reason, bad_row = "rejected", group.error, group.error_row
        if group.skipped:
            status, reason = "skipped", _("no outcome filled in: not visited yet")
        elif group.visit is not None and not group.error:
            result = next(by_group)
            if result.status == "created":
                status, reason = "accepted", ""
            elif result.status == "duplicate":
                status, reason = "duplicate", _("already recorded by an earlier upload")
            elif result.status == "conflict":
                reason = _("a visit at this time was already recorded with other answers")
            elif result.status == "taken":
                reason = _("this visit was already recorded by another worker")
            else:
                reason = result.error
                index = _row_index(result.field)
                if index is not None and index < len(group.check_rows):
                    bad_row = group.check_rows[index].number
        for row in group.rows:
            row_reason = reason
            if status == "rejected" and bad_row is not None and row.number != bad_row:
                row_reason = _("not recorded: row %(n)d of the same household has an error") % {
                    "n": bad_row
                }
            reports.append(
                RowReport(row.number, group.household_number, row.get("姓名"), status, row_reason)
            )
    reports.sort(key=lambda r: r.number)
    return reports


def save_upload(upload) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    with handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return Path(handle.name)


STATUS_LABELS = {
    "accepted": gettext_lazy("recorded"),
    "duplicate": gettext_lazy("already recorded"),
    "rejected": gettext_lazy("not recorded"),
    "skipped": gettext_lazy("not filled in"),
}


def report_workbook(reports: list[dict]) -> bytes:
    output = io.BytesIO()
    workbook = new_workbook(output)
    sheet = workbook.add_worksheet(_("upload report")[:31])
    head = workbook.add_format({"bold": True, "bg_color": "#FDE2E1"})
    header = [_("row in file"), "户号", "姓名", _("result"), _("reason")]
    write_cells(sheet, 0, header, head)
    for index, report in enumerate(reports, start=1):
        status = str(STATUS_LABELS.get(report["status"], report["status"]))
        values = [report["number"], report["household_number"], report["name"], status]
        write_cells(sheet, index, [*values, report["reason"]])
    sheet.set_column(1, 2, 14)
    sheet.set_column(3, 3, 16)
    sheet.set_column(4, 4, 60)
    sheet.freeze_panes(1, 0)
    workbook.close()
    return output.getvalue()


def now_stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M")
