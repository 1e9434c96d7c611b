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
TEMPERATURE_RANGE = (Decimal("34.0"), Decimal("42.5"))


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
    symptoms: list[str] = field(default_factory=list)
    travel_from: str = ""
    returned_on: datetime.date | None = None
    travel_means: str = ""
    contact_with_case: bool = False
    notes: str = ""


def parse_temperature(raw) -> Decimal | None:
    """A body temperature in °C. Slips of the decimal point (3.65, 365) are refused with the
    likely intended value named, never silently corrected."""
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(str(raw).strip().replace("℃", "").replace("°C", "").replace("°", ""))
    except InvalidOperation:
        value = None
    # NaN, infinities and huge exponents parse as Decimals but are no temperature (and would
    # overflow the arithmetic below).
    if value is None or not value.is_finite() or value.adjusted() > 3:
        raise AnswerError("temperature", _("temperature “%(v)s” is not a number") % {"v": raw})
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
            "temperature",
            _("temperature %(v)s °C is impossible: did you mean %(guess)s?")
            % {"v": raw, "guess": guess},
        )
    raise AnswerError(
        "temperature",
        _("temperature %(v)s °C is outside %(low)s–%(high)s")
        % {"v": raw, "low": low, "high": high},
    )


def validate_check(check: PersonCheckInput, *, visited_on: datetime.date) -> None:
    """Check one person's answers in place (the temperature becomes a Decimal)."""
    check.temperature = parse_temperature(check.temperature)
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
    if check.temperature is not None and check.temperature >= fever_threshold:
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
