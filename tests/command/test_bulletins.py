"""The public bulletin: drafted, approved by a second command user (never its author), published
without login with JSON and Atom feeds; immutable once published; corrections are new versions."""

import datetime
import json
import random
import threading
from xml.etree import ElementTree

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.command import bulletins
from doorstep.command.models import Bulletin, BulletinStatus
from tests.two_factor import verify_session

from .test_verify import _play

LIST = reverse("command:bulletins")


def _command_client(user_for):
    user = user_for(Role.COMMAND, "D")
    client = Client()
    client.force_login(user)
    verify_session(client, user)
    client.user = user
    return client


@pytest.fixture
def drafted(sweep, user_for):
    _play(random.Random(21), sweep, days_back=0, count=14, late_hours=(0, 1))
    author = _command_client(user_for)
    response = author.post(LIST, {"date": timezone.localdate().isoformat(), "k": "5"})
    assert response.status_code == 302
    return author, Bulletin.objects.get()


def test_the_whole_way_to_the_public(drafted, user_for):
    author, bulletin = drafted
    page = reverse("command:bulletin", args=[bulletin.pk])
    assert bulletin.status == BulletinStatus.DRAFT and bulletin.table
    # the author cannot approve, nor publish a draft
    assert author.post(page, {"action": "approve"}).status_code == 400
    assert author.post(page, {"action": "publish"}).status_code == 400
    bulletin.refresh_from_db()
    assert bulletin.status == BulletinStatus.DRAFT and bulletin.approved_by is None
    # anonymous readers see nothing yet
    public = Client()
    assert public.get(reverse("bulletin_public", args=[bulletin.pk])).status_code == 404
    second = _command_client(user_for)
    assert second.post(page, {"action": "approve"}).status_code == 302
    assert second.post(page, {"action": "approve"}).status_code == 400  # once
    assert author.post(page, {"action": "publish"}).status_code == 302
    bulletin.refresh_from_db()
    assert bulletin.status == BulletinStatus.PUBLISHED and bulletin.approved_by == second.user
    # public, without login
    shown = public.get(reverse("bulletin_public", args=[bulletin.pk]))
    assert shown.status_code == 200
    text = shown.content.decode()
    assert bulletin.body in text and 'id="markers"' in text
    district_row = bulletin.table[0]
    assert district_row["code"] == "D"
    assert district_row["cells"]["households_closed"]["shown"].isdigit()  # exact
    feed = json.loads(public.get(reverse("bulletin_feed_json")).content)
    assert feed["bulletins"][0]["id"] == bulletin.pk
    assert feed["bulletins"][0]["table"] == bulletin.table
    atom = ElementTree.fromstring(public.get(reverse("bulletin_feed_atom")).content)  # noqa: S314 - our own feed
    entries = atom.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 1
    # published: never edited
    before = Bulletin.objects.filter(pk=bulletin.pk).values().get()
    response = author.post(page, {"action": "edit", "title": "改", "body": "改"})
    assert response.status_code == 400
    assert Bulletin.objects.filter(pk=bulletin.pk).values().get() == before
    assert Bulletin.objects.filter(pk=bulletin.pk).update(body="x") == 0
    with pytest.raises(PermissionError):
        bulletin.save()
    # a correction is a new version linking the old one
    assert author.post(page, {"action": "correct", "note": ""}).status_code == 400
    response = author.post(page, {"action": "correct", "note": "补录纸质表后更正"})
    correction = Bulletin.objects.get(corrects=bulletin)
    assert response.status_code == 302 and correction.version == 2
    assert correction.status == BulletinStatus.DRAFT
    second.post(reverse("command:bulletin", args=[correction.pk]), {"action": "approve"})
    author.post(reverse("command:bulletin", args=[correction.pk]), {"action": "publish"})
    old = public.get(reverse("bulletin_public", args=[bulletin.pk])).content.decode()
    assert 'id="corrected-by"' in old and "补录纸质表后更正" in old


def test_small_counts_are_hidden_below_the_district(drafted):
    _author, bulletin = drafted
    k = bulletin.k
    for row in bulletin.table:
        for cell in row["cells"].values():
            if row["level"] == 1:
                assert cell["shown"].isdigit()
            else:
                assert cell["shown"] not in ("", "-99")
                if cell["shown"].isdigit():
                    assert int(cell["shown"]) == 0 or int(cell["shown"]) >= k
    hidden = [e for e in bulletin.suppression_log if e["rule"] in ("primary", "complementary")]
    shown_hidden = sum(
        1
        for row in bulletin.table
        for cell in row["cells"].values()
        if cell["shown"] in (f"<{k}", "×")
    )
    assert len(hidden) == shown_hidden


def test_edit_takes_the_approval_back_and_k_is_bounded(drafted, user_for):
    author, bulletin = drafted
    page = reverse("command:bulletin", args=[bulletin.pk])
    second = _command_client(user_for)
    second.post(page, {"action": "approve"})
    response = author.post(page, {"action": "edit", "title": "标题", "body": "正文", "k": "12"})
    assert response.status_code == 400 and "3 到 11" in response.context["error"]
    author.post(page, {"action": "edit", "title": "标题", "body": "新正文", "k": "3"})
    bulletin.refresh_from_db()
    assert bulletin.status == BulletinStatus.DRAFT and bulletin.approved_by is None
    assert bulletin.body == "新正文" and bulletin.k == 3


def test_the_database_refuses_an_author_approving(drafted):
    _author, bulletin = drafted
    with pytest.raises(IntegrityError), transaction.atomic():
        Bulletin.objects.filter(pk=bulletin.pk).update(
            approved_by=bulletin.author, status=BulletinStatus.APPROVED
        )


def test_bad_days_are_refused(sweep, user_for):
    author = _command_client(user_for)
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    for day in (future, "2019-01-01", "nonsense"):
        assert author.post(LIST, {"date": day}).status_code == 400
    assert not Bulletin.objects.exists()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_make_one(sweep, user_for):
    _play(random.Random(3), sweep, days_back=0, count=4, late_hours=(0, 1))
    author = user_for(Role.COMMAND, "D")
    bulletin = bulletins.bulletin_draft(user=author, day=timezone.localdate())
    approvers = [user_for(Role.COMMAND, "D") for _ in range(4)]
    barrier = threading.Barrier(len(approvers))
    outcomes = []

    def approve(user):
        barrier.wait()
        try:
            bulletins.bulletin_approve(user=user, bulletin=Bulletin.objects.get(pk=bulletin.pk))
            outcomes.append("ok")
        except bulletins.BulletinRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(u,)) for u in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
    bulletin.refresh_from_db()
    assert bulletin.approved_by in approvers
