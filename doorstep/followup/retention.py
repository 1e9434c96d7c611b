"""Retention of follow-up: a retention period (`FOLLOWUP_RETENTION_DAYS`, 30 by default) after a
key person's last monitoring was released, what was collected about their health is anonymised,
while every figure of the brief and of the follow-up counts stays exactly as it was. It runs
with the other domains' retention steps (`core/retention.py`, `apply_retention`).

When: a key person none of whose monitorings is open (active, or released less than the period
ago), that has at least one released before it, no referral still open or arrived without an
outcome, and no transfer waiting; a record merged into another (a duplicate) when the record it
was merged into is. A key person who comes under monitoring again is out of reach
until that monitoring too has been released for the period; a later run then takes the new rows.

What goes (collected only to follow the person):
- each check's temperature and symptoms, and the values a replaced check had (`CheckChange`);
- the digest of each check submission (a hash of the answers: with the rest of the row known, a
  temperature could be guessed back from it);
- each monitoring's home-isolation eligibility answers, release and early-release reasons;
- every monitoring change's free-text reason, and the eligibility answers a measure change kept;
- each reason's free-text detail (the sweep's travel answer, a flag list, a typed note) and its
  link to the key person they were a contact of;
- the free-text reference of a source or referral typed by hand or from a clinic (the sweep's
  and checkpoints' references are machine references, kept so a replayed visit opens nothing);
- each referral's temperature and symptoms;
- the self-check links (tokens) of the person's monitorings, deleted;
- each held offline check's form as the phone sent it, its digest and the discard note; a check
  still waiting for a decision is closed as discarded (after the release it could not be accepted).

What stays, because a figure depends on it (`followup/brief.py`, `followup/counts.py`,
`recompute_followup`): the key person's community and worker; each monitoring's measure, status,
start, end, release time and check tally; each check's monitoring, day, slot, outcome, method and
times; each reason's kind, exposure and arrival days and `active`; each referral's status, times,
outcome and facility; placements (facility occupancy). The key person still points at its roster
person: the model holds one record per person, and the brief's lists of a past day name who was
under monitoring then; the roster is not follow-up's to anonymise.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from doorstep.accounts.models import User
from doorstep.core.db import in_values_q, prefix_q, sqlite_writer_turn
from doorstep.core.retention import (
    DEFAULT_BATCH_SIZE,
    RetentionCounts,
    RetentionStep,
    cutoff,
    id_batches,
    retention_area_path,
)
from doorstep.core.services import audit_write

from .models import (
    Check,
    CheckChange,
    CheckSubmission,
    HeldCheck,
    HeldCheckState,
    KeyPerson,
    Monitoring,
    MonitoringChange,
    MonitoringStatus,
    Reason,
    Referral,
    ReferralStatus,
    SelfCheckToken,
    Source,
    SourceKind,
)

TYPED_SOURCES = (SourceKind.MANUAL, SourceKind.CLINIC)

# Rows that still hold something to anonymise: a rerun touches only these, so its counts say
# what it really changed.
CHECK_HOLDS_DATA = Q(temperature__isnull=False) | ~Q(symptoms=[])
MONITORING_HOLDS_DATA = ~Q(eligibility={}) | ~Q(release_reason="") | ~Q(early_release_reason="")
REASON_HOLDS_DATA = ~Q(detail="") | Q(contact_of__isnull=False)
REFERRAL_HOLDS_DATA = (
    Q(temperature__isnull=False)
    | ~Q(symptoms=[])
    | (Q(source_kind__in=TYPED_SOURCES) & ~Q(source_reference=""))
)
HELD_HOLDS_DATA = ~Q(form=[]) | ~Q(body_hash="") | ~Q(decision_note="")

LABELS = {
    "checks": _("%(n)d checks"),
    "check_changes": _("%(n)d replaced checks"),
    "check_submissions": _("%(n)d check submissions"),
    "monitorings": _("%(n)d monitorings"),
    "monitoring_changes": _("%(n)d monitoring changes"),
    "reasons": _("%(n)d reasons"),
    "sources": _("%(n)d sources"),
    "referrals": _("%(n)d referrals"),
    "self_check_links": _("%(n)d self-check links"),
    "held_checks": _("%(n)d held checks"),
}


@dataclass
class FollowupCounts(RetentionCounts):
    DUE: ClassVar[str] = "key_persons"
    key_persons: int = 0  # the key persons past their retention period (not a change)
    checks: int = 0
    check_changes: int = 0
    check_submissions: int = 0
    monitorings: int = 0
    monitoring_changes: int = 0
    reasons: int = 0
    sources: int = 0
    referrals: int = 0
    self_check_links: int = 0
    held_checks: int = 0


def retention_days() -> int:
    return int(settings.FOLLOWUP_RETENTION_DAYS)


def _still_open(cut: datetime.datetime) -> Q:
    """A monitoring that keeps its key person out of reach: active, released after `cut`, or
    ended without a release time (a merged one has none: it does not hold the person back)."""
    return (
        Q(status=MonitoringStatus.ACTIVE)
        | Q(released_at__gt=cut)
        | (Q(released_at__isnull=True) & ~Q(status=MonitoringStatus.MERGED))
    )


def due_key_persons(
    *, area_path: str = "", now: datetime.datetime | None = None
) -> QuerySet[KeyPerson]:
    """The key persons whose follow-up is past its retention period (see the module docstring),
    under `area_path` ("" for all). A record merged into another (a duplicate) follows the one
    it was merged into: its monitoring closed as merged went on there."""
    cut = cutoff(retention_days(), now)
    monitorings = Monitoring.objects.filter(key_person=OuterRef("pk"))
    closed = (
        KeyPerson.objects.exclude(Exists(monitorings.filter(_still_open(cut))))
        .exclude(
            Exists(
                Referral.objects.filter(key_person=OuterRef("pk")).exclude(
                    status=ReferralStatus.CLOSED
                )
            )
        )
        .filter(transfer_to__isnull=True)
    )
    released = closed.filter(
        Exists(monitorings.filter(released_at__lte=cut)), merged_into__isnull=True
    )
    rows = closed.filter(Q(pk__in=released.values("pk")) | Q(merged_into__in=released.values("pk")))
    if area_path:
        rows = rows.filter(prefix_q("community__path", area_path))
    return rows


def _rows(key_person_q: Any) -> dict[str, QuerySet[Any]]:
    """Each table's rows that still hold data, for the key persons `key_person_q(path)` picks
    (`path`: the lookup from that table to the key person's id)."""
    return {
        "checks": Check.objects.filter(key_person_q("monitoring__key_person_id")).filter(
            CHECK_HOLDS_DATA
        ),
        "check_changes": CheckChange.objects.filter(
            key_person_q("check_row__monitoring__key_person_id")
        ).exclude(previous={}),
        "check_submissions": CheckSubmission.objects.filter(
            key_person_q("check_row__monitoring__key_person_id")
        ).exclude(body_hash=""),
        "monitorings": Monitoring.objects.filter(key_person_q("key_person_id")).filter(
            MONITORING_HOLDS_DATA
        ),
        "monitoring_changes": MonitoringChange.objects.filter(
            key_person_q("monitoring__key_person_id")
        ).filter(~Q(reason="") | Q(detail__has_key="eligibility")),
        "reasons": Reason.objects.filter(key_person_q("key_person_id")).filter(REASON_HOLDS_DATA),
        "sources": Source.objects.filter(key_person_q("key_person_id"))
        .filter(kind__in=TYPED_SOURCES)
        .exclude(reference=""),
        "referrals": Referral.objects.filter(key_person_q("key_person_id")).filter(
            REFERRAL_HOLDS_DATA
        ),
        "self_check_links": SelfCheckToken.objects.filter(
            key_person_q("monitoring__key_person_id")
        ),
        "held_checks": HeldCheck.objects.filter(key_person_q("key_person_id")).filter(
            HELD_HOLDS_DATA
        ),
    }


def _anonymise(rows: dict[str, QuerySet[Any]], counts: FollowupCounts) -> None:
    """Blank what `rows` hold (one batch, inside the caller's transaction)."""
    counts.checks += rows["checks"].update(temperature=None, symptoms=[])
    counts.check_changes += rows["check_changes"].update(previous={})
    counts.check_submissions += rows["check_submissions"].update(body_hash="")
    counts.monitorings += rows["monitorings"].update(
        eligibility={}, release_reason="", early_release_reason=""
    )
    # Keep what a change says about the schedule (from, to, days); drop the answers it kept.
    for change in rows["monitoring_changes"].only("pk", "detail"):
        detail = {k: v for k, v in change.detail.items() if k != "eligibility"}
        MonitoringChange.objects.filter(pk=change.pk).update(reason="", detail=detail)
        counts.monitoring_changes += 1
    counts.reasons += rows["reasons"].update(detail="", contact_of=None)
    counts.sources += rows["sources"].update(reference="")
    referral_ids = list(rows["referrals"].values_list("pk", flat=True))
    Referral.objects.filter(pk__in=referral_ids).update(temperature=None, symptoms=[])
    Referral.objects.filter(pk__in=referral_ids, source_kind__in=TYPED_SOURCES).update(
        source_reference=""
    )
    counts.referrals += len(referral_ids)
    counts.self_check_links += rows["self_check_links"].delete()[0]
    held_ids = list(rows["held_checks"].values_list("pk", flat=True))
    counts.held_checks += HeldCheck.objects.filter(pk__in=held_ids).update(
        form=[], body_hash="", decision_note=""
    )
    # A check still waiting for a decision could never be accepted (the monitoring is released:
    # holding.py refuses it) and its form is gone now: closed, so no admin is left holding it.
    HeldCheck.objects.filter(pk__in=held_ids, state=HeldCheckState.HELD).update(
        state=HeldCheckState.DISCARDED, decided_at=timezone.now()
    )


def followup_retention_pending(
    *, user: User | None, now: datetime.datetime | None = None
) -> FollowupCounts:
    """What `followup_anonymise_due` would anonymise now (the dry run)."""
    due = due_key_persons(area_path=retention_area_path(user), now=now)
    counts = FollowupCounts(key_persons=due.count())
    chosen = due.values("pk")
    for name, rows in _rows(lambda path: Q(**{f"{path}__in": chosen})).items():
        setattr(counts, name, rows.count())
    return counts


def followup_anonymise_due(
    *,
    user: User | None,
    now: datetime.datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> FollowupCounts:
    """Anonymise the follow-up of every key person past the retention period in the caller's
    reach (`user` None: the operator, everything; a command account: its jurisdiction; anyone
    else: PermissionDenied, nothing changed). Returns what this run changed.

    Deliberately not one transaction: key persons go in batches of `batch_size`, each committed
    with all its rows, so a run that stops half-way keeps its committed batches and the next run
    finishes the job; a rerun finds nothing left and changes nothing. One audit event (counts
    only) per run that changed anything."""
    area_path = retention_area_path(user)
    now = now or timezone.now()
    due = due_key_persons(area_path=area_path, now=now)
    counts = FollowupCounts()
    for batch in id_batches(due, batch_size):
        counts.key_persons += len(batch)
        with sqlite_writer_turn(), transaction.atomic():
            _anonymise(_rows(lambda path, ids=batch: in_values_q(path, ids)), counts)
    if counts.total:
        audit_write(
            user=user,
            action="followup.anonymise",
            object_type="followup.keyperson",
            detail={**asdict(counts), "days": retention_days(), "area": area_path},
        )
    return counts


STEP = RetentionStep(
    key="followup",
    label=_("follow-up"),
    labels=LABELS,
    pending=followup_retention_pending,
    apply=followup_anonymise_due,
)
