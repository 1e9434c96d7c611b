"""The handoff loop through HTTP: accept (late too), not found with its reason seen by the
checkpoint, re-route inside the district only, one outcome for two accepts, overdue to the
street then the command, counts opening their lists, the unmatched queue and the handed-out
sheet."""

import datetime
import io
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from python_calamine import CalamineWorkbook

from doorstep.accounts.models import Role
from doorstep.checkpoints import services
from doorstep.checkpoints.models import Arrival, Handoff, HandoffStatus, Route

from .conftest import logged_in, occupant, passage, post_json


@pytest.fixture
def handoff(checkpoints, officer_for):
    client = logged_in(officer_for("K1"))
    url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
    post_json(client, url, passage(occupant(name="待接收")))
    return Handoff.objects.get()


def _act(client, handoff, action, body=None):
    return post_json(
        client, reverse(f"api:handoff_{action}", args=[handoff.pk]), body if body else {}
    )


def test_accept_closes_it_once_and_a_second_accept_is_409(handoff, user_for):
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    first = _act(admin, handoff, "accept")
    assert first.status_code == 200 and first.json()["status"] == "accepted"
    assert first.json()["late_seconds"] is None
    second = _act(admin, handoff, "accept")
    assert second.status_code == 409
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.ACCEPTED
    assert handoff.events.filter(action="accepted").count() == 1


def test_an_accept_after_the_deadline_is_taken_and_the_lateness_kept(handoff, user_for):
    Handoff.objects.filter(pk=handoff.pk).update(
        deadline=timezone.now() - datetime.timedelta(hours=3)
    )
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    answer = _act(admin, handoff, "accept")
    assert answer.status_code == 200
    assert answer.json()["late_seconds"] >= 3 * 3600 - 5


def test_stale_copies_accepting_at_once_give_one_outcome(handoff, user_for):
    """The conditional UPDATE: both workers loaded the handoff as pending."""
    one, two = user_for(Role.COMMUNITY_ADMIN, "C1"), user_for(Role.COMMUNITY_ADMIN, "C1")
    services.handoff_accept(user=one, handoff_id=handoff.pk)
    with pytest.raises(services.HandoffClosed):
        services.handoff_not_found(user=two, handoff_id=handoff.pk, reason="never_arrived")
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.ACCEPTED and handoff.closed_by == one


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_accepts_in_two_threads_give_one_outcome(areas, roster, user_for):
    from doorstep.checkpoints.models import Checkpoint, CheckpointOfficer
    from doorstep.screening.models import RiskArea

    from ..factories import UserFactory

    RiskArea.objects.create(name="湖北")
    checkpoint = Checkpoint.objects.create(
        district=areas["D"], code="KT", name="线程卡口", kind="bus_station"
    )
    officer = UserFactory(role=Role.CHECKPOINT_OFFICER)
    CheckpointOfficer.objects.create(user=officer, checkpoint=checkpoint)
    client = logged_in(officer)
    post_json(client, reverse("api:arrival_submit", args=[checkpoint.pk]), passage(occupant()))
    handoff = Handoff.objects.get()
    workers = [user_for(Role.COMMUNITY_ADMIN, "C1") for _ in range(2)]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def accept(user):
        barrier.wait()
        try:
            services.handoff_accept(user=user, handoff_id=handoff.pk)
            outcomes.append("accepted")
        except services.HandoffClosed:
            outcomes.append("closed")
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["accepted", "closed"]
    assert handoff.events.filter(action="accepted").count() == 1


def test_not_found_reason_and_note_reach_the_checkpoint(handoff, user_for, officer_for):
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    missing_note = _act(admin, handoff, "not_found", {"reason": "other"})
    assert missing_note.status_code == 422
    answer = _act(admin, handoff, "not_found", {"reason": "wrong_address", "note": "查无此人"})
    assert answer.status_code == 200 and answer.json()["not_found_reason"] == "wrong_address"
    arrival = handoff.arrivals.get()
    checkpoint_view = logged_in(arrival.entered_by).get(
        reverse("checkpoints:arrival", args=[arrival.pk])
    )
    text = checkpoint_view.content.decode()
    assert "查无此人" in text
    listed = logged_in(arrival.entered_by).get(reverse("checkpoints:arrivals") + "?f=not_found")
    assert "查无此人" in listed.content.decode() and listed.context["total"] == 1


