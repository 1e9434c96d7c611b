"""Daily checks: one per monitoring and slot (a second one replaces it, with history);
idempotent by client UUID; a fever or a listed symptom opens a referral at once."""

from __future__ import annotations

import datetime
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from doorstep.accounts.models import User
from doorstep.core.db import sqlite_writer_turn
from doorstep.core.ratelimit import refusals_left, write_refused
from doorstep.screening.rules import SYMPTOMS, AnswerError, parse_temperature

from .. import schedule
from ..models import (
    Check,
    CheckChange,
    CheckMethod,
    CheckOutcome,
    CheckSubmission,
    KeyPerson,
    Monitoring,
    MonitoringStatus,
    Referral,
    ReferralStatus,
    SelfCheckToken,
    SourceKind,
)
from .check_insert import check_insert, tally_moved
from .errors import CheckConflict, FollowupRefused

FUTURE_GRACE = datetime.timedelta(minutes=10)


@dataclass
class CheckInput:
    client_uuid: uuid.UUID
    measured_at: datetime.datetime
    outcome: str = CheckOutcome.MEASURED
    method: str = CheckMethod.VISIT
    temperature: object = None
    symptoms: list[str] = field(default_factory=list)
    # The slot the check is for, when it is not the one `measured_at` falls in (a paper sheet
    # typed in the evening names its day and slot).
    slot_date: datetime.date | None = None
    slot: int | None = None

    def digest(self) -> str:
        body = asdict(self)
        body["client_uuid"] = str(self.client_uuid)
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: str  # created | replaced | duplicate
    late: bool
    referral: Referral | None = None


def _monitorings_locked(key_person: KeyPerson) -> list[Monitoring]:
    """The key person's monitorings (merged ones aside), latest first, locked for this
    transaction: one read both chooses the check's monitoring and holds its tally."""
    return list(
        Monitoring.objects.select_for_update()
        .filter(key_person_id=key_person.pk)
        .exclude(status=MonitoringStatus.MERGED)
        .order_by("-started_at")
    )


class _Target:
    """The key person a check is for: given (reached already through the caller's selector, or
    a self-check token), or named by id and reached through the caller's selector in the same
    read that locks its monitorings."""

    def __init__(
        self,
        key_person: KeyPerson | None = None,
        *,
        user: User | None = None,
        key_person_id: int = 0,
    ):
        self.key_person, self.user, self.key_person_id = key_person, user, key_person_id
        self.seen = key_person is not None  # the caller sees the key person

    def reached(self) -> KeyPerson:
        """The key person (Http404 when the caller does not see it)."""
        if self.key_person is None:
            from ..selectors import access_key_person

            assert self.user is not None
            self.key_person = access_key_person(self.user, self.key_person_id, related=())
            self.seen = True
        return self.key_person

    def reached_id(self) -> int:
        """The key person's id (Http404 when the caller does not see it): no read once its
        monitorings were read in the caller's scope."""
        if self.key_person is not None:
            return self.key_person.pk
        if self.seen:
            return self.key_person_id
        return self.reached().pk

    def monitorings_locked(self) -> list[Monitoring]:
        if self.key_person is not None:
            return _monitorings_locked(self.key_person)
        assert self.user is not None
        rows = _monitorings_locked_in_scope(self.user, self.key_person_id)
        if rows:
            self.seen = True
            return rows
        self.reached()  # not the caller's: Http404; else a key person without a monitoring
        return []


# A key person's monitorings (merged ones aside), latest first, if the caller sees the key person
# (the scope is key_person_scope_q's, compiled: field_reads.key_person_where_sql), locked on
# PostgreSQL. Written by hand: the ORM spent twice the statement's time building it.
_MONITORINGS_LOCKED_SQL = """
SELECT m.* FROM followup_monitoring m
JOIN followup_keyperson ON followup_keyperson.id = m.key_person_id
WHERE ({scope}) AND m.key_person_id = %s AND NOT (m.status = %s)
ORDER BY m.started_at DESC{lock}
"""


def _monitorings_locked_in_scope(user: User, key_person_id: int) -> list[Monitoring]:
    """The key person's monitorings as _monitorings_locked reads them, none when the user does
    not see the key person (their key person loads on access)."""
    from ..field_reads import key_person_where_sql
    from ..selectors import key_person_scope_q

    scope = key_person_scope_q(user)
    compiled = key_person_where_sql(scope) if scope is not None else None
    if compiled is None:
        return []
    where, params = compiled
    features = connection.features
    lock = (
        " FOR UPDATE OF m"
        if features.has_select_for_update_of
        else " FOR UPDATE"
        if features.has_select_for_update
        else ""
    )
    return list(
        Monitoring.objects.raw(
            _MONITORINGS_LOCKED_SQL.format(scope=where, lock=lock),
            [*params, key_person_id, MonitoringStatus.MERGED.value],
        )
    )


