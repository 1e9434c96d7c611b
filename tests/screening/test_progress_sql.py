"""The set-based fold (progress_sql.py) says what the Python fold (progress.fold_visits) says,
for any visits in any order: outcomes, self-reports verified or not, equal times, person checks,
escalation thresholds and revisit times on the slot boundaries."""

import datetime
import uuid
import zoneinfo

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from doorstep.accounts.models import Role
from doorstep.screening.models import HouseholdProgress, PersonCheck, Visit
from doorstep.screening.progress import PROGRESS_FIELDS, next_revisit, progress_values_for
from doorstep.screening.progress_sql import (
    expected_progress_drop,
    expected_progress_load,
    progress_differences,
    progress_fix,
)
from doorstep.screening.services import campaign_create

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BASE = datetime.datetime(2020, 2, 3, tzinfo=SHANGHAI)
# Local times around the revisit slots (9–12, 14–17, 18–21) and midnight, to the second.
BOUNDARY_MINUTES = [0, 8 * 60 + 59, 9 * 60, 11 * 60 + 59, 12 * 60, 17 * 60 + 59, 18 * 60, 21 * 60]

visit_plan = st.fixed_dictionaries(
    {
        "household": st.integers(0, 3),
        "outcome": st.sampled_from(["screened", "not_home", "refused", "vacant", "moved"]),
        "source": st.sampled_from(["field", "field", "evening", "self_report"]),
        "verified": st.booleans(),
        "minute": st.one_of(st.sampled_from(BOUNDARY_MINUTES), st.integers(0, 3 * 24 * 60)),
        "second": st.sampled_from([0, 0, 1, 59]),
        "presences": st.lists(
            st.sampled_from(["present", "in_district", "out_of_town", "moved_out", "unknown"]),
            max_size=3,
        ),
        "flagged": st.lists(st.booleans(), min_size=3, max_size=3),
    }
)


def _write_visits(campaign, households, plans) -> None:
    """The visits as stored rows, in the order given (ids follow that order, times do not)."""
    for plan in plans:
        household = households[plan["household"]]
        when = BASE + datetime.timedelta(minutes=plan["minute"], seconds=plan["second"])
        visit = Visit.objects.create(
            campaign=campaign,
            household=household,
            outcome=plan["outcome"],
            source=plan["source"],
            visited_at=when,
            client_uuid=uuid.uuid4(),
            verified_at=when if plan["source"] == "self_report" and plan["verified"] else None,
        )
        members = list(household.persons.order_by("pk"))
        for index, presence in enumerate(plan["presences"][: len(members)]):
            PersonCheck.objects.create(
                visit=visit,
                person=members[index],
                presence=presence,
                flagged=plan["flagged"][index],
            )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plans=st.lists(visit_plan, max_size=14), max_attempts=st.integers(0, 4))
def test_the_sql_fold_equals_the_python_fold(households, user_for, plans, max_attempts):
    commander = user_for(Role.COMMAND, "D")
    with transaction.atomic():
        campaign = campaign_create(
            user=commander,
            name="fold",
            scope_area=commander.jurisdiction_area,
            starts_at=BASE - datetime.timedelta(days=1),
            deadline=timezone.now() + datetime.timedelta(days=2),
            max_attempts=max_attempts,
        )
        homes = [households[key] for key in ("G1", "G2", "G3", "G4")]
        _write_visits(campaign, homes, plans)
        expected_progress_load(campaign_id=campaign.pk)
        try:
            # as stored at enrolment (not started): the SQL reports exactly the households
            # whose Python fold differs from that, and with the Python fold's values
            python = {h.pk: progress_values_for(campaign, h.pk) for h in homes}
            reported = dict(progress_differences())
            for household in homes:
                stored = HouseholdProgress.objects.get(campaign=campaign, household=household)
                want = {
                    name: getattr(python[household.pk], name)
                    for name in PROGRESS_FIELDS
                    if getattr(python[household.pk], name) != getattr(stored, name)
                }
                got = {name: new for name, (_old, new) in reported.get(household.pk, {}).items()}
                assert _comparable(got) == _comparable(want), (household.pk, plans)
            # and --fix writes exactly the Python fold
            progress_fix()
            for household in homes:
                stored = HouseholdProgress.objects.get(campaign=campaign, household=household)
                for name in PROGRESS_FIELDS:
                    assert getattr(stored, name) == getattr(python[household.pk], name), name
        finally:
            expected_progress_drop()
        transaction.set_rollback(True)


def _comparable(values: dict) -> dict:
    """Raw SQL values as the model would read them (SQLite: text times, 0/1 booleans)."""
    from django.utils.dateparse import parse_datetime

    result = {}
    for name, value in values.items():
        if isinstance(value, str) and name.endswith("_at"):
            value = timezone.make_aware(parse_datetime(value), datetime.UTC)
        if name == "closed":
            value = bool(value)
        result[name] = value
    return result


def test_revisit_times_at_the_slot_boundaries(households, user_for):
    """One nobody-home knock a household, at the edges of the time slots and of the day: the
    revisit time in SQL is `next_revisit`'s, to the second."""
    commander = user_for(Role.COMMAND, "D")
    homes = [households[key] for key in ("G1", "G2", "G3", "G4")]
    moments = [
        BASE + datetime.timedelta(minutes=minute, seconds=second)
        for minute in [*BOUNDARY_MINUTES, 14 * 60, 23 * 60 + 59]
        for second in (0, 1)
    ]
    for start in range(0, len(moments), len(homes)):
        campaign = campaign_create(
            user=commander,
            name=f"slots {start}",
            scope_area=commander.jurisdiction_area,
            starts_at=BASE - datetime.timedelta(days=1),
            deadline=timezone.now() + datetime.timedelta(days=2),
        )
        batch = moments[start : start + len(homes)]
        for household, when in zip(homes, batch, strict=False):
            Visit.objects.create(
                campaign=campaign,
                household=household,
                outcome="not_home",
                visited_at=when,
                client_uuid=uuid.uuid4(),
            )
        expected_progress_load(campaign_id=campaign.pk)
        try:
            progress_fix()
        finally:
            expected_progress_drop()
        for household, when in zip(homes, batch, strict=False):
            stored = HouseholdProgress.objects.get(campaign=campaign, household=household)
            assert stored.revisit_due_at == next_revisit(when), when
