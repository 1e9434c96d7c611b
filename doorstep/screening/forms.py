"""Input of the screening pages: the field visit form, the evening entry form, the upload form.

The visit forms have one card (or row) per household member, so they are read from POST by
hand into `VisitInput`; what the person typed is kept in a `MemberCard` so that a refused
form comes back with every value in place and the error next to its field.
"""

import datetime
import re
import uuid
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import ClassVar

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from doorstep.core.visit_consumers import flag_outcomes
from doorstep.registry.models import Person

from .models import Presence, Visit, VisitOutcome, VisitSource
from .rules import (
    FLAG_LABELS,
    SYMPTOMS,
    TEMPERATURE_RANGE,
    AnswerError,
    PersonCheckInput,
    deciding_reading,
    needs_recheck,
    parse_temperature,
)
from .services import VisitInput, visit_body_hash

# Symptom short codes for keyboard entry (1 = fever …), in the order of rules.SYMPTOMS.
SYMPTOM_CODES = {str(i): key for i, key in enumerate(SYMPTOMS, start=1)}
NEW_PERSON_SLOTS = 2
_ERROR_FIELD = re.compile(r"person_checks\[(\d+)\](?:\.(\w+))?")


@dataclass
class MemberCard:
    """One person's part of the form: the roster person (or a new one) and the typed values."""

    # The readings a thermometer can show, for the page's script (rules.TEMPERATURE_RANGE).
    temperature_range: ClassVar[tuple[Decimal, Decimal]] = TEMPERATURE_RANGE

    key: str  # "p3" for roster person 3, "n0" for the first new-person slot
    person: Person | None = None
    presence: str = Presence.PRESENT
    whereabouts: str = ""
    expected_return: str = ""
    temperature: str = ""
    temperature_not_measured: str = ""
    temperature_recheck: str = ""
    # The first reading is at or above the fever threshold: the form asks for a second one.
    needs_recheck: bool = False
    symptoms: list[str] = field(default_factory=list)
    symptom_codes: str = ""
    travel_from: str = ""
    returned_on: str = ""
    travel_means: str = ""
    contact: bool = False
    notes: str = ""
    name: str = ""
    relation: str = ""
    id_number: str = ""
    phone: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def is_new(self) -> bool:
        return self.person is None

    @property
    def used(self) -> bool:
        return self.person is not None or bool(self.name.strip())


def member_cards(members, data=None, new_slots: int = NEW_PERSON_SLOTS) -> list[MemberCard]:
    """Cards for the household's members (and blank new-person slots), filled from `data`."""
    cards = [MemberCard(key=f"p{p.pk}", person=p) for p in members]
    cards += [MemberCard(key=f"n{i}") for i in range(new_slots)]
    if data is None:
        return cards
    for card in cards:
        prefix = f"{card.key}-"
        card.presence = data.get(prefix + "presence", Presence.PRESENT) or Presence.PRESENT
        for name in (
            "whereabouts",
            "expected_return",
            "temperature",
            "temperature_not_measured",
            "temperature_recheck",
            "travel_from",
            "travel_means",
        ):
            setattr(card, name, data.get(prefix + name, "").strip())
        card.returned_on = data.get(prefix + "returned_on", "").strip()
        card.notes = data.get(prefix + "notes", "").strip()
        card.symptoms = [s for s in data.getlist(prefix + "symptoms") if s]
        card.symptom_codes = data.get(prefix + "symptom_codes", "").strip()
        card.contact = data.get(prefix + "contact") in ("on", "1", "true", "y", "Y")
        if card.is_new:
            for name in ("name", "relation", "id_number", "phone"):
                setattr(card, name, data.get(prefix + name, "").strip())
    return cards


def parse_symptom_codes(text: str) -> list[str]:
    """ "12" or "1 2" or "fever,cough" → ["fever", "cough"]; unknown codes pass through so that
    the service names them in its error."""
    text = text.strip()
    if not text or text in ("0", "-", "无"):
        return []
    if re.fullmatch(r"[0-9 ,，、]+", text):
        return [SYMPTOM_CODES.get(c, c) for c in re.sub(r"[ ,，、]", "", text)]
    return [s for s in re.split(r"[ ,，、;；]+", text) if s]


def _date_or_error(card: MemberCard, name: str) -> datetime.date | None:
    raw = getattr(card, name)
    if not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        card.errors[name] = _("enter a date as YYYY-MM-DD")
        return None


def _ask_second_reading(card: MemberCard, fever_threshold: Decimal) -> None:
    """A first reading at or above the threshold with no second one: the form comes back
    asking for it (a cold thermometer or a hot forehead must not make a key person)."""
    try:
        first = parse_temperature(card.temperature)
    except AnswerError:
        return  # the service names the bad value
    if not needs_recheck(first, fever_threshold):
        return
    card.needs_recheck = True
    if not card.temperature_recheck:
        card.errors["temperature_recheck"] = _(
            "%(t)s °C is at or above the fever threshold %(limit)s °C: measure again and "
            "type the second reading"
        ) % {"t": first, "limit": fever_threshold}


