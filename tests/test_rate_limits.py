"""Per-user budgets on everything that touches personal data (core/ratelimit.py): reads,
searches, reveals and exports, refused writes. A list, a search, a reveal or a probe cannot go
faster than a person works. Over a budget: 429 with Retry-After, audited; and the server still
answers the next ordinary request."""

import datetime
import uuid

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.accounts.services import api_token_create
from doorstep.core.models import AuditEvent
from doorstep.registry.models import Person
from doorstep.screening.models import Visit
from doorstep.screening.services import assignment_create

from .screening.conftest import campaign, worker  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def real_limits(settings):
    settings.DOORSTEP_RATE_SCOPED = "5/m"
    settings.DOORSTEP_RATE_SEARCH = "2/m"
    settings.DOORSTEP_RATE_REVEAL = "3/h"
    settings.DOORSTEP_RATE_REFUSED = "4/h"
    cache.clear()
    yield
    cache.clear()


def limited_event(user, limit: str) -> AuditEvent:
    """The first 429 of this budget (each refused request is audited)."""
    events = AuditEvent.objects.filter(action="rate_limited", user=user, detail__limit=limit)
    return events.order_by("pk").first()


def search(client, text: str, **extra):
    return client.post(reverse("registry:household_list"), {"q": text}, **extra)


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
    # the server still answers the next ordinary request (the budget is the user's, not its)
    assert client.get("/healthz").status_code == 200


def test_each_user_has_their_own_budget(client_for, households):
    first = client_for(Role.COMMUNITY_ADMIN, "C1")
    second = client_for(Role.COMMUNITY_ADMIN, "C1")
    for _ in range(5):
        first.get("/roster/")
    assert first.get("/roster/").status_code == 429
    assert second.get("/roster/").status_code == 200


