"""Key persons: one record per person, whatever the sources (DESIGN.md §7: the one way in)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import Role, User
from doorstep.areas.models import Area, AreaLevel
from doorstep.core.db import prefix_q, sqlite_writer_turn
from doorstep.core.masking import mask_id_number
from doorstep.core.services import audit_write
from doorstep.registry.models import Household, Person, PersonStatus
from doorstep.registry.selectors import households_visible_to, persons_visible_to
from doorstep.registry.services import person_data_clean, person_found_at_door
from doorstep.registry.validation import FieldError, sex_from_resident_id, validate_id
from doorstep.screening.models import PersonCheck, Visit

from .. import schedule
from ..models import (
    ChangeKind,
    KeyPerson,
    Measure,
    Monitoring,
    MonitoringChange,
    MonitoringStatus,
    PossibleDuplicate,
    Reason,
    ReasonKind,
    ReasonLength,
    Source,
    SourceKind,
)
from ..selectors import key_persons_visible_to
from .errors import FollowupRefused


@dataclass(frozen=True)
class ReasonInput:
    kind: str
    exposure_date: datetime.date
    detail: str = ""
    arrival_date: datetime.date | None = None
    contact_of: KeyPerson | None = None


@dataclass(frozen=True)
class SourceInput:
    kind: str
    reference: str = ""
    visit: Visit | None = None
    person_check: PersonCheck | None = None


def reason_days(kind: str) -> int:
    row = ReasonLength.objects.filter(kind=kind).values_list("days", flat=True).first()
    return row if row is not None else schedule.DEFAULT_DAYS


def end_date_of(monitoring: Monitoring) -> datetime.date:
    """The latest exposure of the key person's active reasons plus its reason's length, plus
    the monitoring's extension; never before its start."""
    reasons = Reason.objects.filter(key_person_id=monitoring.key_person_id, active=True)
    lengths = {row.kind: row.days for row in ReasonLength.objects.all()}
    ends = [
        schedule.end_date_for(r.exposure_date, lengths.get(r.kind, schedule.DEFAULT_DAYS))
        for r in reasons
    ]
    end = max(ends) if ends else monitoring.start_date
    end += datetime.timedelta(days=monitoring.extension_days)
    return max(end, monitoring.start_date)


def end_date_refresh(monitoring: Monitoring, *, user: User | None, reason: str) -> None:
    """Move the end date to what the reasons now say, with a history row if it moved."""
    end = end_date_of(monitoring)
    if end != monitoring.end_date:
        history(
            monitoring,
            ChangeKind.END_MOVED,
            user=user,
            reason=reason,
            detail={"from": str(monitoring.end_date), "to": str(end)},
        )
        monitoring.end_date = end
        monitoring.save(update_fields=["end_date"])


def history(
    monitoring: Monitoring,
    kind: str,
    *,
    user: User | None,
    reason: str = "",
    detail: dict[str, object] | None = None,
) -> MonitoringChange:
    return MonitoringChange.objects.create(
        monitoring=monitoring,
        kind=kind,
        user=user if user is not None and user.is_authenticated else None,
        reason=reason[:200],
        detail=detail or {},
    )


def _persons_in_reach(user: User, community: Area) -> QuerySet[Person]:
    """The persons a match may return: those of the caller's jurisdiction (the roster they see)
    and the bare persons of key persons they see, within the community, living here only (a
    namesake marked moved out or deceased is somebody else's record, never the one a hotline
    call is about). A record outside the caller's jurisdiction is never matched: the answer
    must not depend on it (another grid's person found by number would hand its name and
    record to the caller)."""
    return _persons_of_caller(user, community).filter(status=PersonStatus.ACTIVE)


def _persons_of_caller(user: User, community: Area) -> QuerySet[Person]:
    followed = Person.objects.filter(key_person__in=key_persons_visible_to(user))
    in_community = prefix_q("household__grid__path", community.path) | Q(
        household__isnull=True, key_person__community=community
    )
    return (persons_visible_to(user) | followed).filter(in_community)


