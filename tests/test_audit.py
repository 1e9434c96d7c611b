"""The audit trail: reads of full records are recorded with who, when, from where and through
which page; rows hold no plaintext personal data; nothing in the application can change or
remove a row, and the database refuses it too."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.accounts.services import api_token_create
from doorstep.core.models import AuditEvent
from doorstep.core.services import audit_write
from doorstep.core.urlaccess import STAFF, access_class
from doorstep.registry.models import Person
from tests.factories import open_district_campaign


def events(action: str):
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_opening_a_household_is_recorded_with_address_and_page(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    household = households["G1"]
    client.get(reverse("registry:household_detail", args=[household.pk]), REMOTE_ADDR="10.1.2.3")
    [event] = events("household.read")
    assert event.user == client.user
    assert (event.object_type, event.object_id) == ("registry.household", str(household.pk))
    assert event.ip_address == "10.1.2.3"
    assert event.detail == {"via": "roster"}
    assert event.at is not None


def test_opening_a_person_for_editing_is_recorded(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    person = households["G1"].persons.first()
    assert client.get(reverse("registry:person_edit", args=[person.pk])).status_code == 200
    [event] = events("person.read")
    assert event.object_id == str(person.pk) and event.detail == {"via": "person_edit"}


def test_an_out_of_scope_read_records_nothing_and_answers_404(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    response = client.get(reverse("registry:household_detail", args=[households["G4"].pk]))
    assert response.status_code == 404
    assert events("household.read") == []


def test_api_member_lists_are_recorded(user_for, households, client):
    commander = user_for(Role.COMMAND, "D")
    campaign = open_district_campaign(commander, "c")
    worker = user_for(Role.COMMUNITY_ADMIN, "C1")
    _token, key = api_token_create(user=worker, name="phone")
    household = households["G1"]
    url = f"/api/campaigns/{campaign.pk}/households/{household.pk}/members"
    assert client.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    [event] = events("household.read")
    assert event.user == worker and event.detail == {"via": "api"}


def test_audit_rows_hold_no_plaintext_identifiers(client_for, households):
    client = client_for(Role.COMMUNITY_ADMIN, "C1")
    person = households["G1"].persons.first()
    client.get(reverse("registry:household_detail", args=[person.household_id]))
    client.post(
        reverse("registry:person_edit", args=[person.pk]),
        {
            "name": person.name,
            "id_number": person.id_number,
            "phone": "13912345678",
            "relation": person.relation,
            "status": person.status,
        },
    )
    client.post(
        reverse("registry:person_reveal", args=[person.pk, "id_number"]), {"purpose": "核对"}
    )
    assert AuditEvent.objects.count() >= 2
    numbers = {p.id_number for p in Person.objects.all()} | {"13912345678"}
    numbers |= {p.phone for p in Person.objects.all() if p.phone}
    for event in AuditEvent.objects.all():
        text = f"{event.object_id} {event.purpose} {event.detail}"
        assert not any(number in text for number in numbers), event.action


def test_the_application_cannot_change_or_remove_audit_rows(db):
    event = audit_write(user=None, action="test.event", object_type="x", object_id="1")
    event.purpose = "changed"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(purpose="changed")
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.refresh_from_db()
    assert event.purpose == ""


def test_the_database_refuses_updates_to_audit_rows(db):
    event = audit_write(user=None, action="test.event", object_type="x", object_id="1")
    table = AuditEvent._meta.db_table
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET purpose = 'changed' WHERE id = %s", [event.pk])  # noqa: S608
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [event.pk])  # noqa: S608
    assert AuditEvent.objects.filter(pk=event.pk, purpose="").exists()


def test_no_page_or_api_reaches_audit_rows():
    """The admin registers no audit model, and no route outside the staff admin names one."""
    from django.contrib import admin
    from django.urls import get_resolver

    assert AuditEvent not in admin.site._registry

    def names(patterns, prefix=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                namespace = f"{pattern.namespace}:" if pattern.namespace else ""
                yield from names(pattern.url_patterns, prefix + namespace)
            else:
                yield prefix + (pattern.name or ""), pattern.callback

    for name, callback in names(get_resolver().url_patterns):
        if access_class(name, callback) == STAFF:
            continue
        assert "audit" not in name.lower(), name