def test_searches_have_a_tighter_budget(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    statuses = [search(client, f"户主G{n}").status_code for n in range(4)]
    assert statuses == [302, 302, 429, 429]
    assert limited_event(client.user, "search").object_id == "registry:household_list"
    # browsing without a search still has budget left
    assert client.get("/roster/").status_code == 200


def test_writes_spend_the_budget_of_reads_too(client_for, households):
    """500 probes a second through writes were outside every budget."""
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    edit = reverse("registry:household_edit", args=[households["G1"].pk])
    form = {"road": "路", "kind": "registered", "status": "occupied"}
    statuses = [client.post(edit, form).status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]


def test_reveals_have_their_own_budget_tighter_than_reads(client_for, households, settings):
    settings.DOORSTEP_RATE_SCOPED = "1000/m"
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    person = households["G1"].persons.first()
    reveal = reverse("registry:person_reveal", args=[person.pk, "id_number"])
    statuses = [client.post(reveal, {"purpose": "核对"}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert AuditEvent.objects.filter(action="person.reveal.id_number").count() == 3
    event = limited_event(client.user, "reveal")
    assert event.detail == {"limit": "reveal", "rate": "3/h"}
    refused = client.post(reveal, {"purpose": "核对"})
    assert refused["Retry-After"] == "3600"
    assert person.id_number not in refused.content.decode()
    assert client.get("/roster/").status_code == 200  # reading goes on


EXPORTS = [
    ("screening:coverage_export", lambda c, a: [c.pk], "?area=C1"),
    ("screening:coverage_list_export", lambda c, a: [c.pk], "?area=C1"),
    ("screening:flagged_export", lambda c, a: [c.pk], "?area=C1"),
    ("screening:assignment_template", lambda c, a: [c.pk, a.pk], ""),
    ("screening:paper_forms", lambda c, a: [c.pk, a.pk], ""),
    ("screening:notice_slips", lambda c, a: [c.pk, a.pk], ""),
]


@pytest.mark.parametrize(("name", "args", "query"), EXPORTS, ids=[e[0] for e in EXPORTS])
def test_every_export_and_printout_spends_the_reveal_budget(
    client_for, campaign, areas, user_for, name, args, query, settings
):
    settings.DOORSTEP_RATE_SCOPED = "1000/m"
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    holder = user_for(Role.GRID_WORKER, "G1")
    assignment = assignment_create(
        user=client.user, campaign=campaign, worker=holder, grid=areas["G1"]
    )
    url = reverse(name, args=args(campaign, assignment)) + query
    assert client.get(url).status_code == 200  # the purpose form spends nothing
    statuses = []
    for _ in range(4):
        response = client.post(url, {"purpose": "核对"})
        statuses.append(response.status_code)
        if response.streaming:
            b"".join(response.streaming_content)  # a download: read to the end, file closed
    assert statuses == [200, 200, 200, 429]
    assert limited_event(client.user, "reveal").object_id == name


def test_refused_writes_are_audited_and_have_a_budget(client_for, households, settings):
    settings.DOORSTEP_RATE_SCOPED = "1000/m"
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    elsewhere = reverse("registry:household_edit", args=[households["G4"].pk])
    form = {"road": "路", "kind": "registered", "status": "occupied"}
    statuses = [client.post(elsewhere, form).status_code for _ in range(5)]
    assert statuses == [404] * 4 + [429]
    refusals = AuditEvent.objects.filter(action="write.refused", user=client.user)
    assert refusals.count() == 4
    assert refusals.first().detail == {"reason": "status 404"}
    assert refusals.first().object_id == "registry:household_edit"
    # from now on even a good write waits; reading goes on
    mine = reverse("registry:household_edit", args=[households["G1"].pk])
    assert client.post(mine, form).status_code == 429
    assert limited_event(client.user, "refused").detail["rate"] == "4/h"
    assert client.get("/roster/").status_code == 200


def _visit(household_id, *, new_id_number=None) -> dict:
    checks = []
    if new_id_number:
        checks = [{"new_person": {"name": "新人", "id_number": new_id_number}}]
    return {
        "client_uuid": str(uuid.uuid4()),
        "household_id": household_id,
        "outcome": "screened" if checks else "not_home",
        "visited_at": (timezone.now() - datetime.timedelta(minutes=5)).isoformat(),
        "person_checks": checks,
    }


def test_a_batch_stops_trying_once_the_refused_writes_are_spent(
    client, worker, campaign, households
):
    """500 candidates in one batch are no faster a probe than 500 requests: after the budget of
    refusals the rest of the batch is not tried ("throttled"), and the refusals are audited."""
    _token, key = api_token_create(user=worker, name="phone")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    g1, g4 = households["G1"].pk, households["G4"].pk
    visits = [_visit(g4) for _ in range(6)] + [_visit(g1)]
    response = client.post(
        f"/api/campaigns/{campaign.pk}/visits/batch",
        {"visits": visits},
        content_type="application/json",
        **auth,
    )
    statuses = [item["status"] for item in response.json()]
    assert statuses == ["not_found"] * 4 + ["throttled"] * 3
    assert not Visit.objects.exists()
    assert AuditEvent.objects.filter(action="write.refused", user=worker).count() == 4
    # the next write is refused before it is tried, with a 429; reading goes on
    again = client.post(
        f"/api/campaigns/{campaign.pk}/visits", _visit(g1), content_type="application/json", **auth
    )
    assert again.status_code == 429 and again["Retry-After"] == "3600"
    assert client.get("/api/me", **auth).status_code == 200


def test_api_reads_are_limited_per_token(user_for, households, client):
    user = user_for(Role.COMMUNITY_ADMIN, "C1")
    _token, key = api_token_create(user=user, name="phone")
    auth = {"Authorization": f"Bearer {key}"}
    statuses = [client.get("/api/me", headers=auth).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    body = client.get("/api/me", headers=auth).json()
    assert "detail" in body


def test_public_pages_do_not_spend_the_budget(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    for _ in range(10):
        assert client.get("/healthz").status_code == 200
        client.post("/i18n/setlang/", {"language": "zh-hans"})
    assert client.get("/roster/").status_code == 200


def test_a_refused_write_through_a_service_counts_once(client_for, households, worker, campaign):
    """A refusal the service counts (inside a 200 or a 4xx answer alike) is not counted a
    second time by the middleware."""
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    _token, key = api_token_create(user=worker, name="phone")
    client.post(
        f"/api/campaigns/{campaign.pk}/visits",
        _visit(households["G4"].pk),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert AuditEvent.objects.filter(action="write.refused").count() == 1
    assert Person.objects.count() == 8


def test_a_request_without_valid_credentials_writes_no_audit_row(client, campaign, households):
    """401 answers are not refused writes of a user: counting them would let anyone fill the
    audit trail without an account."""
    for _ in range(3):
        response = client.post(
            f"/api/campaigns/{campaign.pk}/visits",
            _visit(households["G1"].pk),
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer dst_made-up",
        )
        assert response.status_code == 401
    assert not AuditEvent.objects.filter(action="write.refused").exists()