def _roster_record_gone(user: User, number: str) -> Person | None:
    """The roster record of the caller's jurisdiction marked moved out or deceased that carries
    this number, if any: the person may have come back (or one of the numbers is wrong)."""
    return (
        persons_visible_to(user)
        .exclude(status=PersonStatus.ACTIVE)
        .filter(id_number=number)
        .select_related("household")
        .first()
    )


def _persons_of_community(community: Area) -> QuerySet[Person]:
    """The system's scope for the checkpoint flow (whose officer has no jurisdiction): the
    community's roster and the bare persons it follows, living here only (a moved-out or
    deceased record never becomes a key person again)."""
    in_community = prefix_q("household__grid__path", community.path) | Q(
        household__isnull=True, key_person__community=community
    )
    return Person.objects.filter(in_community, status=PersonStatus.ACTIVE)


def person_for_follow_up(
    *,
    user: User,
    community: Area,
    name: str,
    id_number: str = "",
    phone: str = "",
    address: str = "",
    household: Household | None = None,
    request: HttpRequest | None = None,
) -> Person:
    """The person of the caller's jurisdiction this is (by ID number; without one by name +
    phone, or name + address, when exactly one person matches), or a new Person flagged "new"
    in `household` (one the caller sees, in `community`) or bare. An uncertain match makes a
    new person; key_person_add puts it on the possible duplicates list. A number that a record
    outside the caller's jurisdiction carries is answered like an unknown one: the new person
    holds it and the registry opens a reconciliation case for the community admins
    (registry.services.person_found_at_door)."""
    household_ok = household is None or (
        household.grid.path.startswith(community.path)
        and households_visible_to(user).filter(pk=household.pk).exists()
    )
    number = id_number.replace(" ", "").upper()
    gone = _roster_record_gone(user, number) if number else None
    if gone is not None and KeyPerson.objects.filter(person=gone).exists():
        # Already followed on that record (before the roster marked them gone; by whichever
        # worker: the record is of the caller's jurisdiction): a second source adds to the one
        # record, and no second key person would stop the registry's "moved here" later. The
        # roster is not touched.
        return gone
    return _person_found_or_made(
        user=user,
        community=community,
        in_reach=_persons_in_reach(user, community),
        name=name,
        id_number=id_number,
        phone=phone,
        address=address,
        household=household,
        household_ok=household_ok,
        request=request,
        hold_number=gone is not None,
    )


def person_for_checkpoint_arrival(
    *,
    user: User,
    community: Area,
    name: str,
    id_number: str = "",
    phone: str = "",
    address: str = "",
    household: Household | None = None,
) -> Person:
    """As person_for_follow_up, for the checkpoint flow only (checkpoints.followup_link): the
    officer has no jurisdiction, so the system looks the arrival up in the destination
    community (its roster and the bare persons it follows, living here only, by ID number or
    one held for reconciliation). `household` is the one the destination matching found; it
    is taken only if it lies in `community`, else the new person is bare."""
    if household is not None and not household.grid.path.startswith(community.path):
        household = None
    return _person_found_or_made(
        user=user,
        community=community,
        in_reach=_persons_of_community(community),
        name=name,
        id_number=id_number,
        phone=phone,
        address=address,
        household=household,
        household_ok=True,
        request=None,
    )


