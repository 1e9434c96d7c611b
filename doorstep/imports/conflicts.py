"""What the roster import says about a row that clashes with a record already on the roster, and
how a re-import stays stable.

- Where the record is decides the answer: inside the importer's jurisdiction it is named (a
  duplicate in one's own area is one's own business); outside it the row says only "conflict
  with a record outside your jurisdiction", names nothing (not even a household number), and the
  rows are audited (`import.conflict_outside`). An answer never depends on records outside the
  caller's jurisdiction beyond that one word.
- A number held for reconciliation in the jurisdiction (given at a door, see
  registry.IdReconciliation) is a conflict like a stored one.
- Rows matched unchanged are marked with the job's time (`import_seen_at`), as the rows it
  writes carry it in `updated_at`, so a later row
  of the same file that gives such a household another address (or repeats such a person) is
  refused as a conflict with an earlier row in every run. Without it, a re-import of a file that
  gave one household number two addresses flipped the address back and forth on every run.
"""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from doorstep.core.db import prefix_q
from doorstep.core.services import audit_write
from doorstep.registry.models import Household, Person

from .batchq import batch_in_q
from .models import ImportJob

MARK_CHUNK = 1000


def outside_conflict() -> str:
    return _("conflict with a record outside your jurisdiction")


class RowConflicts:
    def __init__(self, job: ImportJob):
        self.job = job
        importer = job.created_by
        # Without a user (the shell, run by whoever runs the server) everything is in scope.
        home = importer.jurisdiction_area if importer is not None else None
        self.path = "" if importer is None else home.path if home is not None else job.area.path
        self.seen_households: list[int] = []
        self.seen_persons: list[int] = []

    def begin_batch(self) -> None:
        self.seen_households, self.seen_persons = [], []

    def refusal(self, path: str, named: str) -> str:
        """`named` (the clear message naming the record) when the record at `path` is inside
        the importer's jurisdiction; else the one that names nothing."""
        return named if path.startswith(self.path) else outside_conflict()

    def held(self, id_numbers: list[str]) -> dict[str, Person]:
        """Persons of the jurisdiction holding one of these numbers for reconciliation."""
        if not id_numbers:
            return {}
        rows: QuerySet[Person] = (
            Person.objects.filter(batch_in_q("id_number_held", id_numbers))
            .filter(prefix_q("household__grid__path", self.path))
            .select_related("household")
        )
        return {person.id_number_held: person for person in rows}

    def mark_seen(self, now) -> None:
        """Give the rows matched unchanged in this batch the job's time (see above), in
        `import_seen_at`: `updated_at` keeps saying when the data last changed."""
        for model, ids in ((Household, self.seen_households), (Person, self.seen_persons)):
            for start in range(0, len(ids), MARK_CHUNK):
                rows = model.objects.filter(pk__in=ids[start : start + MARK_CHUNK])
                rows.update(import_seen_at=now)

    def audit_outside(self, rejections) -> None:
        """One audit row for a batch's rows refused for a record outside the jurisdiction
        (inside the batch's transaction: a batch applied again is audited again, once)."""
        reason = outside_conflict()
        rows = [r.row_number for r in rejections if r.reason == reason]
        if rows:
            audit_write(
                user=self.job.created_by,
                action="import.conflict_outside",
                obj=self.job,
                detail={"rows": rows[:200], "count": len(rows)},
            )
