"""Deny by default: every URL is classified, anonymous users reach only public ones, and roster
data outside a user's jurisdiction is invisible (404) and unwritable."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from doorstep.accounts.models import Role
from doorstep.core.urlaccess import PUBLIC, STAFF, access_class
from doorstep.registry.models import Household, Person, RecordChange
from doorstep.registry.selectors import (
    household_search,
    households_visible_to,
    persons_visible_to,
)


def all_urls(resolver: URLResolver | None = None, namespace: str = "", converters=None):
    """(name, view, {kwarg: converter}) of every route, namespaces included."""
    found = []
    for pattern in (resolver or get_resolver()).url_patterns:
        seen = {**(converters or {}), **getattr(pattern.pattern, "converters", {})}
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found.extend(all_urls(pattern, inner, seen))
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else f"{namespace}<unnamed>"
            found.append((name, pattern.callback, seen))
    return found


EXAMPLE_VALUES = {
    "IntConverter": 1,
    "UUIDConverter": "00000000-0000-0000-0000-000000000001",
    "StringConverter": "phone",
    "SlugConverter": "x",
    "PathConverter": "x",
}


def example_url(name: str, converters: dict) -> str:
    kwargs = {key: EXAMPLE_VALUES[type(conv).__name__] for key, conv in converters.items()}
    return reverse(name, kwargs=kwargs)


def all_url_names() -> list[str]:
    return [name for name, _view, _conv in all_urls()]


def test_every_url_is_classified():
    unclassified = sorted({n for n, view, _c in all_urls() if access_class(n, view) is None})
    assert unclassified == [], f"classify these in doorstep/core/urlaccess.py: {unclassified}"


@pytest.mark.django_db
def test_anonymous_users_reach_only_public_urls():
    client = Client()
    checked = 0
    for name, view, converters in all_urls():
        if access_class(name, view) in (PUBLIC, STAFF):
            continue
        url = example_url(name, converters)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            # redirect to login, refused, or (the API's bare root) not found: never data
            assert response.status_code in (302, 401, 403, 404, 405), (name, method)
            if response.status_code == 302:
                assert "/accounts/login/" in response["Location"], name
        checked += 1
    assert checked >= 15


def test_admin_registers_no_personal_data_models():
    registered = {model._meta.label for model in admin.site._registry}
    assert not registered & {
        "registry.Household",
        "registry.Person",
        "registry.RecordChange",
        "imports.ImportRejection",
        "followup.KeyPerson",
        "followup.Monitoring",
        "followup.Check",
        "followup.Referral",
        "followup.Placement",
        "followup.Reason",
        "followup.Source",
    }


@pytest.mark.parametrize(
    "role, area, visible",
    [
        (Role.COMMAND, "D", {"G1", "G2", "G3", "G4"}),
        (Role.STREET_ADMIN, "S1", {"G1", "G2", "G3"}),
        (Role.COMMUNITY_ADMIN, "C1", {"G1", "G2"}),
        (Role.GRID_WORKER, "G1", {"G1"}),
        (Role.CHECKPOINT_OFFICER, None, set()),
        (Role.COMMUNITY_ADMIN, None, set()),
    ],
)
def test_each_role_sees_exactly_its_subtree(user_for, households, role, area, visible):
    user = user_for(role, area)
    seen = {h.grid.code for h in households_visible_to(user).select_related("grid")}
    assert seen == visible
    assert {
        p.household.grid.code for p in persons_visible_to(user).select_related("household__grid")
    } == visible
    # an empty search is not a way around the scope
    assert {h.grid.code for h in household_search(user, query="")} == visible


def test_a_deactivated_user_sees_nothing(user_for, households):
    user = user_for(Role.COMMAND, "D", is_active=False)
    assert households_visible_to(user).count() == 0


def test_id_search_is_exact_only(user_for, households):
    user = user_for(Role.COMMAND, "D")
    person = households["G1"].persons.first()
    assert list(household_search(user, query=person.id_number)) == [households["G1"]]
    assert list(household_search(user, query=person.id_number[:10])) == []
    assert list(household_search(user, query=person.id_number[:17])) == []
    assert list(household_search(user, query=person.phone[:7])) == []


def test_a_search_for_an_id_number_in_another_street_finds_nothing(user_for, households):
    user = user_for(Role.STREET_ADMIN, "S1")
    outsider = households["G4"].persons.first()
    assert list(household_search(user, query=outsider.id_number)) == []
    assert list(household_search(user, query=outsider.name)) == []


@pytest.mark.parametrize("grid", ["G3", "G4"])
def test_out_of_scope_pages_answer_404_and_change_nothing(client_for, households, grid):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    household = households[grid]
    person = household.persons.first()
    before = (list(Household.objects.values()), list(Person.objects.values()))
    urls = [
        ("get", reverse("registry:household_detail", args=[household.pk]), {}),
        ("get", reverse("registry:household_edit", args=[household.pk]), {}),
        (
            "post",
            reverse("registry:household_edit", args=[household.pk]),
            {"road": "X", "kind": "registered", "status": "occupied"},
        ),
        ("get", reverse("registry:person_edit", args=[person.pk]), {}),
        (
            "post",
            reverse("registry:person_edit", args=[person.pk]),
            {
                "name": "改名",
                "id_type": "resident_id",
                "residency": "permanent",
                "status": "active",
            },
        ),
        (
            "post",
            reverse("registry:person_create", args=[household.pk]),
            {"name": "新人", "id_type": "none", "residency": "permanent", "status": "active"},
        ),
        ("post", reverse("registry:person_reveal", args=[person.pk, "id_number"]), {}),
        ("post", reverse("registry:person_reveal", args=[person.pk, "phone"]), {}),
    ]
    for method, url, data in urls:
        response = getattr(client, method)(url, data)
        assert response.status_code == 404, (method, url)
    assert (list(Household.objects.values()), list(Person.objects.values())) == before
    assert RecordChange.objects.count() == 0


def test_list_pages_never_show_out_of_scope_households(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    body = client.get(reverse("registry:household_list")).content.decode()
    assert "HN-G1" in body and "HN-G2" in body
    assert "HN-G3" not in body and "HN-G4" not in body
    # an area filter pointing outside the jurisdiction is ignored, not obeyed
    body = client.get(reverse("registry:household_list") + "?area=S2").content.decode()
    assert "HN-G4" not in body
    body = client.post(reverse("registry:household_list"), {"q": "户主G4"}, follow=True)
    assert "HN-G4" not in body.content.decode()


def test_a_user_without_jurisdiction_sees_an_explanation_and_no_data(client_for, households):
    client = client_for(Role.CLINIC_STAFF, None)
    body = client.get(reverse("registry:household_list")).content.decode()
    assert "HN-G1" not in body
    response = client.get(reverse("registry:household_detail", args=[households["G1"].pk]))
    assert response.status_code == 404


def test_a_household_number_shaped_like_an_id_number_is_found(user_for, areas):
    from .factories import HouseholdFactory

    household = HouseholdFactory(grid=areas["G1"], household_number="500109001001010001")
    user = user_for(Role.COMMUNITY_ADMIN, "C1")
    assert list(household_search(user, query="500109001001010001")) == [household]