def _person_found_or_made(
    *,
    user: User,
    community: Area,
    in_reach: QuerySet[Person],
    name: str,
    id_number: str,
    phone: str,
    address: str,
    household: Household | None,
    household_ok: bool,
    request: HttpRequest | None,
    hold_number: bool = False,
) -> Person:
    name = name.strip()
    if not name:
        raise FollowupRefused(_("a name is needed"), "name")
    if community.level != AreaLevel.COMMUNITY:
        raise FollowupRefused(_("choose a community"), "community")
    number = id_number.replace(" ", "").upper()
    if number:
        found = in_reach.filter(Q(id_number=number) | Q(id_number_held=number)).first()
        if found is not None:
            return found
    else:
        candidates = in_reach.filter(name=name)
        if phone:
            by_phone = list(candidates.filter(phone=phone.strip())[:2])
            if len(by_phone) == 1:
                return by_phone[0]
        if address:
            by_address = [
                p
                for p in candidates.select_related("household")[:50]
                if p.household is not None and address.strip() in (p.household.address_display,)
            ]
            if len(by_address) == 1:
                return by_address[0]
    data = {"name": name, "id_type": "resident_id" if number else "none", "id_number": number}
    if phone:
        data["phone"] = phone.strip()
    try:
        if hold_number:
            # A roster record of the caller's marked moved out or deceased carries the number.
            # The roster changes only by a person's decision: the new record holds the number
            # and the registry opens the reconciliation case ("moved here" folds the records
            # into the roster's one, with history), as for a number carried outside.
            cleaned = person_data_clean(None, {**data, "id_number": "", "id_type": "none"})
            id_type, _number, birth = _valid_id(number)
            cleaned.update(id_type=id_type, id_number=None, id_number_held=number)
            if birth is not None:
                cleaned.update(birth_date=birth, sex=sex_from_resident_id(number))
        else:
            cleaned = person_data_clean(None, data, user=user)
    except ValidationError as error:
        field = next(iter(error.message_dict), "")
        raise FollowupRefused("; ".join(error.messages), field) from None
    if not household_ok:
        raise FollowupRefused(_("the household is not in this community"), "household")
    with sqlite_writer_turn(), transaction.atomic():
        # The registry's one way in for a person not on the roster: a number held elsewhere
        # is kept for reconciliation and the case goes to the community admins, silently.
        person_id = person_found_at_door(
            user=user,
            household_id=household.pk if household is not None else None,
            data=cleaned,
            source="followup",
            request=request,
            area=community,
        )
        person = Person.objects.get(pk=person_id)
        audit_write(
            user=user,
            action="person.add_for_follow_up",
            obj=person,
            request=request,
            detail={
                "community": community.code,
                "bare": household is None,
                "id_number": mask_id_number(number) if number else "",
            },
        )
    return person


def _valid_id(number: str) -> tuple[str, str | None, datetime.date | None]:
    try:
        return validate_id("resident_id", number)
    except FieldError as error:
        raise ValidationError({error.field: error.message}) from None


def worker_fits(worker: User, area: Area) -> bool:
    """Whether `worker` is an active grid worker whose grid lies in `area` (a community or the
    grid itself)."""
    grid = worker.jurisdiction_area
    return (
        worker.role == Role.GRID_WORKER
        and worker.is_active
        and grid is not None
        and grid.path.startswith(area.path)
    )


def _community_of(person: Person) -> Area | None:
    household = person.household
    if household is None:
        return None
    grid = Area.objects.select_related("parent").get(pk=household.grid_id)
    return grid.parent if grid.level == AreaLevel.GRID else grid


def _default_measure(reasons: Sequence[ReasonInput]) -> str:
    kinds = {r.kind for r in reasons}
    if kinds & {ReasonKind.CLOSE_CONTACT, ReasonKind.RISK_AREA_ARRIVAL}:
        return Measure.HOME_ISOLATION
    return Measure.HEALTH_MONITORING


def _validate_reasons(reasons: Sequence[ReasonInput], today: datetime.date) -> None:
    if not reasons:
        raise FollowupRefused(_("at least one reason is needed"), "reasons")
    for n, reason in enumerate(reasons, start=1):
        if reason.kind not in ReasonKind.values:
            raise FollowupRefused(_("reason %(n)d: unknown kind") % {"n": n}, "reasons")
        if reason.exposure_date > today:
            raise FollowupRefused(
                _("reason %(n)d: the exposure date is in the future") % {"n": n}, "exposure_date"
            )
        if reason.kind == ReasonKind.OTHER and not reason.detail.strip():
            raise FollowupRefused(_("reason %(n)d: say what the reason is") % {"n": n}, "detail")


