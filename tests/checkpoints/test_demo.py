"""The demo district shows the checkpoints alive: posts, a day of arrivals, handoffs in every
state (waiting, overdue, accepted on time and late, not found for each reason, re-routed)."""

import io

from django.core.management import call_command
from django.utils import timezone

from doorstep.checkpoints.models import (
    Arrival,
    Checkpoint,
    CheckpointOfficer,
    Handoff,
    HandoffStatus,
    NotFoundReason,
    Route,
)


def test_demo_has_checkpoints_with_handoffs_in_every_state(db):
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    assert Checkpoint.objects.count() == 4
    assert CheckpointOfficer.objects.filter(user__username="checkpoint").exists()
    assert Arrival.objects.count() >= 80
    routes = set(Arrival.objects.values_list("route", flat=True))
    assert {Route.HANDED_OFF, Route.PASSING, Route.UNMATCHED, Route.HANDED_OUT} <= routes
    now = timezone.now()
    pending = Handoff.objects.filter(status=HandoffStatus.PENDING)
    assert pending.filter(deadline__lt=now).exists() and pending.filter(deadline__gte=now).exists()
    accepted = Handoff.objects.filter(status=HandoffStatus.ACCEPTED)
    assert accepted.filter(late_seconds__isnull=False).exists()
    assert accepted.filter(late_seconds__isnull=True).exists()
    assert accepted.filter(key_person__isnull=False).count() == accepted.count()
    reasons = set(
        Handoff.objects.filter(status=HandoffStatus.NOT_FOUND).values_list(
            "not_found_reason", flat=True
        )
    )
    assert reasons == set(NotFoundReason.values)
    assert Handoff.objects.filter(reroutes=1, status=HandoffStatus.PENDING).exists()
    # loading again adds nothing
    before = Arrival.objects.count()
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    assert Arrival.objects.count() == before