def test_reroute_stays_in_the_district_and_the_receiver_accepts_in_turn(handoff, user_for, areas):
    from ..factories import area_tree

    other = area_tree("X")
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    refused = _act(admin, handoff, "reroute", {"community_code": other["C1"].code})
    assert refused.status_code == 422
    handoff.refresh_from_db()
    assert handoff.community.code == "C1" and handoff.reroutes == 0
    moved = _act(admin, handoff, "reroute", {"community_code": "C3", "note": "住新华"})
    assert moved.status_code == 200 and moved.json()["community"] == "新华社区"
    assert _act(admin, handoff, "accept").status_code == 404  # no longer theirs
    receiver = logged_in(user_for(Role.COMMUNITY_ADMIN, "C3"))
    assert _act(receiver, handoff, "accept").status_code == 200
    assert Arrival.objects.get().community.code == "C3"


def test_others_cannot_act_and_nothing_changes(handoff, user_for):
    for role, area in (
        (Role.COMMUNITY_ADMIN, "C2"),
        (Role.STREET_ADMIN, "S1"),
        (Role.COMMAND, "D"),
        (Role.GRID_WORKER, "G1"),
    ):
        client = logged_in(user_for(role, area))
        assert _act(client, handoff, "accept").status_code == 404, role
    handoff.refresh_from_db()
    assert handoff.status == HandoffStatus.PENDING and handoff.events.count() == 1


def test_overdue_shows_to_the_street_then_the_command(handoff, user_for, settings):
    settings.DOORSTEP_HANDOFF_COMMAND_AFTER_HOURS = 12
    street = logged_in(user_for(Role.STREET_ADMIN, "S1"))
    command = logged_in(user_for(Role.COMMAND, "D"))
    url = reverse("checkpoints:inbox") + "?f=overdue"

    def listed(client):
        return [r["handoff"].pk for r in client.get(url).context["rows"]]

    assert listed(street) == [] and listed(command) == []
    Handoff.objects.filter(pk=handoff.pk).update(
        deadline=timezone.now() - datetime.timedelta(hours=1)
    )
    assert listed(street) == [handoff.pk] and listed(command) == []
    Handoff.objects.filter(pk=handoff.pk).update(
        deadline=timezone.now() - datetime.timedelta(hours=13)
    )
    assert listed(command) == [handoff.pk]
    other_street = logged_in(user_for(Role.STREET_ADMIN, "S2"))
    assert listed(other_street) == []


def test_counts_per_checkpoint_and_community_open_their_lists(checkpoints, officer_for, user_for):
    officer = logged_in(officer_for("K1"))
    url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
    post_json(
        officer,
        url,
        passage(
            occupant(name="甲"),
            occupant(name="乙", origin="重庆", temperature="36.5"),
            occupant(name="丙", destination="北京路5号"),
        ),
    )
    services.handoff_accept(
        user=user_for(Role.COMMUNITY_ADMIN, "C1"),
        handoff_id=Arrival.objects.get(name="甲").handoff_id,
    )
    command = logged_in(user_for(Role.COMMAND, "D"))
    page = command.get(reverse("checkpoints:home"))
    rows = {r.label: r.figures for r in page.context["by_checkpoint"]}
    assert rows["北碚收费站"] == {
        "all": 3,
        "risk": 2,
        "handed_off": 2,
        "accepted": 1,
        "not_found": 0,
        "overdue": 0,
    }
    by_community = {r.label: r.figures for r in page.context["by_community"]}
    assert by_community["状元社区"]["accepted"] == 1 and by_community["碚峡社区"]["risk"] == 1
    k1 = checkpoints["K1"].pk
    opened = command.get(reverse("checkpoints:arrivals") + f"?checkpoint={k1}&f=accepted")
    assert [r["arrival"].name for r in opened.context["rows"]] == ["甲"]
    # the community sees only what was handed to it
    c2 = logged_in(user_for(Role.COMMUNITY_ADMIN, "C2"))
    names = [r["arrival"].name for r in c2.get(reverse("checkpoints:arrivals")).context["rows"]]
    assert names == ["丙"]


