"""The read router's choices, without a replica server: the replica's health is given, and no
query runs on it. The replica itself is tested for real in tests/screening/test_replica_reads.py
(`make test-replica`)."""

import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, OperationalError, transaction
from django.http import HttpResponse
from django.test import RequestFactory

from doorstep.core import routers
from doorstep.core.routers import (
    PIN_COOKIE,
    REPLICA,
    PrimaryAfterWriteMiddleware,
    ReplicaRouter,
    ReplicaState,
    stale_ok_reads,
)
from doorstep.registry.models import Household

router = ReplicaRouter()


@pytest.fixture
def replica(monkeypatch):
    """A replica configured, its health as the test says (usable by default)."""
    monkeypatch.setattr(routers, "replica_configured", lambda: True)
    health = {"state": ReplicaState(True, "behind by 0.2 s", 0.2)}
    monkeypatch.setattr(routers, "replica_state", lambda **kw: health["state"])
    return health


def choice_now():
    with stale_ok_reads() as reads:
        return reads


def in_request(request, body):
    """Run `body` inside the pinning middleware for `request`; returns (its result, response)."""
    result = {}

    def view(req):
        result["value"] = body()
        return HttpResponse("ok")

    response = PrimaryAfterWriteMiddleware(view)(request)
    return result["value"], response


def test_without_a_replica_every_read_goes_to_the_primary():
    with stale_ok_reads() as reads:
        assert (reads.alias, reads.reason) == (DEFAULT_DB_ALIAS, "no replica configured")
        assert router.db_for_read(Household) == DEFAULT_DB_ALIAS


def test_stale_ok_reads_go_to_a_healthy_replica_and_only_inside_the_block(replica):
    assert router.db_for_read(Household) == DEFAULT_DB_ALIAS
    with stale_ok_reads() as reads:
        assert reads.alias == REPLICA and router.db_for_read(Household) == REPLICA
    assert router.db_for_read(Household) == DEFAULT_DB_ALIAS


def test_a_write_inside_the_block_sends_its_later_reads_to_the_primary(replica):
    with stale_ok_reads():
        assert router.db_for_write(Household) == DEFAULT_DB_ALIAS
        assert router.db_for_read(Household) == DEFAULT_DB_ALIAS


def test_a_lagging_or_down_replica_is_not_used_and_the_reason_says_why(replica):
    replica["state"] = ReplicaState(False, "behind by 7.0 s (max 5 s)", 7.0)
    with stale_ok_reads() as reads:
        assert reads.alias == DEFAULT_DB_ALIAS and "behind by 7.0 s" in reads.reason
    replica["state"] = ReplicaState(False, "down (OperationalError)")
    with stale_ok_reads() as reads:
        assert reads.alias == DEFAULT_DB_ALIAS and "down" in reads.reason


@pytest.mark.django_db
def test_inside_a_transaction_on_the_primary_reads_stay_there(replica):
    with transaction.atomic(), stale_ok_reads() as reads:
        assert reads.alias == DEFAULT_DB_ALIAS


def test_a_non_get_pins_the_browser_and_the_user_for_the_pin_time(replica, settings):
    settings.DOORSTEP_PIN_SECONDS = 30
    user = SimpleNamespace(pk=424242, is_authenticated=True)
    post = RequestFactory().post("/anything")
    post.user = user
    _value, response = in_request(post, lambda: None)
    cookie = response.cookies[PIN_COOKIE]
    assert cookie["max-age"] == 30 and cookie["httponly"]
    assert time.time() + 25 < int(cookie.value) <= time.time() + 30
    # the same browser: pinned by its cookie
    get = RequestFactory().get("/coverage", HTTP_COOKIE=f"{PIN_COOKIE}={cookie.value}")
    get.user = user
    choice, response = in_request(get, choice_now)
    assert choice.alias == DEFAULT_DB_ALIAS and "this browser wrote" in choice.reason
    assert PIN_COOKIE not in response.cookies  # a GET sets no pin
    # another device of the same user (no cookie): pinned by the user pin
    other = RequestFactory().get("/coverage")
    other.user = user
    choice, _response = in_request(other, choice_now)
    assert choice.alias == DEFAULT_DB_ALIAS and "this user wrote" in choice.reason
    # an expired cookie and no user pin: the replica again
    cache.delete(routers._pin_key(user.pk))
    old = RequestFactory().get("/coverage", HTTP_COOKIE=f"{PIN_COOKIE}={int(time.time()) - 1}")
    old.user = user
    choice, _response = in_request(old, choice_now)
    assert choice.alias == REPLICA


def test_a_view_whose_replica_fails_runs_again_on_the_primary(replica, monkeypatch):
    failures = []
    monkeypatch.setattr(routers, "replica_failed", failures.append)
    seen = []

    @stale_ok_reads
    def view(request):
        alias = router.db_for_read(Household)
        seen.append(alias)
        if alias == REPLICA:
            raise OperationalError("server closed the connection unexpectedly")
        return alias

    assert view(None) == DEFAULT_DB_ALIAS
    assert seen == [REPLICA, DEFAULT_DB_ALIAS] and len(failures) == 1


def test_a_view_that_wrote_before_its_replica_failed_is_not_run_twice(replica, monkeypatch):
    monkeypatch.setattr(routers, "replica_failed", lambda error: None)
    runs = []

    @stale_ok_reads
    def view(request):
        runs.append(1)
        router.db_for_write(Household)
        raise OperationalError("lost")

    with pytest.raises(OperationalError):
        view(None)
    assert runs == [1]
