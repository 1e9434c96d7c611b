"""A freshly loaded demo district's brief agrees with its raw records on every area and day, its
snapshots included: the demo freezes the past days last, after every domain's records exist
(frozen before the follow-up's facilities and key persons were made, the snapshots lacked them
for ever and `verify_brief` reported follow-up differences)."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from doorstep.areas.models import Area
from doorstep.command.models import BriefSnapshot
from doorstep.command.services import brief_verify


# Committed rows (see tests/command/test_verify.py): on PostgreSQL each fold over rows written
# under the demo's thousands of savepoints took seconds, and this test runs hundreds of folds.
@pytest.mark.django_db(transaction=True)
def test_a_fresh_demo_verifies_without_differences():
    call_command("demo", "--persons", "300", "--seed", "3", "--no-progress", stdout=io.StringIO())
    today = timezone.localdate()
    yesterday = today - datetime.timedelta(days=1)
    snapshot = BriefSnapshot.objects.get(area__level=1, day=yesterday)
    keys = {s["key"].split(".")[0] for s in snapshot.sections}
    assert {"sweep", "followup"} <= keys
    found = []
    for back in (3, 2, 1, 0):
        day = today - datetime.timedelta(days=back)
        for area in Area.objects.order_by("path"):
            found += [f"{area.code} {day} {line}" for line in brief_verify(area, day)]
    assert found == []