def _monitoring_for(monitorings: Sequence[Monitoring], slot: schedule.Slot) -> Monitoring:
    """The monitoring whose span holds the slot (the latest that started by then)."""
    for monitoring in monitorings:
        if schedule.first_slot(monitoring.started_at).ordinal <= slot.ordinal:
            return monitoring
    raise FollowupRefused(_("the check is dated before the monitoring started"), "measured_at")


@dataclass(frozen=True)
class _Checked:
    """A check's input as the rules read it (before its monitoring is known)."""

    slot: schedule.Slot
    temperature: Decimal | None
    symptoms: list[str]


def _validate_input(data: CheckInput, now: datetime.datetime) -> _Checked:
    """The rules that need no database: outcome, method, time, slot, temperature, symptoms."""
    if data.outcome not in CheckOutcome.values:
        raise FollowupRefused(_("unknown outcome"), "outcome")
    if data.method not in CheckMethod.values:
        raise FollowupRefused(_("unknown method"), "method")
    if timezone.is_naive(data.measured_at):
        raise FollowupRefused(_("the time has no time zone"), "measured_at")
    if data.measured_at > now + FUTURE_GRACE:
        raise FollowupRefused(_("the check is dated in the future"), "measured_at")
    if (data.slot_date is None) != (data.slot is None):
        raise FollowupRefused(_("give both the day and the slot, or neither"), "slot")
    if data.slot_date is not None and data.slot is not None:
        if not 0 <= data.slot < schedule.slots_per_day():
            raise FollowupRefused(_("no such slot"), "slot")
        slot = schedule.Slot(data.slot_date, data.slot)
        if slot.starts_at > now:
            raise FollowupRefused(_("the check is dated in the future"), "slot_date")
    else:
        slot = schedule.slot_of(data.measured_at)
    try:
        # The sweep's reading of a temperature (range, slips of the decimal point): one rule for
        # the door, the checkpoint and the follow-up.
        temperature = parse_temperature(data.temperature)
    except AnswerError as error:
        raise FollowupRefused(error.message, error.field) from None
    symptoms = [s for s in data.symptoms if s]
    unknown = [s for s in symptoms if s not in SYMPTOMS]
    if unknown:
        raise FollowupRefused(_("unknown symptom “%(s)s”") % {"s": unknown[0][:30]}, "symptoms")
    if data.outcome == CheckOutcome.MEASURED and temperature is None:
        raise FollowupRefused(_("a measured check needs a temperature"), "temperature")
    if data.outcome == CheckOutcome.UNREACHABLE and (temperature is not None or symptoms):
        raise FollowupRefused(_("a person not reached has no temperature"), "outcome")
    return _Checked(slot, temperature, sorted(set(symptoms)))


def check_input_validate(data: CheckInput) -> None:
    """The rules of a check that need no database (FollowupRefused): a check kept for the
    community's decision (holding.py) is refused at once for what it could never be saved with."""
    _validate_input(data, timezone.now())


def _validate_monitoring(
    monitorings: Sequence[Monitoring], data: CheckInput, slot: schedule.Slot
) -> Monitoring:
    """The rules of the monitoring the slot belongs to: its first and last day, its release."""
    monitoring = _monitoring_for(monitorings, slot)
    if monitoring.start_date > slot.day:
        raise FollowupRefused(_("the check is dated before the monitoring started"), "measured_at")
    if slot.day > monitoring.end_date:
        raise FollowupRefused(
            _("the check is dated after the monitoring's last day (%(d)s)")
            % {"d": monitoring.end_date},
            "measured_at",
        )
    if monitoring.released_at is not None and (
        slot.starts_at >= monitoring.released_at or data.measured_at > monitoring.released_at
    ):
        raise FollowupRefused(
            _("the check is dated after the release (%(t)s)")
            % {"t": timezone.localtime(monitoring.released_at).strftime("%Y-%m-%d %H:%M")},
            "measured_at",
        )
    return monitoring


def _existing(client_uuid: uuid.UUID, digest: str, key_person_id: int) -> CheckResult | None:
    submission = (
        CheckSubmission.objects.filter(client_uuid=client_uuid).select_related("check_row").first()
    )
    if submission is None:
        return None
    check = submission.check_row
    if not Monitoring.objects.filter(pk=check.monitoring_id, key_person_id=key_person_id).exists():
        raise Http404  # another person's check: the UUID is no key to it
    if submission.body_hash != digest:
        raise CheckConflict(check)
    return CheckResult(check, "duplicate", check.late)


