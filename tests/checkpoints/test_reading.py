"""What the pages read and how: the address match's method and confidence are for those who
reconcile (community admins, the command), not for the officer; the handoff lists read the
same number of queries for 2 handoffs as for 7."""

import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from doorstep.accounts.models import Role
from doorstep.checkpoints.models import Arrival, Handoff

from .conftest import logged_in, occupant, passage, post_json


def _submit(client, checkpoint, *occupants):
    url = reverse("api:arrival_submit", args=[checkpoint.pk])
    answer = post_json(client, url, passage(*occupants))
    assert answer.status_code == 201, answer.content
    return answer.json()["occupants"]


def test_the_officer_does_not_read_how_the_address_was_matched(checkpoints, officer_for, user_for):
    # given an arrival whose destination matched by the sound of the road name
    officer = logged_in(officer_for("K1"))
    _submit(officer, checkpoints["K1"], occupant(name="声同", destination="天声路12号3栋2单元501"))
    arrival = Arrival.objects.get()
    assert arrival.match_method == "pinyin_door"
    # when the officer reads their arrival and their list, then the method is not there
    pages = [reverse("checkpoints:arrival", args=[arrival.pk]), reverse("checkpoints:arrivals")]
    for url in pages:
        text = officer.get(url).content.decode()
        assert "声同" in text and "pinyin_door" not in text, url
    # while the receiving community's admin, reconciling the handoff, and the command do
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    handoff_page = admin.get(reverse("checkpoints:handoff", args=[arrival.handoff_id]))
    assert "pinyin_door" in handoff_page.content.decode()
    command = logged_in(user_for(Role.COMMAND, "D"))
    arrival_page = command.get(reverse("checkpoints:arrival", args=[arrival.pk]))
    assert "pinyin_door" in arrival_page.content.decode()


def test_the_officer_does_not_read_the_candidates_of_an_uncertain_match(
    checkpoints, officer_for, user_for
):
    # given a risk arrival whose destination has a typo in the road and a number the roster
    # does not know there: uncertain, candidates kept
    officer = logged_in(officer_for("K1"))
    _submit(officer, checkpoints["K1"], occupant(name="含糊", destination="天牛路99号"))
    arrival = Arrival.objects.get()
    assert arrival.match_status == "uncertain" and arrival.match_candidates
    url = reverse("checkpoints:arrival", args=[arrival.pk])
    # then the officer reads neither the candidates nor the method
    page = officer.get(url).content.decode()
    assert "候选社区" not in page and "fuzzy_road" not in page
    # the command, routing it, reads both
    command = logged_in(user_for(Role.COMMAND, "D"))
    routed = command.get(url).content.decode()
    assert "候选社区" in routed and "fuzzy_road" in routed


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(url)
    assert answer.status_code == 200, url
    return len(captured.captured_queries)


def _persons_to_c1(client, checkpoint, count: int) -> None:
    for n in range(count):
        _submit(client, checkpoint, occupant(name=f"待接{n}"), occupant(name=f"同车{n}"))


def test_the_handoff_lists_read_the_same_queries_for_2_handoffs_as_for_7(
    checkpoints, officer_for, user_for
):
    officer = logged_in(officer_for("K1"))
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    command = logged_in(user_for(Role.COMMAND, "D"))
    _persons_to_c1(officer, checkpoints["K1"], 1)
    assert Handoff.objects.count() == 2
    urls = [
        (admin, reverse("checkpoints:inbox")),
        (admin, reverse("api:handoff_list")),
        (command, reverse("checkpoints:inbox") + "?f=all"),
        (admin, reverse("checkpoints:arrivals")),
    ]
    small = [_queries(client, url) for client, url in urls]
    _persons_to_c1(officer, checkpoints["K1"], 2)
    assert Handoff.objects.count() == 6
    # one more handoff of a person who arrived three times (three arrivals in it)
    person = occupant(name="三次")
    for _ in range(3):
        _submit(officer, checkpoints["K1"], dict(person, client_uuid=str(uuid.uuid4())))
    assert Handoff.objects.count() == 7
    large = [_queries(client, url) for client, url in urls]
    assert large == small
    assert len(admin.get(reverse("api:handoff_list")).json()) == 7


def test_a_handoff_page_reads_the_same_queries_for_1_arrival_as_for_4(
    checkpoints, officer_for, user_for
):
    officer = logged_in(officer_for("K1"))
    admin = logged_in(user_for(Role.COMMUNITY_ADMIN, "C1"))
    person = occupant(name="多次")
    _submit(officer, checkpoints["K1"], person)
    handoff = Handoff.objects.get()
    url = reverse("checkpoints:handoff", args=[handoff.pk])
    one = _queries(admin, url)
    for _ in range(3):
        _submit(officer, checkpoints["K1"], dict(person, client_uuid=str(uuid.uuid4())))
    assert handoff.arrivals.count() == 4
    assert _queries(admin, url) == one
