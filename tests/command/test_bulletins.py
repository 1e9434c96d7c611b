"""The public bulletin: drafted, approved by a second command user (never its author), published
without login with JSON and Atom feeds; immutable once published; corrections are new versions."""

import datetime
import json
import threading
import uuid
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doorstep.accounts.models import Role
from doorstep.command import bulletins
from doorstep.command.models import Bulletin, BulletinStatus
from doorstep.registry.models import Household
from doorstep.screening.rules import PersonCheckInput
from doorstep.screening.services import VisitInput, visit_record
from tests.two_factor import verify_session

LIST = reverse("command:bulletins")


def _command_client(user_for):
    user = user_for(Role.COMMAND, "D")
    client = Client()
    client.force_login(user)
    verify_session(client, user)
    client.user = user
    return client


def _screen_everyone(sweep, *, fever_in: tuple[str, ...] = ()):
    """Every household screened a minute ago, everyone at home; one person with a fever in the
    first household of each grid in `fever_in`. The same table whatever the time of day."""
    visited_at = timezone.now() - datetime.timedelta(minutes=1)
    feverish = set()
    for code in fever_in:
        feverish.add(Household.objects.filter(grid__code=code).order_by("pk").first().pk)
    for household in Household.objects.order_by("pk"):
        checks = [
            PersonCheckInput(
                person_id=person.pk,
                temperature=Decimal("38.2")
                if household.pk in feverish and n == 0
                else Decimal("36.5"),
                presence="present",
            )
            for n, person in enumerate(household.persons.order_by("pk"))
        ]
        visit_record(
            user=sweep["commander"],
            campaign=sweep["campaign"],
            visit=VisitInput(
                household_id=household.pk,
                outcome="screened",
                visited_at=visited_at,
                client_uuid=uuid.uuid4(),
                person_checks=checks,
            ),
        )


@pytest.fixture
def drafted(sweep, user_for):
    # a table that can be protected: households screened C1 8, C2 4, C3 4 (S1 12, S2 4, D 16)
    # hide "<5" C2, C3, S2 and "×" S1, C1; persons seen C1 10, C2 5, C3 5 and no flags are shown
    _screen_everyone(sweep)
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


def test_a_table_that_gives_a_small_count_away_is_not_drafted(sweep, user_for):
    # given a day on which each street flagged one person: the district's exact total 2 and two
    # streets of "<5" (each at least 1) say 1 and 1, whatever else is hidden
    _screen_everyone(sweep, fever_in=("G1", "G4"))
    author = _command_client(user_for)
    # when a draft is asked for
    response = author.post(LIST, {"date": timezone.localdate().isoformat(), "k": "5"})
    # then it is refused, naming the figure and the areas, and nothing is stored
    assert response.status_code == 400
    error = response.context["error"]
    assert "不能发布" in error and "需关注人数" in error
    assert "天生街道" in error and "朝阳街道" in error
    assert not Bulletin.objects.exists()
    with pytest.raises(bulletins.BulletinRefused):
        bulletins.bulletin_draft(user=author.user, day=timezone.localdate(), k=5)
    assert not Bulletin.objects.exists()


def test_publish_checks_the_stored_table_once_more(drafted, user_for):
    # given an approved bulletin whose stored table gives a hidden count away (as a table made
    # by the earlier search could: street S2 shown beside a hidden S1 under the exact district)
    author, bulletin = drafted
    page = reverse("command:bulletin", args=[bulletin.pk])
    assert _command_client(user_for).post(page, {"action": "approve"}).status_code == 302
    _areas, figures = bulletins.figures_by_area(bulletin.district, bulletin.day)
    s2 = next(a for a in _areas if a.code == "S2")
    table = bulletin.table
    rows = {r["code"]: r for r in table}
    measure = next(
        m
        for m, _label in bulletins.MEASURES
        if not rows["S1"]["cells"][m]["shown"].isdigit()
        and not rows["S2"]["cells"][m]["shown"].isdigit()
    )
    rows["S2"]["cells"][measure]["shown"] = str(figures[s2.pk][measure])
    Bulletin.objects.filter(pk=bulletin.pk).update(table=table)
    # when it is published
    response = author.post(page, {"action": "publish"})
    # then it is refused with the reason, and stays unpublished
    assert response.status_code == 400 and "不能发布" in response.context["error"]
    assert "天生街道" in response.context["error"]
    bulletin.refresh_from_db()
    assert bulletin.status == BulletinStatus.APPROVED and bulletin.published_at is None
    assert Client().get(reverse("bulletin_public", args=[bulletin.pk])).status_code == 404


def test_a_refused_form_shows_what_was_typed(drafted):
    author, bulletin = drafted
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    # a draft with k out of range: refused, the form keeps the day and the k typed
    response = author.post(LIST, {"date": yesterday, "k": "12"})
    assert response.status_code == 400 and "3 到 11" in response.context["error"]
    text = response.content.decode()
    assert (
        f'name="date" value="{yesterday}"' in text
        and 'name="k" min="3" max="11" value="12"' in text
    )
    # an edit without a title: refused, the text typed is still in the form, nothing changed
    page = reverse("command:bulletin", args=[bulletin.pk])
    before = Bulletin.objects.filter(pk=bulletin.pk).values().get()
    response = author.post(page, {"action": "edit", "title": " ", "body": "改写的正文", "k": "4"})
    assert response.status_code == 400
    text = response.content.decode()
    assert ">改写的正文</textarea>" in text and 'name="k" min="3" max="11" value="4"' in text
    assert Bulletin.objects.filter(pk=bulletin.pk).values().get() == before
    assert Bulletin.objects.count() == 1


def test_bad_days_are_refused(sweep, user_for):
    author = _command_client(user_for)
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    for day in (future, "2019-01-01", "nonsense"):
        assert author.post(LIST, {"date": day}).status_code == 400
    assert not Bulletin.objects.exists()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_make_one(sweep, user_for):
    _screen_everyone(sweep)
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