def needs_referral(temperature: Decimal | None, symptoms: Sequence[str]) -> bool:
    return (
        temperature is not None and temperature >= Decimal(settings.FOLLOWUP_FEVER_THRESHOLD)
    ) or bool(symptoms)


def check_record(
    *,
    user: User | None,
    key_person: KeyPerson,
    data: CheckInput,
    request: HttpRequest | None = None,
) -> CheckResult:
    """Record a check for `key_person` (already reached through the caller's selector, or a
    self-check token). Refusals raise FollowupRefused (422), CheckConflict (409), Http404; each
    is audited and counted as a refused write."""
    return _recorded(user, _Target(key_person), data, request)


def check_record_for(
    *, user: User, key_person_id: int, data: CheckInput, request: HttpRequest | None = None
) -> tuple[int, CheckResult]:
    """check_record for a key person the caller names by id (the API): reached through the
    caller's selector in the read that locks its monitorings; one they do not see answers
    Http404 before any rule about the check, and nothing is written."""
    target = _Target(user=user, key_person_id=key_person_id)
    result = _recorded(user, target, data, request)
    return target.reached_id(), result


def _recorded(
    user: User | None, target: _Target, data: CheckInput, request: HttpRequest | None
) -> CheckResult:
    try:
        return _check_record(user=user, target=target, data=data)
    except (FollowupRefused, CheckConflict, Http404) as refusal:
        kind = {CheckConflict: "conflict", Http404: "not_found"}.get(type(refusal), "rejected")
        write_refused(request, reason=f"check {kind}")
        raise


def _check_record(*, user: User | None, target: _Target, data: CheckInput) -> CheckResult:
    now = timezone.now()
    digest = data.digest()
    try:
        checked = _validate_input(data, now)
    except FollowupRefused:
        # A key person the caller does not see: 404 first, whatever the check. A retry that the
        # rules would refuse now still gets its first answer.
        existing = _existing(data.client_uuid, digest, target.reached_id())
        if existing is not None:
            return existing
        raise
    late = checked.slot.has_ended(now)
    # The slot's check is found from the monitoring's tally when the tally says there is none
    # (the usual case: no read of the checks); should the tally be wrong, the insert meets the
    # one-check-per-slot rule and the write runs again, reading the checks.
    for trust_tally in (True, False):
        try:
            with sqlite_writer_turn(), transaction.atomic():
                monitoring = _validate_monitoring(target.monitorings_locked(), data, checked.slot)
                return _check_write(
                    user=user,
                    monitoring=monitoring,
                    slot=checked.slot,
                    data=data,
                    digest=digest,
                    temperature=checked.temperature,
                    symptoms=checked.symptoms,
                    late=late,
                    now=now,
                    trust_tally=trust_tally,
                )
        except FollowupRefused:
            # Released since the first answer (a retry): that answer again.
            existing = _existing(data.client_uuid, digest, target.reached_id())
            if existing is not None:
                return existing
            raise
        except IntegrityError:
            existing = _existing(data.client_uuid, digest, target.reached_id())
            if existing is not None:
                return existing
            if not trust_tally:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _slot_is_free(monitoring: Monitoring, slot: schedule.Slot) -> bool:
    """The tally says no check holds the slot (it knows only its latest day's slots)."""
    if monitoring.checked_on is None or slot.day > monitoring.checked_on:
        return True
    if slot.day == monitoring.checked_on:
        return not monitoring.checked_mask & (1 << slot.index)
    return False


