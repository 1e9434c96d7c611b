"""A vehicle sent again under the same client UUID: the first answer comes back whatever the
clock says now, another body is 409, a retry racing the first send is answered with the
stored record, and a fever whose referral was refused the first time is tried again."""

import datetime
import uuid
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from doorstep.checkpoints import services
from doorstep.checkpoints.models import Arrival, VehiclePassage
from doorstep.checkpoints.services import passages
from doorstep.checkpoints.views import _arrived_at
from doorstep.followup.models import Referral
from doorstep.followup.services import FollowupRefused

from .conftest import logged_in, occupant, passage, post_json
from .test_pages import _form


def shanghai(*args: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(*args))


def test_the_entry_form_sent_again_after_the_minute_changed_is_the_same_vehicle(
    checkpoints, officer_for
):
    # given an officer saving a car with the time left empty (now) at 14:05:50
    client = logged_in(officer_for("K1"))
    url = reverse("checkpoints:entry", args=[checkpoints["K1"].pk])
    form = _form(occupant(name="重发"))
    with freeze_time(shanghai(2020, 2, 3, 14, 5, 50)):
        first = client.post(url, form)
    assert first.status_code == 200
    # when the browser sends the same form again at 14:06:10 (the answer was lost)
    with freeze_time(shanghai(2020, 2, 3, 14, 6, 10)):
        again = client.post(url, form)
    # then it is the same vehicle, with the time the first send fixed, not a 422
    assert again.status_code == 200, again.content.decode()
    assert VehiclePassage.objects.count() == 1 and Arrival.objects.count() == 1
    assert VehiclePassage.objects.get().arrived_at == shanghai(2020, 2, 3, 14, 5)
    assert Arrival.objects.get().arrived_at == shanghai(2020, 2, 3, 14, 5)
    # and the same UUID with another plate is a conflict that writes nothing
    with freeze_time(shanghai(2020, 2, 3, 14, 7)):
        other = client.post(url, dict(form, plate="渝B99999"))
    assert other.status_code == 409
    assert VehiclePassage.objects.get().plate == "渝A00001" and Arrival.objects.count() == 1


def test_a_time_typed_after_midnight_is_last_evening_and_stays_so_on_a_retry(
    checkpoints, officer_for
):
    client = logged_in(officer_for("K1"))
    url = reverse("checkpoints:entry", args=[checkpoints["K1"].pk])
    form = _form(occupant(name="夜班"), arrived_at="23:50")
    with freeze_time(shanghai(2020, 2, 4, 0, 5)):
        first = client.post(url, form)
    assert first.status_code == 200, first.content.decode()
    with freeze_time(shanghai(2020, 2, 4, 0, 30)):
        assert client.post(url, form).status_code == 200
    assert VehiclePassage.objects.get().arrived_at == shanghai(2020, 2, 3, 23, 50)
    assert Arrival.objects.count() == 1


def test_a_time_alone_is_today_when_it_has_passed_or_is_minutes_ahead():
    now = shanghai(2020, 2, 3, 14, 5)
    assert _arrived_at("09:30", now=now) == shanghai(2020, 2, 3, 9, 30)
    assert _arrived_at("14:12", now=now) == shanghai(2020, 2, 3, 14, 12)  # a fast watch
    assert _arrived_at("14:30", now=now) == shanghai(2020, 2, 2, 14, 30)
    assert _arrived_at("", now=now) == now


def test_an_api_retry_of_the_same_body_is_answered_and_another_body_is_409(
    checkpoints, officer_for
):
    client = logged_in(officer_for("K1"))
    url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
    body = passage(occupant())
    assert post_json(client, url, body).status_code == 201
    again = post_json(client, url, body)
    assert again.status_code == 200 and again.json()["occupants"][0]["status"] == "duplicate"
    assert post_json(client, url, dict(body, plate="渝C1")).status_code == 409
    assert VehiclePassage.objects.count() == 1 and Arrival.objects.count() == 1


