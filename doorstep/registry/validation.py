"""Normalise and validate what rosters carry: ID numbers, phones, dates, codes.

Each function takes raw cell text and returns the clean value or raises `FieldError` whose message
is the Chinese-facing reason (translated), so the importer and the edit forms say the same thing.
"""

import datetime
import re
from functools import lru_cache

import phonenumbers
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import numdb
from stdnum.cn import ric

from doorstep.core.text import clean_text, compact_text

from .models import IdType, Sex


class FieldError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


_RESIDENT_ID = re.compile(r"[1-9]\d{16}[\dX]")


def today() -> datetime.date:
    return timezone.localdate()


@lru_cache(maxsize=8192)
def _birth_place_known(prefix6: str) -> bool:
    """Whether python-stdnum's region table knows this code's province at all.

    stdnum's own validate() also demands that the county existed in the birth year, which
    rejects real cards (people born before 1997 hold Chongqing 500xxx numbers issued later), and
    its lookup is the slow part; it depends only on the six digits, so it is asked once each.
    """
    return any("province" in props for _part, props in numdb.get("cn/loc").info(prefix6))


def normalize_id_number(raw: object) -> str:
    """Full-width digits, spaces and a lower-case x folded: '５００１０９ 1990… x' → '500109…X'."""
    return compact_text(raw).upper().replace("-", "")


def validate_resident_id(number: str, *, on: datetime.date | None = None) -> datetime.date:
    """Check an 18-character resident ID number; returns the birth date it encodes."""
    if len(number) == 15 and number.isdigit():
        raise FieldError("id_number", _("15-digit old ID number: please give the 18-digit number"))
    if len(number) != 18:
        raise FieldError(
            "id_number", _("ID number must have 18 characters, got %(n)d") % {"n": len(number)}
        )
    if not _RESIDENT_ID.fullmatch(number):
        raise FieldError("id_number", _("ID number may hold only digits and a final X"))
    if ric.calc_check_digit(number) != number[-1]:
        raise FieldError("id_number", _("ID number check digit is wrong"))
    try:
        # stdnum's get_birth_date re-cleans the number first; it is already clean here.
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise FieldError("id_number", _("ID number holds an impossible birth date")) from None
    if birth > (on or today()) or birth.year < 1890:
        raise FieldError("id_number", _("ID number holds a birth date in the future or too old"))
    if not _birth_place_known(number[:6]):
        raise FieldError(
            "id_number", _("ID number region code %(code)s does not exist") % {"code": number[:6]}
        )
    return birth


def sex_from_resident_id(number: str) -> str:
    return Sex.MALE if int(number[16]) % 2 else Sex.FEMALE


_ID_TYPE_WORDS = {
    IdType.RESIDENT_ID: ("身份证", "居民身份证", "公民身份", "resident", "id card"),
    IdType.PASSPORT: ("护照", "passport"),
    IdType.HK_MACAU: ("港澳", "回乡证", "hk", "macau"),
    IdType.TAIWAN: ("台湾", "台胞", "taiwan"),
    IdType.FOREIGN_RESIDENT: ("永久居留", "外国人", "foreign"),
    IdType.NONE: ("无", "未办", "none"),
}


def parse_id_type(raw: object) -> str | None:
    text = clean_text(raw).lower()
    if not text:
        return None
    for id_type, words in _ID_TYPE_WORDS.items():
        if any(w in text for w in words):
            return id_type
    raise FieldError("id_type", _("unknown ID type “%(value)s”") % {"value": text})


_OTHER_ID = re.compile(r"[A-Z0-9]{5,20}")


def validate_id(
    id_type: str | None, number: str, *, on: datetime.date | None = None
) -> tuple[str, str | None, datetime.date | None]:
    """(id_type, id_number or None, birth date from the number) for one person."""
    if not number:
        if id_type in (None, IdType.NONE):
            return IdType.NONE, None, None
        raise FieldError("id_number", _("ID number is missing"))
    if id_type in (None, IdType.RESIDENT_ID):
        return IdType.RESIDENT_ID, number, validate_resident_id(number, on=on)
    if id_type == IdType.NONE:
        raise FieldError("id_number", _("ID type is “none” but a number is given"))
    if not _OTHER_ID.fullmatch(number):
        raise FieldError("id_number", _("document number must be 5–20 letters or digits"))
    return id_type, number, None


_PHONE_JUNK = re.compile(r"[\s\-()（）.]")
_MOBILE = re.compile(r"1\d{10}")


@lru_cache(maxsize=100_000)
def _mobile_prefix_valid(prefix5: str) -> bool:
    """Whether phonenumbers accepts mainland mobiles starting with these five digits. Its CN
    mobile patterns decide on at most the first five digits, so one check per prefix answers
    for every number that shares it."""
    return phonenumbers.is_valid_number(phonenumbers.parse(prefix5 + "000000", "CN"))


