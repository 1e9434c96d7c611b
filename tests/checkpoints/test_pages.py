"""The pages people use: arrival entry by form post, the inbox and its actions."""

import uuid

from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.checkpoints.models import Arrival, Handoff, HandoffStatus

from .conftest import logged_in, occupant


def _form(*rows, **vehicle):
    data = {
        "client_uuid": str(uuid.uuid4()),
        "plate": "渝A00001",
        "kind": "car",
        "origin": "湖北武汉",
        "destination": "天生路12号3栋2单元501",
        "arrived_at": "",
    }
    data.update(vehicle)
    for name in ("client_uuid", "name", "id_number", "phone", "origin", "destination"):
        data[f"o-{name}"] = [r.get(name, "") for r in rows]
    data["o-purpose"] = [r.get("purpose", "home") for r in rows]
    data["o-temperature"] = [r.get("temperature", "") for r in rows]
    data["o-symptoms"] = [r.get("symptoms", "") for r in rows]
    return data


def test_entry_page_saves_a_car_and_keeps_the_refused_occupant(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    url = reverse("checkpoints:entry", args=[checkpoints["K1"].pk])
    page = client.get(url)
    assert page.status_code == 200 and "Alt" in page.content.decode()
    bad = occupant(name="错号", id_number="500109198505050010")
    good = occupant(name="好人", symptoms="2")
    answer = client.post(url, _form(good, bad))
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "错号" in text  # the refused row comes back to be fixed
    assert list(Arrival.objects.values_list("name", flat=True)) == ["好人"]
    assert Arrival.objects.get().symptoms == ["cough"]
    other = logged_in(officer_for("K2"))
    assert other.get(url).status_code == 404
    assert other.post(url, _form(occupant(name="越权"))).status_code == 404
    assert Arrival.objects.count() == 1


def test_inbox_accept_by_form(checkpoints, officer_for, user_for):
    client = logged_in(officer_for("K1"))
    client.post(reverse("checkpoints:entry", args=[checkpoints["K1"].pk]), _form(occupant()))
    handoff = Handoff.objects.get()
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    inbox = admin.get(reverse("checkpoints:inbox"))
    assert [r["handoff"].pk for r in inbox.context["rows"]] == [handoff.pk]
    detail = reverse("checkpoints:handoff", args=[handoff.pk])
    assert admin.get(detail).status_code == 200
    assert admin.post(detail, {"action": "accept"}).status_code == 302
    assert admin.post(detail, {"action": "accept"}).status_code == 409
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.ACCEPTED
    street = logged_in(user_for(Role.STREET_ADMIN, "S1"))
    assert street.get(detail).status_code == 200
    assert street.post(detail, {"action": "accept"}).status_code == 404
    neighbour = logged_in(user_for(Role.COMMUNITY_ADMIN, "C2"))
    assert neighbour.get(detail).status_code == 404
