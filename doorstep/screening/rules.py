"""The screening form's answers, their checks, and the risk rules that flag a person."""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Presence

SYMPTOMS = {
    "fever": gettext_lazy("fever"),
    "cough": gettext_lazy("cough"),
    "fatigue": gettext_lazy("fatigue"),
    "short_breath": gettext_lazy("shortness of breath"),
    "sore_throat": gettext_lazy("sore throat"),
    "diarrhea": gettext_lazy("diarrhoea"),
    "taste_smell": gettext_lazy("loss of taste or smell"),
}
# Optional parts of the 2020 home-screening form; a campaign asks only what its purpose needs.
QUESTIONS = {
    "temperature": gettext_lazy("temperature"),
    "symptoms": gettext_lazy("symptoms"),
    "travel": gettext_lazy("travel from a risk area"),
    "contact": gettext_lazy("contact with confirmed or suspected cases"),
}
DEFAULT_QUESTIONS = list(QUESTIONS)
FLAG_LABELS = {
    "fever": gettext_lazy("fever"),
    "symptoms": gettext_lazy("symptoms"),
    "risk_area": gettext_lazy("from a risk area"),
    "contact": gettext_lazy("contact with a case"),
}
# A living person's body temperature; 42.5 is already a typo (42.0 is the highest reading a
# clinical thermometer shows in practice), so it is refused like 3.65 and 365.
TEMPERATURE_RANGE = (Decimal("34.0"), Decimal("42.0"))
# Why a present person's temperature was not taken: a blank is never accepted silently.
NOT_MEASURED_REASONS = {
    "refused": gettext_lazy("refused to be measured"),
    "no_thermometer": gettext_lazy("no thermometer at hand"),
    "infant": gettext_lazy("infant, asleep or ill in bed"),
    "measured_today": gettext_lazy("already measured today elsewhere"),
}
# Words that mean "not measured" at the start of a sheet or paper cell (未测:拒绝, 未测体温), the
# longest first so that "未测体温" is not read as "未测" with the reason "体温".
NOT_MEASURED_WORDS = (
    "未测量体温",
    "未测体温",
    "体温未测",
    "未量体温",
    "没测体温",
    "未测量",
    "未测温",
    "未测",
    "未量",
    "没测",
    "not measured",
)


class AnswerError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class PersonCheckInput:
    """One person's answers as submitted. Either `person_id` (on the roster) or `new_person`
    (found at the door, not on the roster: name, relation, id_number, phone)."""

    person_id: int | None = None
    new_person: dict | None = None
    presence: str = Presence.PRESENT
    whereabouts: str = ""
    expected_return: datetime.date | None = None
    temperature: Decimal | None = None
    # A present person whose temperature was not taken: why (a key of NOT_MEASURED_REASONS or
    # free words). Either this or a temperature, never neither, never both.
    temperature_not_measured: str = ""
    # The second reading a temperature at or above the campaign's threshold asks for; when
    # given it decides the fever flag (the first may be a cold thermometer or a hot forehead).
    temperature_recheck: Decimal | None = None
    symptoms: list[str] = field(default_factory=list)
    travel_from: str = ""
    returned_on: datetime.date | None = None
    travel_means: str = ""
    contact_with_case: bool = False
    notes: str = ""


def parse_temperature(raw, *, field: str = "temperature") -> Decimal | None:
    """A body temperature in °C. Slips of the decimal point (3.65, 365) are refused with the
    likely intended value named, never silently corrected; the error names `field` (the first
    reading or the second)."""
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw).strip().replace("℃", "").replace("°C", "").replace("°", ""))
    except InvalidOperation:
        value = None
    # NaN, infinities and huge exponents parse as Decimals but are no temperature (and would
    # overflow the arithmetic below).
    if value is None or not value.is_finite() or value.adjusted() > 3:
        raise AnswerError(field, _("temperature “%(v)s” is not a number") % {"v": raw})
    low, high = TEMPERATURE_RANGE
    if low <= value <= high:
        return value.quantize(Decimal("0.1"))
    guess = None
    for factor in (Decimal(10), Decimal("0.1"), Decimal(100), Decimal("0.01")):
        if low <= value * factor <= high:
            guess = (value * factor).quantize(Decimal("0.1"))
            break
    if guess is not None:
        raise AnswerError(
            field,
            _("temperature %(v)s °C is impossible: did you mean %(guess)s?")
            % {"v": raw, "guess": guess},
        )
    raise AnswerError(
        field,
        _("temperature %(v)s °C is outside %(low)s–%(high)s")
        % {"v": raw, "low": low, "high": high},
    )


