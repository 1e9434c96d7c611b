"""The dashboards read stored figures (the grids' roster counts, the sweep's grid tallies, one
indexed count of overdue revisits) instead of counting the roster and the progress rows on every
page view; each figure still equals the COUNT it replaced, for every role, after random visits."""

import random

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.command.dashboard import dashboard_context
from doorstep.core.views import home_context
from doorstep.registry.selectors import households_visible_to, persons_visible_to
from doorstep.screening.models import ProgressState
from doorstep.screening.selectors import progress_visible_to

from .test_verify import _play


def _counted(user, campaign, now) -> dict[str, int]:
    """The to-dos' figures as the dashboard counted them before: over the progress rows."""
    return progress_visible_to(user, campaign).aggregate(
        overdue=Count("pk", filter=Q(state=ProgressState.REVISIT, revisit_due_at__lt=now)),
        self_reported=Count("pk", filter=Q(state=ProgressState.SELF_REPORTED)),
        escalated=Count("pk", filter=Q(state=ProgressState.ESCALATED)),
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_every_dashboard_figure_equals_a_fresh_count(seed, sweep, areas, user_for):
    # given three days of random field work (nobody home, refusals, escalations)
    rng = random.Random(seed)
    for back in (2, 1, 0):
        _play(rng, sweep, days_back=back, count=8, late_hours=(0, 2))
    campaign = sweep["campaign"]
    users = [
        sweep["commander"],
        user_for(Role.STREET_ADMIN, "S1"),
        user_for(Role.STREET_ADMIN, "S2"),
        user_for(Role.COMMUNITY_ADMIN, "C1"),
        user_for(Role.COMMUNITY_ADMIN, "C3"),
        sweep["workers"]["G1"],
    ]
    open_work = 0
    for user in users:
        # when the user's dashboard is assembled
        context = dashboard_context(user)
        now = timezone.now()
        # then its header is the roster's count
        header = home_context(user)
        assert (header["household_count"], header["person_count"]) == (
            households_visible_to(user).count(),
            persons_visible_to(user).count(),
        )
        # and its to-dos are the counts over the progress rows
        todos = {t.url.rsplit("=", 1)[-1]: t.count for t in context["todos"] if "?" in t.url}
        if user.role != Role.GRID_WORKER:
            counted = _counted(user, campaign, now)
            assert todos["revisit"] == counted["overdue"], user.role
            assert todos["self_reported"] == counted["self_reported"], user.role
            assert todos["escalated"] == counted["escalated"], user.role
            open_work += sum(counted.values())
            (stand,) = context["standing"]
            assert stand["households"] == progress_visible_to(user, campaign).count()
        else:
            rows = progress_visible_to(user, campaign)
            assert todos["todo"] == rows.filter(state=ProgressState.NOT_STARTED).count()
    assert open_work > 0  # the play left open work to count
