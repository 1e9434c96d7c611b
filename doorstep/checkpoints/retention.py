"""Retention of checkpoints: a retention period (`DOORSTEP_CHECKPOINT_RETENTION_DAYS`, 30 by
default) after an arrival whose handoff closed (or that had none), what the officer typed about
the people in the vehicle is anonymised, while every figure of the brief's checkpoint section
and of the checkpoint counts stays exactly as it was. It runs with the other domains' retention
steps (`core/retention.py`, `apply_retention`).

When: a vehicle passage that arrived more than the period ago and none of whose occupants is
still open: waiting in the unmatched queue, in a pending handoff, or in a handoff closed less
than the period ago. A closed handoff is anonymised on its own once closed for the period.

What goes:
- each arrival's name, ID number, phone, origin, typed destination address, symptoms, the day
  they left the origin, the risk flags and the risk-list entry the origin matched (the travel
  details), the match's candidates, its links to a roster household and person, and the digest
  of the body the device sent (with the rest known, an answer could be guessed back from it);
- each passage's plate (or train number), origin, destination and digest;
- each closed handoff's person key (the ID number, else name and phone) and note, and the notes
  of its events.

What stays, because a figure depends on it (`checkpoints/brief.py`, `selectors.counts_by_*`):
each arrival's checkpoint, times, destination community, `is_risk`, temperature (the fever
figure compares it with the checkpoint's threshold when it is read), purpose and route (passing
through), the completion mark, the match status, its handoff, key person and referral links;
each handoff's community, district, status, times, deadline, lateness, not-found reason and
re-routes; each event's action, time and communities (the handoff states are folded from them).
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from typing import ClassVar

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

from .models import Arrival, Handoff, HandoffEvent, HandoffStatus, Route, VehiclePassage

ANONYMOUS_ARRIVAL: dict[str, object] = {
    "name": "",
    "id_number": None,
    "phone": "",
    "origin": "",
    "destination": "",
    "symptoms": [],
    "left_origin_on": None,
    "risk_flags": [],
    "risk_area": "",
    "match_candidates": [],
    "household": None,
    "person": None,
    "body_hash": "",
}
ANONYMOUS_PASSAGE = {"plate": "", "origin": "", "destination": "", "body_hash": ""}

# Rows that still hold something to anonymise: a rerun touches only these.
ARRIVAL_HOLDS_DATA = (
    ~Q(name="")
    | Q(id_number__isnull=False)
    | ~Q(phone="")
    | ~Q(origin="")
    | ~Q(destination="")
    | ~Q(symptoms=[])
    | Q(left_origin_on__isnull=False)
    | ~Q(risk_flags=[])
    | ~Q(risk_area="")
    | ~Q(match_candidates=[])
    | Q(household__isnull=False)
    | Q(person__isnull=False)
    | ~Q(body_hash="")
)
PASSAGE_HOLDS_DATA = ~Q(plate="") | ~Q(origin="") | ~Q(destination="") | ~Q(body_hash="")
HANDOFF_HOLDS_DATA = ~Q(person_key="") | ~Q(note="")

LABELS = {
    "arrivals": _("%(n)d arrivals"),
    "passages": _("%(n)d vehicles"),
    "handoffs": _("%(n)d handoffs"),
    "handoff_events": _("%(n)d handoff events"),
}


@dataclass
class ArrivalCounts(RetentionCounts):
    DUE: ClassVar[str] = "passages_due"
    # the passages past their retention period with something left (read, not a change)
    passages_due: int = 0
    arrivals: int = 0
    passages: int = 0
    handoffs: int = 0
    handoff_events: int = 0


def retention_days() -> int:
    return int(settings.DOORSTEP_CHECKPOINT_RETENTION_DAYS)


def _holds_back(cut: datetime.datetime) -> Q:
    """An arrival that keeps its passage out of reach: still to route, handed off and not
    closed, closed after `cut`, or itself arrived after `cut`."""
    return (
        Q(route=Route.UNMATCHED)
        | Q(arrived_at__gt=cut)
        | Q(handoff__status=HandoffStatus.PENDING)
        | (Q(handoff__isnull=False) & (Q(handoff__closed_at__isnull=True)))
        | Q(handoff__closed_at__gt=cut)
    )


def due_passages(
    *, area_path: str = "", now: datetime.datetime | None = None
) -> QuerySet[VehiclePassage]:
    """The passages past the retention period (module docstring) that still hold something, at
    checkpoints under `area_path` ("" for all)."""
    cut = cutoff(retention_days(), now)
    arrivals = Arrival.objects.filter(passage=OuterRef("pk"))
    rows = (
        VehiclePassage.objects.filter(arrived_at__lte=cut)
        .exclude(Exists(arrivals.filter(_holds_back(cut))))
        # only those with something left: a daily run does not walk every passage of the past
        .filter(PASSAGE_HOLDS_DATA | Exists(arrivals.filter(ARRIVAL_HOLDS_DATA)))
    )
    if area_path:
        rows = rows.filter(prefix_q("checkpoint__district__path", area_path))
    return rows


def due_handoffs(*, area_path: str = "", now: datetime.datetime | None = None) -> QuerySet[Handoff]:
    """Handoffs closed more than the retention period ago with something left, of districts
    under `area_path`."""
    cut = cutoff(retention_days(), now)
    rows = (
        Handoff.objects.exclude(status=HandoffStatus.PENDING)
        .filter(closed_at__lte=cut)
        .filter(
            HANDOFF_HOLDS_DATA
            | Exists(HandoffEvent.objects.filter(handoff=OuterRef("pk")).exclude(note=""))
        )
    )
    if area_path:
        rows = rows.filter(prefix_q("district__path", area_path))
    return rows


def arrivals_retention_pending(
    *, user: User | None, now: datetime.datetime | None = None
) -> ArrivalCounts:
    """What `arrivals_anonymise_due` would anonymise now (the dry run)."""
    area_path = retention_area_path(user)
    passages = due_passages(area_path=area_path, now=now)
    handoffs = due_handoffs(area_path=area_path, now=now).values("pk")
    return ArrivalCounts(
        passages_due=passages.count(),
        arrivals=Arrival.objects.filter(passage__in=passages.values("pk"))
        .filter(ARRIVAL_HOLDS_DATA)
        .count(),
        passages=passages.filter(PASSAGE_HOLDS_DATA).count(),
        handoffs=Handoff.objects.filter(pk__in=handoffs).filter(HANDOFF_HOLDS_DATA).count(),
        handoff_events=HandoffEvent.objects.filter(handoff__in=handoffs).exclude(note="").count(),
    )


def arrivals_anonymise_due(
    *,
    user: User | None,
    now: datetime.datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> ArrivalCounts:
    """Anonymise every passage and closed handoff past the retention period in the caller's
    reach (`user` None: the operator, everything; a command account: its district; anyone else:
    PermissionDenied, nothing changed). Returns what this run changed.

    In batches of `batch_size` passages (then handoffs), each committed on its own: a run that
    stops half-way keeps its committed batches, the next finishes, a rerun changes nothing. One
    audit event (counts only) per run that changed anything."""
    area_path = retention_area_path(user)
    now = now or timezone.now()
    counts = ArrivalCounts()
    passages = due_passages(area_path=area_path, now=now)
    for batch in id_batches(passages, batch_size):
        counts.passages_due += len(batch)
        with sqlite_writer_turn(), transaction.atomic():
            counts.arrivals += (
                Arrival.objects.filter(in_values_q("passage_id", batch))
                .filter(ARRIVAL_HOLDS_DATA)
                .update(**ANONYMOUS_ARRIVAL)
            )
            counts.passages += (
                VehiclePassage.objects.filter(in_values_q("id", batch))
                .filter(PASSAGE_HOLDS_DATA)
                .update(**ANONYMOUS_PASSAGE)
            )
    handoffs = due_handoffs(area_path=area_path, now=now)
    for batch in id_batches(handoffs, batch_size):
        with sqlite_writer_turn(), transaction.atomic():
            counts.handoffs += (
                Handoff.objects.filter(in_values_q("id", batch))
                .filter(HANDOFF_HOLDS_DATA)
                .update(person_key="", note="")
            )
            counts.handoff_events += (
                HandoffEvent.objects.filter(in_values_q("handoff_id", batch))
                .exclude(note="")
                .update(note="")
            )
    if counts.total:
        audit_write(
            user=user,
            action="arrivals.anonymise",
            object_type="checkpoints.arrival",
            detail={**asdict(counts), "days": retention_days(), "area": area_path},
        )
    return counts


STEP = RetentionStep(
    key="arrivals",
    label=_("checkpoint arrivals"),
    labels=LABELS,
    pending=arrivals_retention_pending,
    apply=arrivals_anonymise_due,
)