def needs_recheck(first: Decimal | None, fever_threshold: Decimal) -> bool:
    """A first reading at or above the campaign's fever threshold asks for a second one: a cold
    thermometer or a hot forehead must not make a key person."""
    return first is not None and first >= fever_threshold


def deciding_reading(first: Decimal | None, recheck: Decimal | None) -> Decimal | None:
    """The reading that counts: the second when one was taken (it is taken because the first
    was high, and it decides the fever flag), else the first."""
    return recheck if recheck is not None else first


def split_not_measured(text: str) -> tuple[str, str]:
    """A sheet or paper cell "未测:拒绝" → ("", "拒绝"); "36.5" → ("36.5", ""). A bare "未测"
    gives the reason "-" so that the missing reason is named, not taken for a temperature."""
    raw = (text or "").strip()
    for word in NOT_MEASURED_WORDS:
        if raw.lower().startswith(word):
            reason = raw[len(word) :].strip(" :：,，、()（）")
            return "", reason or "-"
    return raw, ""


def not_measured_label(reason: str) -> str:
    return str(NOT_MEASURED_REASONS.get(reason, reason))


def validate_check(
    check: PersonCheckInput, *, visited_on: datetime.date, require_temperature: bool = False
) -> None:
    """Check one person's answers in place (the temperature becomes a Decimal).

    With `require_temperature` (the campaign asks it, a worker was at the door), a present
    person has a temperature or an explicit "not measured" with a reason; a blank is refused."""
    check.temperature = parse_temperature(check.temperature)
    check.temperature_recheck = parse_temperature(
        check.temperature_recheck, field="temperature_recheck"
    )
    check.temperature_not_measured = (check.temperature_not_measured or "").strip()[:100]
    if check.temperature_recheck is not None and check.temperature is None:
        raise AnswerError("temperature", _("a second reading was given without a first"))
    if check.temperature_not_measured:
        if check.temperature is not None:
            raise AnswerError("temperature", _("a temperature and “not measured” were both given"))
        if check.temperature_not_measured == "-":
            raise AnswerError("temperature", _("say why the temperature was not measured"))
    present = check.presence == Presence.PRESENT
    unmeasured = check.temperature is None and not check.temperature_not_measured
    if require_temperature and present and unmeasured:
        raise AnswerError(
            "temperature",
            _("a present person needs a temperature, or “not measured” with the reason"),
        )
    if check.presence not in Presence.values:
        raise AnswerError("presence", _("unknown presence “%(v)s”") % {"v": check.presence})
    unknown = [s for s in check.symptoms if s not in SYMPTOMS]
    if unknown:
        raise AnswerError("symptoms", _("unknown symptom “%(v)s”") % {"v": ", ".join(unknown)})
    if check.returned_on and check.returned_on > visited_on:
        raise AnswerError("returned_on", _("date of return is after the visit"))
    if check.presence != Presence.PRESENT and check.temperature is not None:
        raise AnswerError("temperature", _("a temperature was given for a person who is away"))


def matches_risk_area(place: str, risk_areas: list[str]) -> str | None:
    place = place.strip()
    if not place:
        return None
    for area in risk_areas:
        if area and (area in place or place in area):
            return area
    return None


def evaluate_flags(
    check: PersonCheckInput,
    *,
    fever_threshold: Decimal,
    risk_areas: list[str],
    lookback_days: int,
    visited_on: datetime.date,
) -> list[str]:
    """The rules of the campaign applied to one person's answers."""
    flags = []
    reading = deciding_reading(check.temperature, check.temperature_recheck)
    if reading is not None and reading >= fever_threshold:
        flags.append("fever")
    if check.symptoms:
        flags.append("symptoms")
    travelled = matches_risk_area(check.travel_from, risk_areas)
    if travelled and (
        check.returned_on is None or (visited_on - check.returned_on).days <= lookback_days
    ):
        flags.append("risk_area")
    away_in_risk_area = check.presence == Presence.OUT_OF_TOWN and matches_risk_area(
        check.whereabouts, risk_areas
    )
    if away_in_risk_area and "risk_area" not in flags:
        flags.append("risk_area")
    if check.contact_with_case:
        flags.append("contact")
    return flags
