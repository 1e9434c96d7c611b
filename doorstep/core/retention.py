"""Retention of the domains that collect personal data after the sweep, in one place.

The sweep's own retention is per campaign (`screening/retention.py`: archive a closed campaign,
then anonymise it). Follow-up and checkpoints have no campaign to close: their records become
anonymisable on their own, a retention period after their case closed (a key person's last
monitoring released, an arrival's handoff closed). Each such domain provides a step
(`RetentionStep`, listed by dotted path in `DOORSTEP_RETENTION_STEPS`, so core imports no domain);
`apply_retention` runs every step, in batches, and each step audits what it changed (counts
only). Who may run it is decided here once: the operator at the server's shell (no user), or a
command (指挥部) account, which anonymises only inside its jurisdiction.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from doorstep.accounts.models import Role, User

# A district's closed cases of a year become a few hundred short transactions: other writers are
# never held up for long, and a run that is killed keeps what it committed.
DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class RetentionStep:
    """One domain's retention: `pending` says what `apply` would anonymise now (a dry run);
    `apply` anonymises it in batches of `batch_size` and returns what it really changed. Both
    take `user` (None: the operator, everything; a command account: its jurisdiction, by
    `retention_area_path`) and `now`."""

    key: str
    label: Any  # a lazy translation: what the command's lines call the step
    labels: dict[str, Any]  # a count's name → its lazy "%(n)d …" (what the lines list)
    pending: Callable[..., Any]
    apply: Callable[..., Any]


@dataclass
class RetentionCounts:
    """What a step changed (or, for a dry run, would), one count per kind of row; the field
    named by `DUE` counts the records past their period that were read, not a change."""

    DUE: ClassVar[str] = ""

    @property
    def total(self) -> int:
        """Rows changed (or, for a dry run, to change)."""
        return sum(getattr(self, f.name) for f in fields(self) if f.name != self.DUE)


def steps() -> list[RetentionStep]:
    return [import_string(path) for path in getattr(settings, "DOORSTEP_RETENTION_STEPS", ())]


def retention_area_path(user: User | None) -> str:
    """The part of the district `user` may anonymise: "" (all) for the operator (None), the
    jurisdiction's path for an active command account; anyone else is refused."""
    if user is None:
        return ""
    if (
        not user.is_active
        or user.role != Role.COMMAND
        or user.jurisdiction_area is None
        or not user.jurisdiction_area.path
    ):
        raise PermissionDenied
    return str(user.jurisdiction_area.path)


def cutoff(days: int, now: datetime.datetime | None = None) -> datetime.datetime:
    """Cases closed before this moment are past their retention period."""
    return (now or timezone.now()) - datetime.timedelta(days=days)


def id_batches(rows: QuerySet[Any], batch_size: int) -> Iterator[list[int]]:
    """The primary keys of `rows` in ascending batches of `batch_size`, each read when the
    previous one has been handled (outside the caller's write transaction, so the SQLite write
    lock covers only the updates; a batch whose rows stopped matching is not read again)."""
    last_pk = 0
    while True:
        batch = list(
            rows.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return
        last_pk = batch[-1]
        yield batch


def run_steps(
    *,
    user: User | None,
    dry_run: bool = False,
    only: Sequence[str] = (),
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime.datetime | None = None,
) -> list[tuple[RetentionStep, Any]]:
    """Every listed step (or those named in `only`), in order: what each anonymised (or, with
    `dry_run`, would). A caller who may not anonymise is refused before any step runs."""
    retention_area_path(user)
    done = []
    for step in steps():
        if only and step.key not in only:
            continue
        if dry_run:
            done.append((step, step.pending(user=user, now=now)))
        else:
            done.append((step, step.apply(user=user, now=now, batch_size=batch_size)))
    return done
