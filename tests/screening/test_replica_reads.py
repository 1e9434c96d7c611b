"""The read replica for real (`make test-replica`: a streaming replica of the local PostgreSQL
made by scripts/replica): the coverage pages, their export and the API's coverage read from it;
a user who has just written reads from the primary; a replica behind by more than the allowed
lag (replay paused) or stopped sends the reads to the primary, with no error, and they come
back once it has caught up or started again.

Where the reads went is seen from the queries each connection ran, not from the router's word.
"""

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.core import routers
from doorstep.core.models import AuditEvent
from doorstep.screening.services import visit_record

from .conftest import knock, screened

pytestmark = [pytest.mark.replica, pytest.mark.django_db(transaction=True, databases="__all__")]
ROOT = Path(__file__).resolve().parents[2]
MAX_LAG = 1.0


@pytest.fixture(autouse=True)
def _replica_settings(settings):
    settings.DOORSTEP_REPLICA_MAX_LAG_SECONDS = MAX_LAG
    settings.DOORSTEP_REPLICA_CHECK_SECONDS = 0  # every request checks afresh
    settings.DOORSTEP_REPLICA_RETRY_SECONDS = 0
    settings.DOORSTEP_PIN_SECONDS = 2
    routers.forget_replica_state()
    yield
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")
    routers.forget_replica_state()