def test_unmatched_queue_is_routed_by_command(checkpoints, officer_for, user_for):
    officer = logged_in(officer_for("K1"))
    url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
    post_json(officer, url, passage(occupant(name="不明", destination="某某地方")))
    arrival = Arrival.objects.get()
    assert arrival.route == Route.UNMATCHED and arrival.handoff is None
    command = logged_in(user_for(Role.COMMAND, "D"))
    page = command.get(reverse("checkpoints:unmatched"))
    assert page.context["total"] == 1
    street = logged_in(user_for(Role.STREET_ADMIN, "S1"))
    assert street.get(reverse("checkpoints:unmatched")).status_code == 404
    routed = command.post(
        reverse("checkpoints:unmatched"), {"arrival": arrival.pk, "community": "C2"}
    )
    assert routed.status_code == 302
    arrival.refresh_from_db()
    assert arrival.route == Route.HANDED_OFF and arrival.handoff.community.code == "C2"
    assert arrival.match_status == "routed"


def test_handed_out_sheet_needs_a_purpose_and_masks_numbers(checkpoints, officer_for, user_for):
    officer = logged_in(officer_for("K1"))
    url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
    person = occupant(name="外区人", destination="江北区观音桥")
    post_json(officer, url, passage(person))
    command = logged_in(user_for(Role.COMMAND, "D"))
    export = reverse("checkpoints:handed_out_export")
    assert command.get(export).status_code == 200  # the purpose form
    answer = command.post(export, {"purpose": "移交江北区"})
    assert answer.status_code == 200
    book = CalamineWorkbook.from_filelike(io.BytesIO(answer.content))
    rows = book.get_sheet_by_index(0).to_python()
    assert rows[1][3] == "外区人"
    assert person["id_number"] not in str(rows) and "*" in rows[1][4]


def test_a_reroute_to_a_community_waiting_for_the_person_joins_its_handoff_and_answers_alike(
    checkpoints, officer_for, user_for
):
    """No oracle: the caller cannot tell whether the target has a handoff of the person; the
    arrivals reach the target either way."""
    from doorstep.checkpoints.models import HandoffEvent

    url = reverse("api:arrival_submit", args=[checkpoints["K1"].pk])
    officer = logged_in(officer_for("K1"))
    alone = occupant(name="甲改派")
    twice = occupant(name="乙改派")
    post_json(officer, url, passage(alone))
    post_json(officer, url, passage(twice))
    post_json(
        officer,
        url,
        passage(
            dict(twice, client_uuid=occupant()["client_uuid"], destination="中山路8号1栋1单元101")
        ),
    )
    assert Handoff.objects.count() == 3
    first = Handoff.objects.get(community__code="C1", arrivals__name="甲改派")
    second = Handoff.objects.get(community__code="C1", arrivals__name="乙改派")
    waiting = Handoff.objects.get(community__code="C3")
    deadline_before = waiting.deadline
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    answers = []
    for handoff, name in ((first, "甲改派"), (second, "乙改派")):
        answer = _act(admin, handoff, "reroute", {"community_code": "C3", "note": "住新华"})
        assert answer.status_code == 200
        body = answer.json()
        assert body.pop("id") == handoff.pk
        assert body.pop("arrivals") == [name]  # its own arrivals, whatever the target holds
        received, deadline = body.pop("received_at"), body.pop("deadline")
        assert deadline > received
        answers.append(body)
        assert _act(admin, handoff, "accept").status_code == 404  # no longer theirs
    assert (
        answers[0]
        == answers[1]
        == {
            "status": "pending",
            "community": "新华社区",
            "late_seconds": None,
            "not_found_reason": "",
            "note": "",
        }
    )
    # the second joined the target's handoff: its arrival and history are there, it is gone
    assert not Handoff.objects.filter(pk=second.pk).exists()
    waiting.refresh_from_db()
    assert waiting.status == HandoffStatus.PENDING and waiting.deadline == deadline_before
    assert sorted(waiting.arrivals.values_list("community__code", flat=True)) == ["C3", "C3"]
    actions = list(HandoffEvent.objects.filter(handoff=waiting).values_list("action", flat=True))
    assert actions.count("sent") == 2 and "rerouted" in actions and "joined" in actions
    receiver = logged_in(user_for(Role.COMMUNITY_ADMIN, "C3"))
    assert _act(receiver, waiting, "accept").status_code == 200
    waiting.refresh_from_db()
    assert waiting.key_person.sources.count() == 2
    assert Handoff.objects.filter(status=HandoffStatus.PENDING).count() == 1  # the first, at C3