def checks_from_cards(
    cards: list[MemberCard], outcome: str, *, fever_threshold: Decimal | None = None
) -> tuple[list[PersonCheckInput], list[MemberCard]]:
    """The person checks to send, and the card each one came from (for placing errors).

    When the door stayed shut (any outcome but "screened"), nobody was seen: only the persons
    the worker explicitly marked as away or moved are reported, with no health answers.
    With `fever_threshold` (the pages, not the API), a reading at or above it needs a second.
    """
    checks, sources = [], []
    for card in cards:
        if not card.used:
            continue
        away = card.presence != Presence.PRESENT
        if outcome != VisitOutcome.SCREENED and not away:
            continue
        symptoms = card.symptoms or parse_symptom_codes(card.symptom_codes)
        check = PersonCheckInput(
            person_id=card.person.pk if card.person else None,
            presence=card.presence,
            whereabouts=card.whereabouts if away else "",
            expected_return=_date_or_error(card, "expected_return") if away else None,
            temperature=card.temperature or None,
            temperature_not_measured="" if card.temperature else card.temperature_not_measured,
            temperature_recheck=card.temperature_recheck or None,
            symptoms=symptoms if outcome == VisitOutcome.SCREENED else [],
            travel_from=card.travel_from,
            returned_on=_date_or_error(card, "returned_on"),
            travel_means=card.travel_means,
            contact_with_case=card.contact,
            notes=card.notes,
        )
        if outcome != VisitOutcome.SCREENED:
            check.temperature = None
            check.temperature_recheck = None
            check.temperature_not_measured = ""
        elif fever_threshold is not None and not away:
            _ask_second_reading(card, fever_threshold)
        if card.is_new:
            check.new_person = {
                "name": card.name,
                "relation": card.relation,
                "id_number": card.id_number,
                "phone": card.phone,
            }
        checks.append(check)
        sources.append(card)
    return checks, sources


def place_error(field_path: str, message: str, sources: list[MemberCard]) -> str | None:
    """Put a service error next to its person's field; returns the message if it has no place."""
    match = _ERROR_FIELD.fullmatch(field_path or "")
    if match and int(match.group(1)) < len(sources):
        card = sources[int(match.group(1))]
        name = match.group(2) or "person"
        if name in ("new_person", "person_id"):
            name = "person"
        # The service prefixes "person N:" for the API; next to the card that is noise.
        card.errors[name] = re.sub(r"^[^:：]*\d+[:：]\s*", "", message)
        return None
    return message


def flagged_feedback(checks, *, user) -> list[dict]:
    """What a worker is told right after saving (the field list, the evening entry): each
    flagged person of the visit, the flags in words, the reading that counts, and what the
    domains acting on the sweep did for them ("next": follow-up's key person and referral, asked
    through `core.visit_consumers`; empty when nobody answers, and the page then says what
    happens in general words)."""
    checks = list(checks)
    outcomes = flag_outcomes(user=user, person_check_ids=[check.pk for check in checks])
    return [
        {
            "name": check.person.name if check.person else "",
            "flags": [str(FLAG_LABELS.get(f, f)) for f in check.flags],
            "temperature": deciding_reading(check.temperature, check.temperature_recheck),
            "next": "；".join(outcomes.get(check.pk, [])),
        }
        for check in checks
    ]


def parse_client_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except (TypeError, ValueError):
        return None


def visit_input(
    *,
    household_id: int,
    outcome: str,
    visited_at: datetime.datetime,
    client_uuid: uuid.UUID,
    checks: list[PersonCheckInput],
    source: str = VisitSource.FIELD,
    notes: str = "",
) -> VisitInput:
    return VisitInput(
        household_id=household_id,
        outcome=outcome,
        visited_at=visited_at,
        client_uuid=client_uuid,
        person_checks=checks,
        source=source,
        notes=notes,
    )


# Evening entry: a paper form's visit UUID comes from what is written on it, so the same form
# typed twice is the same visit (the service answers with the first), never a second one. It is
# keyed with the server's key (like the visit sheets' UUIDs): someone who can guess what a form
# says cannot compute its UUID and record something else under it first.
# The UUIDs of forms typed before the key (`legacy_paper_form_uuid`): such a form typed again
# must still find its visit.
PAPER_FORM_NAMESPACE = uuid.UUID("6f1c9a52-3b7e-4d55-9a0e-2f3c8d1e7b44")


def _clean_reading(raw):
    try:
        return parse_temperature(raw)
    except AnswerError:
        return raw  # the service names the bad value; it is not this function's to refuse