def key_person_add(
    *,
    user: User,
    person: Person,
    reasons: Sequence[ReasonInput],
    source: SourceInput,
    measure: str | None = None,
    start_date: datetime.date | None = None,
    community: Area | None = None,
    worker: User | None = None,
    request: HttpRequest | None = None,
) -> KeyPerson:
    """The person's key-person record with these reasons and this source added: made if there is
    none, else added to (its monitoring's end moves with a new exposure). Two callers at once
    make one record: the unique person column lets one insert win, the other finds it.

    The responsible worker of a record made here: a grid worker who adds it keeps it; else
    `worker` (a grid worker of the community, e.g. the household's in the sweep), else none
    until an admin assigns one. An existing record keeps its worker."""
    now = timezone.now()
    today = schedule.local_date(now)
    _validate_reasons(reasons, today)
    if source.kind not in SourceKind.values:
        raise FollowupRefused(_("unknown source"), "source")
    if measure is not None and measure not in Measure.values:
        raise FollowupRefused(_("unknown measure"), "measure")
    community = community or _community_of(person)
    if community is None or community.level != AreaLevel.COMMUNITY:
        raise FollowupRefused(_("choose the responsible community"), "community")
    if user.role == Role.GRID_WORKER:
        worker = user
    elif worker is not None and not worker_fits(worker, community):
        raise FollowupRefused(_("choose a grid worker of the community"), "worker")
    with sqlite_writer_turn(), transaction.atomic():
        try:
            with transaction.atomic():
                key_person = KeyPerson.objects.create(
                    person=person, community=community, worker=worker, created_by=user
                )
            created = True
        except IntegrityError:
            key_person = KeyPerson.objects.get(person=person)
            created = False
        # Serialises two additions to the same record (the second sees the first's monitoring).
        key_person = KeyPerson.objects.select_for_update().get(pk=key_person.pk)
        for reason in reasons:
            Reason.objects.create(
                key_person=key_person,
                kind=reason.kind,
                exposure_date=reason.exposure_date,
                detail=reason.detail[:200],
                arrival_date=reason.arrival_date,
                contact_of=reason.contact_of,
                created_by=user,
            )
        Source.objects.create(
            key_person=key_person,
            kind=source.kind,
            reference=source.reference[:100],
            visit=source.visit,
            person_check=source.person_check,
            created_by=user,
        )
        monitoring = Monitoring.objects.filter(
            key_person=key_person, status=MonitoringStatus.ACTIVE
        ).first()
        if monitoring is None:
            start = start_date or today
            monitoring = Monitoring(
                key_person=key_person,
                measure=measure or _default_measure(reasons),
                started_at=now if start == today else schedule.local_moment(start, datetime.time()),
                start_date=start,
                end_date=start,
            )
            monitoring.end_date = end_date_of(monitoring)
            monitoring.save()
            history(
                monitoring,
                ChangeKind.STARTED,
                user=user,
                detail={"measure": monitoring.measure, "end_date": str(monitoring.end_date)},
            )
        else:
            end_date_refresh(monitoring, user=user, reason=_("new exposure"))
        if created and person.is_new:
            _possible_duplicates(key_person)
        audit_write(
            user=user,
            action="key_person.add" if created else "key_person.add_source",
            obj=key_person,
            request=request,
            detail={"source": source.kind, "reasons": [r.kind for r in reasons]},
        )
    return key_person


def _possible_duplicates(key_person: KeyPerson) -> None:
    """A new person whose name another key person of the community carries may be that person
    (no ID number, a phone or address that did not match): a person decides."""
    others = (
        KeyPerson.objects.filter(community_id=key_person.community_id, merged_into__isnull=True)
        .exclude(pk=key_person.pk)
        .filter(person__name=key_person.person.name)
    )
    for other in others[:20]:
        PossibleDuplicate.objects.get_or_create(
            key_person=key_person, other=other, defaults={"why": "same name"}
        )
