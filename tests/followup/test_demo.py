import io

from django.core.management import call_command
from django.utils import timezone

from doorstep.accounts.models import User
from doorstep.followup import selectors
from doorstep.followup.holding import held_checks_visible_to
from doorstep.followup.models import HeldCheck, KeyPerson, Monitoring, Referral


def test_the_demo_shows_key_persons_in_every_state(db):
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    worker = User.objects.get(username="worker")
    now = timezone.now()
    assert selectors.due_now(worker, now).exists()
    assert selectors.missed_slots(worker, now)
    assert selectors.ending_today(worker, now).exists()
    assert Referral.objects.filter(status="open", facility__staff__user__username="clinic").exists()
    assert Monitoring.objects.filter(status="released").exists()
    # a check the worker saved offline for a person taken off their list, on the secretary's
    # holding list
    held = HeldCheck.objects.get()
    assert (held.sender, held.state) == (worker, "held")
    assert list(held_checks_visible_to(User.objects.get(username="community"))) == [held]
    # the follow-up demo's own five, and the checkpoints demo's accepted handoffs
    key_persons = KeyPerson.objects.count()
    assert key_persons >= 5
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    assert KeyPerson.objects.count() == key_persons  # loading twice adds nothing
    assert HeldCheck.objects.count() == 1


def test_the_demo_sweeps_fever_opened_its_key_person_and_referral(
    db, django_capture_on_commit_callbacks
):
    # (what a visit leaves for its commit runs here at the end of the load)
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO()
        )
    from doorstep.followup.models import Source
    from doorstep.screening.models import PersonCheck

    flagged = PersonCheck.objects.filter(flagged=True).select_related("visit")
    fevers = [c for c in flagged if "fever" in c.flags]
    assert fevers
    for check in fevers:
        source = Source.objects.get(kind="sweep", person_check=check)
        assert source.created_by_id == check.visit.worker_id
        assert Referral.objects.filter(key_person=source.key_person, status="open").exists()