def _check_write(
    *,
    user: User | None,
    monitoring: Monitoring,
    slot: schedule.Slot,
    data: CheckInput,
    digest: str,
    temperature: Decimal | None,
    symptoms: list[str],
    late: bool,
    now: datetime.datetime,
    trust_tally: bool = False,
) -> CheckResult:
    """Inside the transaction that locked `monitoring` (read with its tally)."""
    entered_by = user if user is not None and user.is_authenticated else None
    values = {
        "outcome": data.outcome,
        "method": data.method,
        "temperature": temperature,
        "symptoms": symptoms,
        "measured_at": data.measured_at,
        "entered_at": now,
        "entered_by": entered_by,
        "late": late,
    }
    if trust_tally and _slot_is_free(monitoring, slot):
        check = None
    else:
        check = Check.objects.filter(
            monitoring=monitoring, slot_date=slot.day, slot=slot.index
        ).first()
    if check is None:
        check = Check(monitoring=monitoring, slot_date=slot.day, slot=slot.index, **values)
        check_insert(check, monitoring, client_uuid=data.client_uuid, digest=digest, now=now)
        status = "created"
    else:
        CheckChange.objects.create(
            check_row=check,
            user=entered_by,
            previous={
                "outcome": check.outcome,
                "method": check.method,
                "temperature": str(check.temperature) if check.temperature is not None else None,
                "symptoms": check.symptoms,
                "measured_at": check.measured_at.isoformat(),
                "entered_by": check.entered_by_id,
            },
        )
        for name, value in values.items():
            setattr(check, name, value)
        check.save()
        status = "replaced"
        CheckSubmission.objects.create(
            client_uuid=data.client_uuid, body_hash=digest, check_row=check
        )
        # A replaced value may have been the latest: fold the monitoring's few checks again.
        monitoring.last_check_at, monitoring.checked_on, monitoring.checked_mask = tally_of_checks(
            monitoring
        )
        monitoring.save(update_fields=["last_check_at", "checked_on", "checked_mask"])
    referral = None
    if data.outcome == CheckOutcome.MEASURED and needs_referral(temperature, symptoms):
        open_one = Referral.objects.filter(
            key_person_id=monitoring.key_person_id,
            status__in=[ReferralStatus.OPEN, ReferralStatus.ARRIVED],
        ).first()
        if open_one is None:
            from .referrals import referral_write

            referral = referral_write(
                user=entered_by,
                key_person=monitoring.key_person,
                monitoring=monitoring,
                temperature=temperature,
                symptoms=symptoms,
                source_kind=SourceKind.MANUAL,
                source_reference=f"check:{check.pk}",
                facility=None,
            )
    return CheckResult(check, status, late, referral)


def tally_apply(monitoring: Monitoring, check: Check) -> None:
    """Move the monitoring's tally of checks by this one (inside the check's transaction)."""
    fields = tally_moved(monitoring, check)
    if fields:
        monitoring.save(update_fields=fields)


def tally_of_checks(
    monitoring: Monitoring,
) -> tuple[datetime.datetime | None, datetime.date | None, int]:
    """The tally as the checks define it (for recompute_followup)."""
    checks = list(monitoring.checks.values_list("outcome", "measured_at", "slot_date", "slot"))
    measured = [at for outcome, at, _d, _s in checks if outcome == CheckOutcome.MEASURED]
    last = max(measured) if measured else None
    day = max((d for _o, _a, d, _s in checks), default=None)
    mask = 0
    for _o, _a, d, s in checks:
        if d == day:
            mask |= 1 << s
    return last, day, mask


@dataclass(frozen=True)
class CheckBatchItem:
    index: int
    client_uuid: str
    status: str  # created | replaced | duplicate | conflict | rejected | not_found | throttled
    check_id: int | None = None
    late: bool = False
    error: str = ""
    field: str = ""


def check_batch_record(
    *,
    user: User,
    items: Sequence[tuple[int, CheckInput]],
    key_person_for: object,
    request: HttpRequest | None = None,
) -> list[CheckBatchItem]:
    """Record many checks, each on its own (`key_person_for(id)` reaches a key person through
    the caller's selector or raises Http404)."""
    results = []
    for index, (key_person_id, data) in enumerate(items):
        uuid_text = str(data.client_uuid)
        if not refusals_left(request):
            message = _("too many refused writes: wait, then send this check again")
            results.append(CheckBatchItem(index, uuid_text, "throttled", error=message))
            continue
        try:
            key_person = key_person_for(key_person_id)  # type: ignore[operator]
            result = check_record(user=user, key_person=key_person, data=data, request=request)
            results.append(
                CheckBatchItem(index, uuid_text, result.status, result.check.pk, result.late)
            )
        except CheckConflict as conflict:
            results.append(
                CheckBatchItem(index, uuid_text, "conflict", conflict.check.pk, error=str(conflict))
            )
        except FollowupRefused as refused:
            results.append(
                CheckBatchItem(
                    index, uuid_text, "rejected", error=refused.message, field=refused.field
                )
            )
        except Http404:
            results.append(
                CheckBatchItem(index, uuid_text, "not_found", error=_("key person not found"))
            )
    return results


def self_check_token_for(*, monitoring: Monitoring) -> SelfCheckToken:
    import secrets

    token, _created = SelfCheckToken.objects.get_or_create(
        monitoring=monitoring, defaults={"token": secrets.token_urlsafe(24)}
    )
    return token


def self_check_lookup(token: str) -> Monitoring:
    """The monitoring a self-check link opens: only while it is active and not past its last
    day. Anything else answers 404, like a link that never existed."""
    row = (
        SelfCheckToken.objects.filter(token=token)
        .select_related("monitoring", "monitoring__key_person", "monitoring__key_person__person")
        .first()
    )
    now = timezone.now()
    if (
        row is None
        or row.monitoring.status != MonitoringStatus.ACTIVE
        or schedule.local_date(now) > row.monitoring.end_date
    ):
        raise Http404
    return row.monitoring
