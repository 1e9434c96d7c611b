"""Demo data for the command center (issue 12): a district sweep that started three days ago,
visits on each day (some paper typed after the evening cut-off), the past days frozen, and a
published bulletin, so the dashboards, the brief and the public page are alive on first login.
Idempotent: loading the demo again adds nothing."""

from __future__ import annotations

import datetime
import random
import uuid
from decimal import Decimal

from django.utils import timezone

from doorstep.accounts.models import User
from doorstep.areas.models import Area
from doorstep.command import bulletins
from doorstep.command.brief import cut_off_for
from doorstep.command.models import Bulletin
from doorstep.command.services import brief_freeze
from doorstep.core.db import prefix_q
from doorstep.registry.models import Household, PersonStatus
from doorstep.screening.models import Assignment, Campaign, Visit
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import VisitInput, assignment_create, campaign_create, visit_record

DEMO_CAMPAIGN = "全区拉网式摸排（演示）"
OUTCOMES = ["screened"] * 6 + ["not_home"] * 3 + ["refused", "vacant"]


def demo_command_create(*, district: Area, visits: int = 1500, seed: int = 12) -> None:
    commander = User.objects.filter(username="command").first()
    if commander is None or Campaign.objects.filter(name=DEMO_CAMPAIGN).exists():
        return
    rng = random.Random(seed)
    now = timezone.now()
    today = timezone.localdate()
    start = timezone.make_aware(
        datetime.datetime.combine(today - datetime.timedelta(days=3), datetime.time(8))
    )
    campaign = campaign_create(
        user=commander,
        name=DEMO_CAMPAIGN,
        scope_area=district,
        starts_at=start,
        deadline=start + datetime.timedelta(days=6),
    )
    worker = User.objects.filter(username="worker").select_related("jurisdiction_area").first()
    if (
        worker is not None
        and worker.jurisdiction_area is not None
        and not Assignment.objects.filter(campaign=campaign, worker=worker).exists()
    ):
        assignment_create(
            user=commander, campaign=campaign, worker=worker, grid=worker.jurisdiction_area
        )
    homes = list(
        Household.objects.filter(prefix_q("grid__path", district.path)).order_by("pk")[:20000]
    )
    rng.shuffle(homes)
    chosen = homes[:visits]
    for index, household in enumerate(chosen):
        back = 3 - index * 4 // max(1, len(chosen))  # days 3, 2, 1 ago and today
        day = today - datetime.timedelta(days=back)
        hour = rng.randint(8, 20) if back else rng.randint(8, max(8, timezone.localtime(now).hour))
        visited = timezone.make_aware(
            datetime.datetime.combine(day, datetime.time(hour, rng.randint(0, 59)))
        )
        visited = min(visited, now - datetime.timedelta(minutes=10))
        outcome = rng.choice(OUTCOMES)
        checks = []
        if outcome == "screened":
            for person in household.persons.filter(status=PersonStatus.ACTIVE).order_by("pk"):
                fever = rng.random() < 0.03
                checks.append(
                    PersonCheckInput(
                        person_id=person.pk,
                        temperature=Decimal("38.1" if fever else "36.6"),
                    )
                )
        visit, _created = visit_record(
            user=commander,
            campaign=campaign,
            visit=VisitInput(
                household_id=household.pk,
                outcome=outcome,
                visited_at=visited,
                client_uuid=uuid.uuid4(),
                person_checks=checks,
            ),
        )
        # Paper forms: most typed the same evening, one in eight after the meeting's cut-off.
        late = rng.random() < 0.125
        entered = visited + datetime.timedelta(minutes=rng.randint(5, 120))
        if late and back:
            entered = cut_off_for(day) + datetime.timedelta(hours=rng.randint(1, 20))
        Visit.objects.filter(pk=visit.pk).update(entered_at=min(entered, now))


def demo_command_freeze(*, district: Area) -> None:
    """The past days frozen and a bulletin published: run last, after every domain's demo data
    exists (a snapshot never changes, so one frozen before the follow-up's facilities and key
    persons were made would differ from the records for ever, and `verify_brief` says so).
    Idempotent: a frozen day keeps its snapshot, a second bulletin is not made."""
    commander = User.objects.filter(username="command").first()
    approver = User.objects.filter(username="admin").first()
    if commander is None or not Campaign.objects.filter(name=DEMO_CAMPAIGN).exists():
        return
    today = timezone.localdate()
    for back in (3, 2, 1):
        brief_freeze(day=today - datetime.timedelta(days=back))
    if approver is not None and not Bulletin.objects.exists():
        # the latest frozen day whose table can be protected (a small district's few flagged
        # persons may give a hidden count away, and such a bulletin is refused)
        for back in (1, 2, 3):
            try:
                bulletin = bulletins.bulletin_draft(
                    user=commander, day=today - datetime.timedelta(days=back)
                )
            except bulletins.BulletinRefused:
                continue
            bulletin = bulletins.bulletin_approve(user=approver, bulletin=bulletin)
            bulletins.bulletin_publish(user=commander, bulletin=bulletin)
            break