def wait_caught_up(timeout: float = 30) -> None:
    """Until the replica has replayed everything the primary has written so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        target = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the replica did not catch up")


def reads(client, method: str, url: str, *, replica_up: bool = True, **kwargs):
    """(response, queries on the replica, queries on the primary touching the sweep's tables);
    the router's own lag check on the replica is not counted. A stopped replica is not watched
    (watching connects)."""
    watch = connections["replica" if replica_up else "default"]
    with (
        CaptureQueriesContext(watch) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        response = getattr(client, method)(url, **kwargs)
    replica = [q["sql"] for q in on_replica if "pg_is_in_recovery" not in q["sql"]]
    primary = [q["sql"] for q in on_primary if "screening_" in q["sql"]]
    return response, (replica if replica_up else []), primary


def reads_once_caught_up(client, url: str, timeout: float = 20):
    """`reads` of a GET, repeated until the replica serves it. The primary is shared (other
    databases write to it all the time): right after a resume or a restart the replica can be
    a moment behind, and the router rightly waits for it."""
    deadline = time.monotonic() + timeout
    while True:
        response, on_replica, on_primary = reads(client, "get", url)
        if on_replica or time.monotonic() > deadline:
            return response, on_replica, on_primary
        time.sleep(0.2)


def coverage_url(campaign) -> str:
    return reverse("screening:coverage", args=[campaign.pk])


def households_in(response, state: str) -> int:
    """The district's households in `state` as the coverage page states them."""
    cells = response.context["total"]["household_cells"]
    return next(cell["value"] for cell in cells if cell["key"] == state)


def test_dashboards_read_from_the_replica(campaign, worker, households, client_for):
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    commander = client_for(Role.COMMAND, "D")
    wait_caught_up()
    urls = [
        coverage_url(campaign),
        reverse("screening:coverage_list", args=[campaign.pk]) + "?state=screened",
        reverse("screening:flagged", args=[campaign.pk]),
        reverse("api:campaign_coverage", args=[campaign.pk]),
    ]
    for url in urls:
        response, on_replica, on_primary = reads_once_caught_up(commander, url)
        assert response.status_code == 200, url
        assert on_replica and not on_primary, (url, on_primary)
    response, _replica, _primary = reads(commander, "get", coverage_url(campaign))
    assert households_in(response, "screened") == 1


def test_an_export_reads_from_the_replica_and_audits_on_the_primary(
    campaign, worker, households, client_for
):
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    commander = client_for(Role.COMMAND, "D")
    wait_caught_up()
    deadline = time.monotonic() + 20
    while not routers.replica_state(fresh=True).usable and time.monotonic() < deadline:
        time.sleep(0.2)  # see reads_once_caught_up
    url = reverse("screening:coverage_export", args=[campaign.pk])
    response, on_replica, on_primary = reads(commander, "post", url, data={"purpose": "研判会"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/")
    response.close()
    assert on_replica and not on_primary
    assert AuditEvent.objects.filter(action="export.coverage", purpose="研判会").count() == 1


def test_a_user_who_just_wrote_reads_from_the_primary(campaign, worker, households, client_for):
    commander = client_for(Role.COMMAND, "D")
    wait_caught_up()
    _response, on_replica, _primary = reads_once_caught_up(commander, coverage_url(campaign))
    assert on_replica
    # any non-GET pins the browser (cookie) and the user (cache) to the primary
    commander.post(reverse("set_language"), {"language": "zh-hans"})
    _response, on_replica, on_primary = reads(commander, "get", coverage_url(campaign))
    assert not on_replica and on_primary
    other_browser = client_for(Role.COMMAND, "D")
    other_browser.force_login(commander.user)  # same person, no cookie: pinned by the user pin
    other_browser.cookies["sessionid"] = commander.cookies["sessionid"]
    _response, on_replica, _primary = reads(other_browser, "get", coverage_url(campaign))
    assert not on_replica
    time.sleep(2.2)  # DOORSTEP_PIN_SECONDS later the pin is gone
    _response, on_replica, on_primary = reads_once_caught_up(commander, coverage_url(campaign))
    assert on_replica and not on_primary


def test_a_replica_behind_sends_reads_to_the_primary_until_it_catches_up(
    campaign, worker, households, client_for
):
    commander = client_for(Role.COMMAND, "D")
    wait_caught_up()
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    # a write on the primary the paused replica does not replay
    visit_record(user=worker, campaign=campaign, visit=screened(households["G1"]))
    time.sleep(MAX_LAG + 0.5)
    response, on_replica, on_primary = reads(commander, "get", coverage_url(campaign))
    assert response.status_code == 200
    assert not on_replica and on_primary
    assert households_in(response, "screened") == 1  # the write is there: read from the primary
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")
    wait_caught_up()
    response, on_replica, on_primary = reads_once_caught_up(commander, coverage_url(campaign))
    assert on_replica and not on_primary
    assert households_in(response, "screened") == 1


def _replica_script(command: str) -> None:
    port = str(urlparse(os.environ["DOORSTEP_REPLICA_URL"]).port or 5433)
    subprocess.run(
        ["./scripts/replica", command],
        cwd=ROOT,
        env={**os.environ, "REPLICA_PORT": port},
        check=True,
    )


def test_a_stopped_replica_sends_reads_to_the_primary_without_an_error(
    campaign, worker, households, client_for, monkeypatch
):
    visit_record(user=worker, campaign=campaign, visit=knock(households["G1"]))
    commander = client_for(Role.COMMAND, "D")
    wait_caught_up()
    _replica_script("stop")
    try:
        # known to be down: the primary answers
        url = coverage_url(campaign)
        response, _replica, on_primary = reads(commander, "get", url, replica_up=False)
        assert response.status_code == 200 and on_primary
        # believed up (its state checked a moment before it stopped): the view's first query on
        # the replica fails, and the view runs again on the primary
        monkeypatch.setattr(
            routers, "replica_state", lambda **kw: routers.ReplicaState(True, "behind by 0.0 s")
        )
        response, _replica, on_primary = reads(commander, "get", url, replica_up=False)
        assert response.status_code == 200 and on_primary
        assert households_in(response, "revisit") == 1
        monkeypatch.undo()
    finally:
        _replica_script("start")
    routers.forget_replica_state()
    wait_caught_up()
    _response, on_replica, on_primary = reads_once_caught_up(commander, coverage_url(campaign))
    assert on_replica and not on_primary
