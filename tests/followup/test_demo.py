import io

from django.core.management import call_command
from django.utils import timezone

from doorstep.accounts.models import User
from doorstep.followup import selectors
from doorstep.followup.models import KeyPerson, Monitoring, Referral


def test_the_demo_shows_key_persons_in_every_state(db):
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    worker = User.objects.get(username="worker")
    now = timezone.now()
    assert selectors.due_now(worker, now).exists()
    assert selectors.missed_slots(worker, now)
    assert selectors.ending_today(worker, now).exists()
    assert Referral.objects.filter(status="open", facility__staff__user__username="clinic").exists()
    assert Monitoring.objects.filter(status="released").exists()
    # the follow-up demo's own five, and the checkpoints demo's accepted handoffs
    key_persons = KeyPerson.objects.count()
    assert key_persons >= 5
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    assert KeyPerson.objects.count() == key_persons  # loading twice adds nothing