def test_a_retry_racing_the_first_send_gets_the_stored_answer_not_409(checkpoints, officer_for):
    # given a vehicle just saved by the first send
    user = officer_for("K1")
    body = services.PassageInput(
        client_uuid=uuid.uuid4(),
        kind="car",
        arrived_at=timezone.now() - datetime.timedelta(minutes=3),
        plate="渝A1",
        origin="湖北武汉",
        occupants=services.occupants_from([dict(occupant(), client_uuid=uuid.uuid4())]),
    )
    first = services.passage_record(user=user, checkpoint=checkpoints["K1"], passage=body)
    # when the retry looked before the first send had committed (it saw no vehicle) and its
    # insert then meets the unique client UUID
    with (
        mock.patch.object(passages, "_passages_locked", return_value={}),
        mock.patch.object(passages, "_passage_locked", return_value=None),
    ):
        again = services.passage_record(user=user, checkpoint=checkpoints["K1"], passage=body)
    # then it is answered with the stored vehicle, its occupant a duplicate
    assert again.passage.pk == first.passage.pk and again.created is False
    assert [o.status for o in again.occupants] == ["duplicate"]
    assert VehiclePassage.objects.count() == 1 and Arrival.objects.count() == 1
    # and the same race with another body is still a conflict
    changed = services.PassageInput(**{**body.__dict__, "plate": "渝B2"})
    with (
        mock.patch.object(passages, "_passages_locked", return_value={}),
        mock.patch.object(passages, "_passage_locked", return_value=None),
        pytest.raises(services.PassageConflict),
    ):
        services.passage_record(user=user, checkpoint=checkpoints["K1"], passage=changed)
    assert VehiclePassage.objects.get().plate == "渝A1"


def test_a_retry_opens_the_referral_that_follow_up_refused_the_first_time(checkpoints, officer_for):
    # given a fever arrival whose referral follow-up refused at the first send
    client = logged_in(officer_for("K1"))
    url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
    body = passage(occupant(name="发热重试", temperature="38.6"))
    refused = FollowupRefused("the fever clinic list is being edited", "facility")
    with mock.patch("doorstep.checkpoints.followup_link.fever_referral", side_effect=refused):
        first = post_json(client, url, body)
    assert first.status_code == 201 and first.json()["occupants"][0]["referral"] is False
    assert not Referral.objects.exists()
    # when the officer's device sends the same vehicle again
    again = post_json(client, url, body)
    # then the arrival is the same one and its referral is now open
    item = again.json()["occupants"][0]
    assert again.status_code == 200 and item["status"] == "duplicate"
    assert item["referral"] is True
    arrival = Arrival.objects.get()
    assert arrival.referral == Referral.objects.get()
    # a third send opens no second referral
    third = post_json(client, url, body).json()["occupants"][0]
    assert third["referral"] is True and Referral.objects.count() == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_identical_sends_at_once_give_one_vehicle_and_no_409(areas, roster):
    import threading

    from django.db import connection

    from doorstep.accounts.models import Role
    from doorstep.checkpoints.models import Checkpoint, CheckpointOfficer
    from doorstep.screening.models import RiskArea

    from ..factories import UserFactory

    RiskArea.objects.create(name="湖北")
    checkpoint = Checkpoint.objects.create(
        district=areas["D"], code="KR", name="并发卡口", kind="bus_station"
    )
    officer = UserFactory(role=Role.CHECKPOINT_OFFICER)
    CheckpointOfficer.objects.create(user=officer, checkpoint=checkpoint)
    body = services.PassageInput(
        client_uuid=uuid.uuid4(),
        kind="car",
        arrived_at=timezone.now() - datetime.timedelta(minutes=3),
        origin="湖北武汉",
        occupants=services.occupants_from([dict(occupant(), client_uuid=uuid.uuid4())]),
    )
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def send():
        barrier.wait()
        try:
            result = services.passage_record(user=officer, checkpoint=checkpoint, passage=body)
            outcomes.append("created" if result.created else "answered")
        except services.PassageConflict:
            outcomes.append("409")
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["answered", "created"]
    assert VehiclePassage.objects.count() == 1 and Arrival.objects.count() == 1