def normalize_phone(raw: object) -> str:
    """'+86 138-0013-8000' → '13800138000'; '023-6828 1234' → '02368281234'."""
    text = _PHONE_JUNK.sub("", compact_text(raw))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def validate_phone(raw: object) -> str:
    """A mainland mobile or landline number, normalised; '' when the cell is empty."""
    text = normalize_phone(raw)
    if not text:
        return ""
    if not text.isdigit():
        raise FieldError("phone", _("phone number may hold only digits"))
    if _MOBILE.fullmatch(text):
        if _mobile_prefix_valid(text[:5]):
            return text
        raise FieldError(
            "phone", _("%(prefix)s is not a mobile number prefix") % {"prefix": text[:3]}
        )
    if text.startswith("1"):
        raise FieldError(
            "phone", _("mobile number must have 11 digits, got %(n)d") % {"n": len(text)}
        )
    try:
        parsed = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise FieldError("phone", _("not a valid phone number (%(n)d digits)") % {"n": len(text)})
    return text


_DATE_PATTERNS = [
    re.compile(r"(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
]
_EXCEL_EPOCH = datetime.date(1899, 12, 30)


def parse_date(raw: object, *, field: str = "birth_date") -> datetime.date | None:
    """Dates as sheets carry them: date objects, Excel serials, '1990年1月2日', '1990/1/2'."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    if isinstance(raw, int | float) and 1 < raw < 80000:
        return _EXCEL_EPOCH + datetime.timedelta(days=int(raw))
    text = compact_text(raw)
    if not text:
        return None
    for pattern in _DATE_PATTERNS:
        m = pattern.fullmatch(text)
        if m:
            try:
                return datetime.date(int(m["y"]), int(m["m"]), int(m["d"]))
            except ValueError:
                break
    raise FieldError(field, _("“%(value)s” is not a date") % {"value": text})


def validate_birth_date(value: datetime.date | None, *, on: datetime.date | None = None):
    if value is not None and value > (on or today()):
        raise FieldError("birth_date", _("birth date is in the future"))
    return value


_MOBILE_SHAPE = re.compile(r"1[3-9]\d{9}")


def personal_number_in(raw: object) -> tuple[str, str] | None:
    """("id_number" or "phone", the number) when this cell, once the importer has normalised it
    (normalize_id_number, normalize_phone), is a resident ID number (check digit and birth date
    right) or a mobile number; None otherwise. What every masked view and the leak check take
    for a personal number, however it was typed: "500103 19630111 2736", full-width digits,
    "180-3070-3945". A household number or a grid code is neither."""
    number = normalize_id_number(raw)
    if (
        len(number) == 18
        and _RESIDENT_ID.fullmatch(number)
        and ric.calc_check_digit(number) == number[-1]
    ):
        try:
            datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            pass
        else:
            return "id_number", number
    phone = normalize_phone(raw)
    if len(phone) == 11 and _MOBILE_SHAPE.fullmatch(phone):
        return "phone", phone
    return None


# A run of digits (half- or full-width) that spaces, dashes or a +86 may split into groups, not
# glued to a letter or digit on either side: where a personal number may hide in free text.
_DIGIT = "0-9\uff10-\uff19"
_SEPARATOR = " \t\u00a0\u3000\\-\uff0d\u2010\u2013\u2014"
_NUMBER_RUN = re.compile(
    rf"(?<![{_DIGIT}A-Za-z\uff21-\uff3a\uff41-\uff5a])"
    rf"(?:[+\uff0b]86[{_SEPARATOR}]{{0,2}})?[{_DIGIT}]"
    rf"(?:[{_SEPARATOR}]{{0,2}}[{_DIGIT}Xx\uff38\uff58]){{9,}}"
    rf"(?![{_DIGIT}A-Za-z\uff21-\uff3a\uff41-\uff5a])"
)
_GROUP = re.compile(rf"[^{_SEPARATOR}]+")


def find_personal_numbers(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, number) of every resident ID number and mobile number in free text,
    written whole or in groups (personal_number_in decides on each run of groups)."""
    found: list[tuple[int, int, str, str]] = []
    for run in _NUMBER_RUN.finditer(text):
        groups = [(g.start() + run.start(), g.end() + run.start()) for g in _GROUP.finditer(run[0])]
        i = 0
        while i < len(groups):
            hit = None
            for j in range(len(groups) - 1, i - 1, -1):  # the longest run of groups first
                start, end = groups[i][0], groups[j][1]
                if end - start > 40:
                    continue
                number = personal_number_in(text[start:end])
                if number is not None:
                    hit = (start, end, *number)
                    i = j
                    break
            if hit is not None:
                found.append(hit)
            i += 1
    return found
