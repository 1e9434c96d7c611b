"""`make run`'s demo shows a living sweep: an open campaign, the demo worker's assignment and
households in every state, made once however often the demo is loaded (issue 14 point 8)."""

import io

from django.core.management import call_command

from doorstep.screening.models import Campaign, HeldVisit, HouseholdProgress, Visit


def test_the_demo_has_an_open_campaign_with_households_in_every_state(db):
    call_command("demo", "--persons", "2000", "--seed", "3", "--no-progress", stdout=io.StringIO())
    campaign = Campaign.objects.get(assignments__worker__username="worker")
    assert campaign.is_open
    assert campaign.assignments.filter(worker__username="worker").exists()
    rows = HouseholdProgress.objects.filter(campaign=campaign, assigned_to__username="worker")
    states = set(rows.values_list("state", flat=True))
    assert {"screened", "revisit", "refused", "escalated"} <= states
    assert rows.filter(persons_flagged__gt=0).count() >= 2
    assert rows.filter(state="revisit", revisit_due_at__isnull=False).exists()
    # and the holding list of visits recorded offline shows one to decide on
    held = HeldVisit.objects.get(campaign=campaign)
    assert (held.worker.username, held.state, held.reason) == (
        "worker",
        "held",
        "screened_by_other",
    )
    visits = Visit.objects.count()
    call_command("demo", "--persons", "2000", "--seed", "3", "--no-progress", stdout=io.StringIO())
    assert Visit.objects.count() == visits  # loading twice records nothing new
    assert HeldVisit.objects.count() == 1
