"""Per-user limits on reading personal data: a list or a search cannot be paged or guessed
through faster than a person works."""

import pytest
from django.core.cache import cache

from doorstep.accounts.models import Role
from doorstep.accounts.services import api_token_create
from doorstep.core.models import AuditEvent


@pytest.fixture(autouse=True)
def real_limits(settings):
    settings.DOORSTEP_RATE_SCOPED = "5/m"
    settings.DOORSTEP_RATE_SEARCH = "2/m"
    cache.clear()
    yield
    cache.clear()


def test_reads_beyond_the_budget_answer_429_and_are_audited(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    statuses = [client.get("/roster/").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429, 429]
    refused = client.get("/roster/")
    assert refused["Retry-After"] == "60"
    event = AuditEvent.objects.filter(action="rate_limited", user=client.user).first()
    assert event is not None
    assert event.object_id == "registry:household_list"
    assert event.detail == {"limit": "scoped", "rate": "5/m"}


def test_each_user_has_their_own_budget(client_for, households):
    first = client_for(Role.COMMUNITY_ADMIN, "C1")
    second = client_for(Role.COMMUNITY_ADMIN, "C1")
    for _ in range(5):
        first.get("/roster/")
    assert first.get("/roster/").status_code == 429
    assert second.get("/roster/").status_code == 200


def test_searches_have_a_tighter_budget(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    statuses = [client.get("/roster/", {"q": f"户主G{n}"}).status_code for n in range(4)]
    assert statuses == [200, 200, 429, 429]
    # Browsing without a search still has budget left.
    assert client.get("/roster/").status_code == 200


def test_api_reads_are_limited_per_token(user_for, households, client):
    user = user_for(Role.COMMUNITY_ADMIN, "C1")
    _token, key = api_token_create(user=user, name="phone")
    auth = {"Authorization": f"Bearer {key}"}
    statuses = [client.get("/api/me", headers=auth).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    body = client.get("/api/me", headers=auth).json()
    assert "detail" in body


def test_public_pages_and_writes_do_not_spend_the_budget(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    for _ in range(10):
        assert client.get("/healthz").status_code == 200
        client.post("/i18n/setlang/", {"language": "zh-hans"})
    assert client.get("/roster/").status_code == 200