def paper_form_clean(item: VisitInput) -> None:
    """Put a typed paper form's values in one spelling, in place: "36.50", " 36.5℃" and "36.5"
    are one reading, symptom codes "21" and "1 2" one list, stray spaces nothing. The same paper
    typed twice then gives the same body, hence the same UUID and the same digest."""
    item.outcome = item.outcome.strip()
    item.notes = " ".join(item.notes.split())
    for check in item.person_checks:
        check.temperature = _clean_reading(check.temperature)
        check.temperature_recheck = _clean_reading(check.temperature_recheck)
        check.temperature_not_measured = " ".join(check.temperature_not_measured.split())
        known = set(check.symptoms)
        check.symptoms = [s for s in SYMPTOMS if s in known] + sorted(known - set(SYMPTOMS))
        for name in ("whereabouts", "travel_from", "travel_means", "notes"):
            setattr(check, name, " ".join(getattr(check, name).split()))
        if check.new_person:
            check.new_person = {k: " ".join(str(v).split()) for k, v in check.new_person.items()}


def _paper_body(item: VisitInput) -> dict:
    body = asdict(item)
    body.pop("client_uuid", None)
    # One instant, one text, whatever zone the parsed time carries.
    body["visited_at"] = item.visited_at.astimezone(datetime.UTC).isoformat()
    return body


def paper_form_uuid(campaign_id: int, item: VisitInput) -> uuid.UUID:
    """The client UUID of a typed paper form (clean it with `paper_form_clean` first): the
    campaign and the form's cleaned values under the server's key (DOORSTEP_SHEET_UUID_KEY,
    which outlives a rotation of the secret key)."""
    key = f"{campaign_id}:{visit_body_hash(_paper_body(item))}"
    digest = salted_hmac(
        "doorstep.screening.forms.paper", key, secret=settings.DOORSTEP_SHEET_UUID_KEY
    ).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


def legacy_paper_form_uuid(campaign_id: int, item: VisitInput) -> uuid.UUID:
    """The unkeyed UUID forms got before (over the values as typed): only for finding them."""
    body = asdict(item)
    body.pop("client_uuid", None)
    return uuid.uuid5(PAPER_FORM_NAMESPACE, f"{campaign_id}:{visit_body_hash(body)}")


def paper_form_identify(campaign_id: int, item: VisitInput) -> None:
    """Give a typed paper form its client UUID, in place. A form already typed before the UUIDs
    were keyed (its unkeyed UUID is a visit of this campaign, entered in the evening, for the
    same household) keeps that UUID and the values as typed, so that it is found again, not
    recorded a second time; any other form is cleaned and gets the keyed UUID."""
    legacy = legacy_paper_form_uuid(campaign_id, item)
    if Visit.objects.filter(
        client_uuid=legacy,
        campaign_id=campaign_id,
        household_id=item.household_id,
        source=VisitSource.EVENING,
    ).exists():
        item.client_uuid = legacy
        return
    paper_form_clean(item)
    item.client_uuid = paper_form_uuid(campaign_id, item)


_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y/%m/%d %H:%M", "%m-%d %H:%M", "%m/%d %H:%M")


def parse_visited_at(raw: str, *, now: datetime.datetime | None = None) -> datetime.datetime:
    """The time written on a paper form: "09:30" or "0930" (the last such time, so that forms
    typed after midnight keep last evening's date), "02-03 09:30", "2020-02-03 09:30". Aware,
    Asia/Shanghai. Raises ValueError with a message."""
    text = re.sub(r"\s+", " ", (raw or "").strip().replace("：", ":"))
    if not text:
        raise ValueError(_("enter the time written on the form, e.g. 09:30"))
    now = timezone.localtime(now or timezone.now())
    today = now.date()
    naive = None
    if re.fullmatch(r"\d{1,2}:\d{2}|\d{4}", text):
        hour, minute = text.split(":") if ":" in text else (text[:2], text[2:])
        try:
            naive = datetime.datetime.combine(today, datetime.time(int(hour), int(minute)))
        except ValueError:
            naive = None
        if naive is not None and timezone.make_aware(naive) > now:
            # A worker typing the evening's forms at 00:20 writes 23:05: that was yesterday.
            naive -= datetime.timedelta(days=1)
    else:
        for fmt in _TIME_FORMATS:
            try:
                naive = datetime.datetime.strptime(text, fmt)
            except ValueError:
                continue
            if "%Y" not in fmt:
                naive = naive.replace(year=today.year)
            break
    if naive is None:
        raise ValueError(
            _("“%(v)s” is not a time; write e.g. 09:30 or 2020-02-03 09:30") % {"v": raw}
        )
    return timezone.make_aware(naive)


OUTCOME_BUTTONS = [
    (VisitOutcome.SCREENED, gettext_lazy("Screened")),
    (VisitOutcome.NOT_HOME, gettext_lazy("Nobody home")),
    (VisitOutcome.REFUSED, gettext_lazy("Refused")),
    (VisitOutcome.VACANT, gettext_lazy("Vacant")),
    (VisitOutcome.MOVED, gettext_lazy("Moved out")),
]


class AssignForm(forms.Form):
    grid = forms.CharField(max_length=32)
    building = forms.CharField(max_length=30, required=False)
    worker = forms.IntegerField()


class ClaimForm(forms.Form):
    grid = forms.CharField(max_length=32)
    building = forms.CharField(max_length=30, required=False)


class SheetUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("filled-in visit sheet (XLSX)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError(_("the file is larger than 5 MB"))
        return upload
