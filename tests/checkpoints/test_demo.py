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
from doorstep.registry.models import IdType
from doorstep.registry.validation import validate_id


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
    # the travellers carry ID numbers, valid ones (a few left the card at home), and those
    # coming home are the roster's people, found at their door
    arrivals = list(Arrival.objects.values_list("id_number", "person_id", "needs_completion"))
    numbered = [number for number, _person, _complete in arrivals if number]
    assert len(numbered) >= 0.9 * len(arrivals)
    assert len(set(numbered)) == len(numbered)
    for number in numbered:
        validate_id(IdType.RESIDENT_ID, number)
    assert all(complete for number, _person, complete in arrivals if not number)
    assert sum(1 for _number, person, _complete in arrivals if person) >= 20
    # loading again adds nothing
    before = Arrival.objects.count()
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    assert Arrival.objects.count() == before
